#pragma once

// A small SVG writer for the examples' figures: line charts with axes, tick
// labels, grid, title and legend, several panels side by side. Plain SVG 1.1
// that browsers, GitHub and rsvg-convert show alike.
//
//     svg_plot::Figure figure{.title = "Training"};
//     figure.panels.push_back({.title = "loss", .x = {.label = "step"},
//                              .y = {.label = "MSE", .log = true},
//                              .series = {{.label = "train", .x = steps, .y = losses}}});
//     svg_plot::save(figure, "loss.svg");

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace svg_plot {

struct Series {
    std::string label{};           // empty: not in the legend
    std::vector<double> x{}, y{};  // a non-finite y (or y <= 0 on a log axis) breaks the line
    std::string color = "#1f77b4";
    double width = 2.0;
    std::string dash{};  // an SVG stroke-dasharray such as "6 4"; empty for solid
    bool markers = false;
};

struct Axis {
    std::string label{};
    bool log = false;  // base 10
    std::optional<double> min{}, max{};
    // Tick labels count in units of `unit`, named unit_name: 3π with unit = pi.
    double unit = 1.0;
    std::string unit_name{};
};

// Where the legend goes inside the plot: a box in a corner, one entry per
// line, or a single row of entries centred along the top.
enum class Legend { top_left, top_right, bottom_left, bottom_right, top_row };

struct Panel {
    std::string title{};
    Axis x{}, y{};
    std::vector<Series> series{};
    Legend legend = Legend::top_right;
};

struct Figure {
    std::string title{};
    std::vector<Panel> panels{};  // laid out left to right
    int panel_width = 470, panel_height = 340;
};

namespace detail {

inline constexpr const char* font = "DejaVu Sans, Helvetica, Arial, sans-serif";

inline std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '&')
            out += "&amp;";
        else if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else
            out += c;
    }
    return out;
}

// Rough width of text in the figure's sans-serif font, for laying out boxes.
inline double text_width(const std::string& text, double size) {
    std::size_t glyphs = 0;
    for (unsigned char c : text) glyphs += (c & 0xC0) != 0x80;  // count UTF-8 code points
    return static_cast<double>(glyphs) * size * 0.58;
}

inline bool drawable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

struct Tick {
    double value;  // in data coordinates
    std::string label;
    bool major = true;
};

// Maps an axis's data range onto pixels, after choosing limits and ticks.
class Scale {
public:
    Scale(const Axis& axis, const std::vector<const std::vector<double>*>& data, double from,
          double to)
        : axis_(axis), from_(from), to_(to) {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const auto* values : data)
            for (double v : *values)
                if (drawable(v, axis.log)) lo = std::min(lo, v), hi = std::max(hi, v);
        if (!(lo <= hi)) lo = axis.log ? 0.1 : 0.0, hi = 1.0;  // nothing to draw
        lo = to_axis(lo), hi = to_axis(hi);
        if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
        double margin = 0.04 * (hi - lo);
        lo_ = axis.min ? to_axis(*axis.min) : lo - margin;
        hi_ = axis.max ? to_axis(*axis.max) : hi + margin;
    }

    double operator()(double v) const {
        return from_ + (to_axis(v) - lo_) / (hi_ - lo_) * (to_ - from_);
    }
    bool inside(double v) const {
        double a = to_axis(v);
        return a >= lo_ - 1e-9 * (hi_ - lo_) && a <= hi_ + 1e-9 * (hi_ - lo_);
    }

    std::vector<Tick> ticks() const { return axis_.log ? log_ticks() : linear_ticks(); }

private:
    double to_axis(double v) const { return axis_.log ? std::log10(v) : v; }

    // 1, 2 or 5 times a power of ten, close to span / 5.
    static double nice_step(double span) {
        double raw = span / 5, power = std::pow(10.0, std::floor(std::log10(raw)));
        for (double m : {1.0, 2.0, 5.0})
            if (m * power >= raw * 0.75) return m * power;
        return 10 * power;
    }

    std::vector<Tick> linear_ticks() const {
        double lo = lo_ / axis_.unit, hi = hi_ / axis_.unit, step = nice_step(hi - lo);
        int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
        std::vector<Tick> out;
        for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) {
            double shown = std::abs(v) < 1e-9 * step ? 0.0 : v;
            std::string label = fmt::format("{:.{}f}", shown, decimals);
            if (!axis_.unit_name.empty()) {
                // 2.5π beside 3π, not 3.0π: multiples of a unit read as such.
                if (label.find('.') != std::string::npos) {
                    label.erase(label.find_last_not_of('0') + 1);
                    if (label.back() == '.') label.pop_back();
                }
                if (label == "1") label.clear();
                if (label == "-1") label = "-";
                if (label != "0") label += axis_.unit_name;
            }
            out.push_back({shown * axis_.unit, label});
        }
        return out;
    }

    // Every decade is labelled; when fewer than three show, 2x and 5x are too.
    // The other integer multiples get unlabelled minor ticks.
    std::vector<Tick> log_ticks() const {
        int first = static_cast<int>(std::floor(lo_)), last = static_cast<int>(std::ceil(hi_));
        bool few = std::floor(hi_ + 1e-9) - std::ceil(lo_ - 1e-9) < 2;
        std::vector<Tick> out;
        for (int e = first; e <= last; ++e)
            for (int m = 1; m <= 9; ++m) {
                double v = m * std::pow(10.0, e), a = std::log10(v);
                if (a < lo_ - 1e-9 || a > hi_ + 1e-9) continue;
                bool labelled = m == 1 || (few && (m == 2 || m == 5));
                out.push_back({v, labelled ? fmt::format("{:g}", v) : "", labelled});
            }
        return out;
    }

    Axis axis_;
    double from_, to_, lo_, hi_;
};

inline void legend(std::string& svg, const Panel& p, double left, double top, double right,
                   double bottom);

inline void panel(std::string& svg, const Panel& p, int index, double left, double top,
                  double width, double height) {
    const double plot_left = left + 66, plot_right = left + width - 18;
    const double plot_top = top + 34, plot_bottom = top + height - 52;
    std::vector<const std::vector<double>*> xs, ys;
    for (const Series& s : p.series) xs.push_back(&s.x), ys.push_back(&s.y);
    Scale sx(p.x, xs, plot_left, plot_right), sy(p.y, ys, plot_bottom, plot_top);

    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"14\" "
        "font-weight=\"bold\" fill=\"#222\">{}</text>\n",
        (plot_left + plot_right) / 2, top + 20, escape(p.title));
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#fcfcfc\"/>\n",
        plot_left, plot_top, plot_right - plot_left, plot_bottom - plot_top);

    for (const Tick& t : sx.ticks()) {
        double x = sx(t.value);
        if (t.major)
            svg += fmt::format(
                "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
                "stroke=\"#e6e6e6\"/>\n",
                x, plot_top, plot_bottom);
        svg += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#444\"/>\n",
            x, plot_bottom, plot_bottom + (t.major ? 5 : 3));
        if (!t.label.empty())
            svg += fmt::format(
                "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"12\" "
                "fill=\"#333\">{}</text>\n",
                x, plot_bottom + 19, escape(t.label));
    }
    for (const Tick& t : sy.ticks()) {
        double y = sy(t.value);
        if (t.major)
            svg += fmt::format(
                "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" "
                "stroke=\"#e6e6e6\"/>\n",
                plot_left, y, plot_right);
        svg += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#444\"/>\n",
            plot_left - (t.major ? 5 : 3), y, plot_left);
        if (!t.label.empty())
            svg += fmt::format(
                "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"12\" "
                "fill=\"#333\">{}</text>\n",
                plot_left - 8, y + 4, escape(t.label));
    }
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"13\" "
        "fill=\"#222\">{}</text>\n",
        (plot_left + plot_right) / 2, plot_bottom + 40, escape(p.x.label));
    double label_x = left + 16, label_y = (plot_top + plot_bottom) / 2;
    svg += fmt::format(
        "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222\" "
        "transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
        label_x, label_y, escape(p.y.label));

    svg += fmt::format(
        "<clipPath id=\"plot{}\"><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
        "height=\"{:.1f}\"/></clipPath>\n<g clip-path=\"url(#plot{})\">\n",
        index, plot_left, plot_top, plot_right - plot_left, plot_bottom - plot_top, index);
    for (const Series& s : p.series) {
        std::string path, dots;
        bool pen_down = false;
        for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
            if (!drawable(s.x[i], p.x.log) || !drawable(s.y[i], p.y.log)) {
                pen_down = false;
                continue;
            }
            double x = sx(s.x[i]), y = sy(s.y[i]);
            path += fmt::format("{}{:.2f},{:.2f}", pen_down ? " L" : " M", x, y);
            pen_down = true;
            if (s.markers)
                dots += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{:.1f}\"/>", x, y,
                                    s.width + 0.8);
        }
        if (!path.empty())
            svg += fmt::format(
                "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" "
                "stroke-linejoin=\"round\" stroke-linecap=\"round\"{}/>\n",
                path.substr(1), s.color, s.width,
                s.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", s.dash));
        if (!dots.empty()) svg += fmt::format("<g fill=\"{}\">{}</g>\n", s.color, dots);
    }
    svg += "</g>\n";
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
        "stroke=\"#444\"/>\n",
        plot_left, plot_top, plot_right - plot_left, plot_bottom - plot_top);

    legend(svg, p, plot_left, plot_top, plot_right, plot_bottom);
}

inline void legend(std::string& svg, const Panel& p, double left, double top, double right,
                   double bottom) {
    std::vector<const Series*> entries;
    for (const Series& s : p.series)
        if (!s.label.empty()) entries.push_back(&s);
    if (entries.empty()) return;
    // Each entry: a 26px sample of the line, a gap, the label.
    const double sample = 26, line_height = 19, pad = 8;
    std::vector<double> widths;
    for (const Series* s : entries) widths.push_back(sample + 6 + text_width(s->label, 12));
    const bool row = p.legend == Legend::top_row;
    double width = 0, height = 0;
    if (row) {
        for (double w : widths) width += w + 16;
        width += 2 * pad - 16, height = line_height + 6;
    } else {
        width = *std::max_element(widths.begin(), widths.end()) + 2 * pad;
        height = line_height * static_cast<double>(entries.size()) + 6;
    }
    bool at_left = p.legend == Legend::top_left || p.legend == Legend::bottom_left;
    bool at_bottom = p.legend == Legend::bottom_left || p.legend == Legend::bottom_right;
    double x = row ? (left + right - width) / 2 : at_left ? left + 8 : right - 8 - width;
    double y = at_bottom ? bottom - 8 - height : top + 8;
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"3\" "
        "fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n",
        x, y, width, height);
    double ex = x + pad, ey = y + 3 + line_height / 2;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const Series& s = *entries[i];
        svg += fmt::format(
            "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
            "stroke-width=\"{}\"{}/>\n",
            ex, ey, ex + sample, ey, s.color, s.width,
            s.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", s.dash));
        if (s.markers)
            svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\" fill=\"{}\"/>\n",
                               ex + sample / 2, ey, s.width + 0.8, s.color);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" fill=\"#222\">{}</text>\n",
            ex + sample + 6, ey + 4, escape(s.label));
        if (row)
            ex += widths[i] + 16;
        else
            ey += line_height;
    }
}

}  // namespace detail

inline std::string render(const Figure& figure) {
    const double title_height = figure.title.empty() ? 0 : 36;
    const double width = figure.panel_width * std::max<std::size_t>(1, figure.panels.size());
    const double height = title_height + figure.panel_height;
    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"{2}\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        width, height, detail::font);
    if (!figure.title.empty())
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" "
            "font-weight=\"bold\" fill=\"#111\">{}</text>\n",
            width / 2, detail::escape(figure.title));
    for (std::size_t i = 0; i < figure.panels.size(); ++i)
        detail::panel(svg, figure.panels[i], static_cast<int>(i),
                      static_cast<double>(i) * figure.panel_width, title_height, figure.panel_width,
                      figure.panel_height);
    return svg + "</svg>\n";
}

// Throws std::runtime_error naming the path when the file cannot be written.
inline void save(const Figure& figure, const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    out << render(figure);
    out.close();
    if (!out) throw std::runtime_error(fmt::format("cannot write the plot to '{}'", path));
}

}  // namespace svg_plot
