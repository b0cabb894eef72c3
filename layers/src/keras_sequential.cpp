#include <tapegrad/core/error.h>
#include <tapegrad/layers/keras.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace tg::keras {

namespace {

// Keras prints shapes as Python tuples with the batch as None: (None, 10, 5).
std::string keras_shape(const Shape& shape) {
    std::string out = "(None";
    for (std::int64_t d : shape) out += fmt::format(", {}", d);
    return out + ")";
}

// Python's f"{n:,}": thousands separated by commas.
std::string with_commas(std::int64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

// Keras 2's print_row (keras/utils/layer_utils.py, TF 2.8 - 2.11): each
// column starts at the previous position, keeps 2 spaces before the next
// one, and text that does not fit wraps onto further lines (preferably
// right after "),", "},", "]," or "',").
std::string keras_row(std::vector<std::string> fields, const std::vector<std::size_t>& positions) {
    std::string out;
    auto pending = [&] {
        return std::any_of(fields.begin(), fields.end(), [](const auto& f) { return !f.empty(); });
    };
    while (pending()) {
        std::string line;
        for (std::size_t col = 0; col < fields.size(); ++col) {
            std::size_t start = col > 0 ? positions[col - 1] : 0, end = positions[col];
            std::size_t space = col + 1 != positions.size() ? 2 : 0;
            std::size_t cutoff = end - start - space;
            std::string fit = fields[col].substr(0, cutoff);
            std::size_t best = std::string::npos;
            for (const char* mark : {"),", "},", "],", "',"})
                if (std::size_t at = fit.find(mark); at != std::string::npos)
                    best = std::min(best, at + 2);
            if (best != std::string::npos) {
                cutoff = best;
                fit = fit.substr(0, cutoff);
            }
            if (col == 0) line += ' ';
            line += fit + std::string(space, ' ');
            fields[col] = fields[col].substr(std::min(cutoff, fields[col].size()));
            if (line.size() < end) line += std::string(end - line.size(), ' ');
        }
        out += line + '\n';
    }
    return out;
}

}  // namespace

Sequential::Sequential(std::initializer_list<LayerArg> layers, Shape input_shape)
    : input_shape_(std::move(input_shape)) {
    if (input_shape_.rank() == 0)
        throw ShapeError(
            "keras::Sequential: input_shape must not be empty (it excludes the batch)");
    for (std::int64_t d : input_shape_)
        if (d <= 0)
            throw ShapeError(
                fmt::format("keras::Sequential: input_shape {} must be positive", input_shape_));
    std::map<std::string, int> seen;  // layers per base name, for Keras's names
    Shape shape = input_shape_;
    for (const LayerArg& arg : layers) {
        const Layer& given = *arg.layer;
        if (given.built())
            throw ValueError(
                fmt::format("keras::Sequential: pass unbuilt layers; the {} given "
                            "is already built",
                            given.type()));
        if (auto* r = dynamic_cast<const Recurrent*>(&given); r && r->options.return_state)
            throw ValueError(
                fmt::format("keras::Sequential: {} with return_state has several "
                            "outputs; Sequential needs one per layer",
                            given.type()));
        std::unique_ptr<Layer> layer = given.clone_config();
        Shape out = layer->output_shape(shape);  // checks the rank before building
        layer->build(shape);
        int& count = seen[layer->base_name()];
        names_.push_back(count == 0 ? layer->base_name()
                                    : fmt::format("{}_{}", layer->base_name(), count));
        ++count;
        register_module(std::to_string(layers_.size()), *layer);
        output_shapes_.push_back(out);
        layers_.push_back(std::move(layer));
        shape = out;
    }
}

Tensor Sequential::forward(const Tensor& x, CallSite site) const {
    CallSiteScope scope("keras::Sequential", site);
    if (!x.defined()) throw ValueError("keras::Sequential: the input is an undefined tensor");
    bool fits = x.dim() == input_shape_.rank() + 1 &&
                std::equal(input_shape_.begin(), input_shape_.end(), x.shape().begin() + 1);
    if (!fits)
        throw ShapeError(
            fmt::format("keras::Sequential: input {} does not match [batch] + "
                        "input_shape {}",
                        x.shape(), input_shape_));
    Tensor y = x;
    for (const auto& layer : layers_) y = layer->forward(y);
    return y;
}

// TF 2.11's model.summary() for a sequential model: line length 65, columns
// at 45% and 85% of it (29 and 55), a blank line after every layer.
std::string Sequential::summary_text() const {
    const std::size_t width = 65;
    const std::vector<std::size_t> positions = {29, 55, 65};
    std::string out = fmt::format("Model: \"{}\"\n", name);
    out += std::string(width, '_') + '\n';
    out += keras_row({"Layer (type)", "Output Shape", "Param #"}, positions);
    out += std::string(width, '=') + '\n';
    std::int64_t total = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        std::int64_t count = layers_[i]->num_parameters();
        total += count;
        out += keras_row({fmt::format("{} ({})", names_[i], layers_[i]->type()),
                          keras_shape(output_shapes_[i]), std::to_string(count)},
                         positions);
        out += std::string(width, ' ') + '\n';
    }
    out += std::string(width, '=') + '\n';
    out += fmt::format("Total params: {}\n", with_commas(total));
    out += fmt::format("Trainable params: {}\n", with_commas(total));
    out += "Non-trainable params: 0\n";
    out += std::string(width, '_') + '\n';
    return out;
}

void Sequential::summary() const { std::fputs(summary_text().c_str(), stdout); }

}  // namespace tg::keras
