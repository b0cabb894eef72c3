#pragma once

namespace tg {

// A place in the source: ops take one as their last parameter, defaulted to
// CallSite::current(), so the default captures the caller's file and line
// and anomaly reports and tape graphs can point at the user's code.
// std::source_location would do, but clang 14 with libstdc++ 12 lacks it;
// these builtins behave the same in g++ and clang, also when current() is
// itself the default argument of an op (the op's caller is reported).
struct CallSite {
    const char* file = nullptr;  // nullptr: unknown
    const char* function = "";
    unsigned line = 0;

    static constexpr CallSite current(const char* file = __builtin_FILE(),
                                      const char* function = __builtin_FUNCTION(),
                                      unsigned line = __builtin_LINE()) noexcept {
        return {file, function, line};
    }
    bool known() const { return file != nullptr; }
};

// While alive, every op this thread records reports `site` instead of its
// own call site, and names `within` (a string literal: "mse_loss", "LSTM")
// as the call it was part of. A composite op or a layer opens one with its
// caller's site, so the ops inside it point at the user's line. Nested
// scopes keep the outermost: that is the call the user wrote.
class CallSiteScope {
public:
    CallSiteScope(const char* within, CallSite site) noexcept;
    ~CallSiteScope();
    CallSiteScope(const CallSiteScope&) = delete;
    CallSiteScope& operator=(const CallSiteScope&) = delete;

private:
    bool outermost_;
};

}  // namespace tg
