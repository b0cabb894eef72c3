#pragma once

// The picture of a sine_to_cosine run: on the left the last chunks of the
// curve, target cos(t) against the model's prediction (and the input sin(t));
// on the right the loss at every step on a log scale, optionally beside a
// reference curve such as PyTorch's from the same initial weights.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "../common/svg_plot.h"
#include "sine_to_cosine.h"

namespace sine_to_cosine {

struct Reference {
    std::string label{};  // "PyTorch"
    std::vector<double> losses{};
};

inline svg_plot::Figure figure(const std::vector<Step>& steps, const std::string& title,
                               const Reference& reference = {}, std::size_t last_chunks = 5) {
    const double gap = std::numeric_limits<double>::quiet_NaN();  // breaks a line between chunks
    svg_plot::Series input{
        .label = "input sin(t)", .color = "#b0b0b0", .width = 1.5, .dash = "5 4"};
    svg_plot::Series target{.label = "target cos(t)", .color = "#222222", .width = 1.5};
    svg_plot::Series prediction{
        .label = "prediction", .color = "#e6550d", .width = 2.0, .markers = true};
    std::size_t first = steps.size() - std::min(last_chunks, steps.size());
    for (std::size_t i = first; i < steps.size(); ++i) {
        const Step& s = steps[i];
        for (std::size_t j = 0; j < s.t.size(); ++j) {
            input.x.push_back(s.t[j]), input.y.push_back(std::sin(s.t[j]));
            target.x.push_back(s.t[j]), target.y.push_back(s.target[j]);
            prediction.x.push_back(s.t[j]), prediction.y.push_back(s.prediction[j]);
        }
        prediction.x.push_back(s.t.back()), prediction.y.push_back(gap);
    }
    std::string chunks = steps.size() - first == 1
                             ? fmt::format("step {}", steps.back().step)
                             : fmt::format("steps {}-{}", steps[first].step, steps.back().step);
    svg_plot::Panel curve{
        .title = fmt::format("Last {} chunks ({})", steps.size() - first, chunks),
        .x = {.label = "t", .unit = std::numbers::pi, .unit_name = "π"},
        .y = {.label = "value", .min = -1.3, .max = 1.6},
        .series = {input, target, prediction},
        .legend = svg_plot::Legend::top_row,
    };

    svg_plot::Panel loss{
        .title = "Loss per step",
        .x = {.label = "step"},
        .y = {.label = "MSE loss (log scale)", .log = true},
        .legend = svg_plot::Legend::bottom_left,
    };
    svg_plot::Series ours{.label = "tapegrad", .color = "#1f77b4", .width = 2.0};
    for (const Step& s : steps) ours.x.push_back(s.step), ours.y.push_back(s.loss);
    loss.series.push_back(ours);
    if (!reference.losses.empty()) {
        svg_plot::Series theirs{
            .label = reference.label, .color = "#ff7f0e", .width = 2.0, .dash = "6 5"};
        for (std::size_t i = 0; i < reference.losses.size(); ++i)
            theirs.x.push_back(static_cast<double>(i)), theirs.y.push_back(reference.losses[i]);
        loss.series.push_back(theirs);
    }
    return {.title = title, .panels = {curve, loss}};
}

}  // namespace sine_to_cosine
