#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg {

// Tensors with names for the graph, e.g. a module's named_parameters().
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The graph this thread's tape recorded on the way to `output`, as Graphviz
// DOT: one box per tape entry (op, output shapes and dtypes, the user's call
// site when known), one ellipse per leaf that requires grad or is named in
// `names` (the name, shape and dtype), an edge from each input to the op
// that read it; the output's op has a double border. Only reads the tape, so
// backward() still works afterwards. A graph that backward() already
// consumed is an Error, as in backward().
void tape_dot(const Tensor& output, std::ostream& out, const NamedTensors& names = {});
std::string tape_dot(const Tensor& output, const NamedTensors& names = {});
// Writes the graph to path; render it with `dot -Tsvg path -o graph.svg`.
void save_tape_dot(const std::string& path, const Tensor& output, const NamedTensors& names = {});

}  // namespace tg
