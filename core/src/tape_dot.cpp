#include <tapegrad/core/tape_dot.h>

#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include "tape_entries.h"

namespace tg {

namespace {

// Inside a DOT double-quoted string a quote or a backslash needs a backslash;
// a line break becomes DOT's \n.
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::string file_name(const char* path) {
    std::string p = path;
    auto slash = p.find_last_of("/\\");
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string describe(const Shape& shape, DType dtype) { return fmt::format("{} {}", shape, dtype); }

std::string op_label(const detail::Entry& e) {
    const char* within = detail::outer_call(e.op, e.within);
    std::string label = within ? fmt::format("{} ({})", e.op, within) : e.op;
    for (const detail::Output& o : e.outputs) label += fmt::format("\n{} {}", o.shape, o.dtype);
    if (e.site.known()) label += fmt::format("\n{}:{}", file_name(e.site.file), e.site.line);
    return label;
}

std::string op_tooltip(const detail::Entry& e) {
    if (!e.site.known()) return e.op;
    return fmt::format("{} at {}:{} in {}", e.op, e.site.file, e.site.line, e.site.function);
}

// Entries that lead to root, by tape index.
std::vector<char> reachable_from(const Node& root, const std::vector<detail::Entry>& entries) {
    std::vector<char> reachable(root.entry + 1, 0);
    reachable[root.entry] = 1;
    for (std::size_t i = root.entry + 1; i-- > 0;) {
        if (!reachable[i]) continue;
        for (const Tensor& x : entries[i].inputs)
            if (!x.is_leaf() && detail::on_this_tape(x.impl()->node))
                reachable[x.impl()->node.entry] = 1;
    }
    return reachable;
}

class DotWriter {
public:
    DotWriter(std::ostream& out, const NamedTensors& names) : out_(out), names_(names) {}

    void graph(const Tensor& output) {
        out_ << "digraph tape {\n"
             << "  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
        if (output.is_leaf()) {
            leaf(output, /*always=*/true);
        } else {
            const auto& entries = detail::this_thread_entries();
            const Node& root = output.impl()->node;
            std::vector<char> reachable = reachable_from(root, entries);
            for (std::size_t i = 0; i < reachable.size(); ++i)
                if (reachable[i]) entry(i, entries[i], i == root.entry);
        }
        out_ << "}\n";
    }

private:
    void entry(std::size_t i, const detail::Entry& e, bool is_output) {
        std::string id = fmt::format("op{}", i);
        out_ << "  " << id << " [label=" << quoted(op_label(e))
             << ", tooltip=" << quoted(op_tooltip(e)) << (is_output ? ", peripheries=2" : "")
             << "];\n";
        for (const Tensor& x : e.inputs) {
            if (x.is_leaf()) {
                std::string from = leaf(x, /*always=*/false);
                if (!from.empty()) out_ << "  " << from << " -> " << id << ";\n";
                continue;
            }
            const Node& n = x.impl()->node;
            if (!detail::on_this_tape(n)) continue;
            out_ << "  op" << n.entry << " -> " << id;
            if (detail::this_thread_entries()[n.entry].outputs.size() > 1)
                out_ << " [label=" << quoted(fmt::format("{}", n.slot)) << "]";
            out_ << ";\n";
        }
    }

    // The node id of leaf x, declared on first sight; empty when x is not
    // drawn (a constant nobody named).
    std::string leaf(const Tensor& x, bool always) {
        const TensorImpl* key = x.impl().get();
        if (auto it = leaves_.find(key); it != leaves_.end()) return it->second;
        const std::string* name = nullptr;
        for (const auto& [n, t] : names_)
            if (t.defined() && t.impl().get() == key) name = &n;
        if (!name && !x.requires_grad() && !always) return {};
        std::string id = fmt::format("leaf{}", leaves_.size());
        leaves_.emplace(key, id);
        std::string label = describe(x.shape(), x.dtype());
        if (name) label = fmt::format("{}\n{}", *name, label);
        out_ << "  " << id << " [label=" << quoted(label) << ", shape=ellipse"
             << (x.requires_grad() ? ", style=filled, fillcolor=\"#dbe9f6\"" : ", style=dashed")
             << "];\n";
        return id;
    }

    std::ostream& out_;
    const NamedTensors& names_;
    std::map<const TensorImpl*, std::string> leaves_;
};

}  // namespace

void tape_dot(const Tensor& output, std::ostream& out, const NamedTensors& names) {
    if (!output.defined()) throw ValueError("tape_dot: the output is an undefined tensor");
    if (!output.is_leaf() && !detail::on_this_tape(output.impl()->node))
        throw Error(
            fmt::format("tape_dot: the output of shape {} comes from a graph that backward() "
                        "already consumed (or from another thread); draw it before backward(), "
                        "or pass retain_graph=true to backward()",
                        output.shape()));
    DotWriter(out, names).graph(output);
}

std::string tape_dot(const Tensor& output, const NamedTensors& names) {
    std::ostringstream out;
    tape_dot(output, out, names);
    return out.str();
}

void save_tape_dot(const std::string& path, const Tensor& output, const NamedTensors& names) {
    std::string dot = tape_dot(output, names);
    std::ofstream file(path);
    file << dot;
    file.flush();
    if (!file) throw Error(fmt::format("save_tape_dot: cannot write '{}'", path));
}

}  // namespace tg
