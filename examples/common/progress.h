#pragma once

// A status line for training loops: on a terminal it is rewritten in place
// (carriage return, padded over the previous text), at most every 50 ms so
// fast loops do not spend their time printing; into a file or a pipe every
// update is a line of its own, so logs stay complete.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace examples {

inline bool stdout_is_terminal() { return ::isatty(::fileno(stdout)) == 1; }

class ProgressLine {
public:
    explicit ProgressLine(bool live = stdout_is_terminal()) : live_(live) {}
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    ~ProgressLine() { finish(); }

    void update(const std::string& text) {
        if (!live_) {
            fmt::print("{}\n", text);
            return;
        }
        auto now = std::chrono::steady_clock::now();
        if (shown_ > 0 && now - last_draw_ < std::chrono::milliseconds(50)) {
            pending_ = text;
            return;
        }
        draw(text);
        last_draw_ = now;
    }

    // Shows the latest text and ends the live line, so later output starts
    // on a fresh one.
    void finish() {
        if (!pending_.empty()) draw(pending_);
        if (live_ && shown_ > 0) fmt::print("\n");
        shown_ = 0;
    }

    bool live() const { return live_; }

private:
    void draw(const std::string& text) {
        // Spaces clear what a longer previous text left behind.
        std::size_t pad = shown_ > text.size() ? shown_ - text.size() : 0;
        fmt::print("\r{}{}", text, std::string(pad, ' '));
        std::fflush(stdout);
        shown_ = text.size();
        pending_.clear();
    }

    bool live_;
    std::size_t shown_ = 0;
    std::string pending_;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace examples
