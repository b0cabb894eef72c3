#include <doctest/doctest.h>
#include <tapegrad/core/tape_dot.h>
#include <tapegrad/tapegrad.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

using namespace tg;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Node statements ("  op3 [label=...") whose id starts with prefix ("op", "leaf").
std::size_t count_nodes(const std::string& dot, const std::string& prefix) {
    std::size_t n = 0;
    for (const std::string& line : lines_of(dot))
        if (line.rfind("  " + prefix, 0) == 0 && line.find(" [label=") != std::string::npos &&
            line.find(" -> ") == std::string::npos)
            ++n;
    return n;
}

// The id of the node whose label starts with `label` ("op3" for "mul"), or "".
std::string node_with(const std::string& dot, const std::string& label) {
    for (const std::string& line : lines_of(dot)) {
        auto at = line.find(" [label=\"" + label);
        if (line.rfind("  ", 0) == 0 && at != std::string::npos) return line.substr(2, at - 2);
    }
    return "";
}

bool has_edge(const std::string& dot, const std::string& from, const std::string& to) {
    return dot.find("  " + from + " -> " + to + ";") != std::string::npos ||
           dot.find("  " + from + " -> " + to + " [") != std::string::npos;
}

// DOT's lexical rules as far as tape_dot uses them: strings close, escapes
// are \" \\ or \n, and braces and brackets balance outside strings.
bool well_formed(const std::string& dot) {
    int braces = 0, brackets = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < dot.size(); ++i) {
        char c = dot[i];
        if (in_string) {
            if (c == '\n') return false;
            if (c == '\\') {
                if (i + 1 == dot.size() ||
                    std::string("\"\\n").find(dot[i + 1]) == std::string::npos)
                    return false;
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') in_string = true;
        braces += c == '{' ? 1 : c == '}' ? -1 : 0;
        brackets += c == '[' ? 1 : c == ']' ? -1 : 0;
        if (braces < 0 || brackets < 0) return false;
    }
    return !in_string && braces == 0 && brackets == 0;
}

}  // namespace

TEST_CASE("tape_dot draws the ops and leaves that lead to the output, with names and call sites") {
    Tensor w = Tensor::from({0.5, -1.0, 2.0}).requires_grad_();
    Tensor b = Tensor::from({0.1, 0.2, 0.3}).requires_grad_();
    Tensor x = Tensor::from({1.0, 2.0, 3.0});  // a constant nobody named: not drawn
    Tensor unrelated = exp(w);                 // recorded, but not on the way to loss
    const int line = __LINE__ + 1;
    Tensor loss = sum(tanh(x * w + b));
    const std::size_t recorded = tape_size();

    std::string dot = tape_dot(loss, {{"w", w}});
    CAPTURE(dot);
    CHECK(dot.rfind("digraph tape {\n", 0) == 0);
    CHECK(count_nodes(dot, "op") == 4);  // mul, add, tanh, sum
    CHECK(count_nodes(dot, "leaf") == 2);
    CHECK(count(dot, " -> ") == 5);
    CHECK(dot.find("exp") == std::string::npos);

    std::string mul = node_with(dot, "mul"), add = node_with(dot, "add");
    std::string tanh_op = node_with(dot, "tanh"), sum_op = node_with(dot, "sum");
    std::string leaf_w = node_with(dot, "w\\n[3] float32");
    std::string leaf_b = node_with(dot, "[3] float32\"");
    REQUIRE(!mul.empty());
    REQUIRE(!leaf_w.empty());
    REQUIRE(!leaf_b.empty());
    CHECK(has_edge(dot, leaf_w, mul));
    CHECK(has_edge(dot, mul, add));
    CHECK(has_edge(dot, leaf_b, add));
    CHECK(has_edge(dot, add, tanh_op));
    CHECK(has_edge(dot, tanh_op, sum_op));
    CHECK(count(dot, "peripheries=2") == 1);
    CHECK(dot.find(sum_op + " [label=\"sum\\n[] float32\\ntape_dot_test.cpp:" +
                   std::to_string(line) + "\"") != std::string::npos);
    CHECK(well_formed(dot));
    std::string with_x = tape_dot(loss, {{"w", w}, {"x", x}});
    CHECK(with_x.find("[label=\"x\\n[3] float32\", shape=ellipse, style=dashed]") !=
          std::string::npos);
    CHECK(count(with_x, " -> ") == 6);

    // Drawing consumed nothing: backward still runs over the same tape.
    CHECK(tape_size() == recorded);
    loss.backward();
    CHECK(w.grad().defined());
    clear_tape();
    (void)unrelated;
}

TEST_CASE("labels are escaped, ops inside composites name them, multi-output edges their slot") {
    Tensor a = ones({4, 2}).requires_grad_();
    std::vector<Tensor> parts = split(a, 2);
    Tensor loss = mse_loss(parts[0] * parts[1], zeros({2, 2}));
    std::string dot = tape_dot(loss, {{"odd \"name\" \\ here", a}});
    CAPTURE(dot);
    CHECK(dot.find("label=\"odd \\\"name\\\" \\\\ here\\n[4, 2] float32\"") != std::string::npos);
    CHECK(dot.find("label=\"sub (mse_loss)\\n[2, 2] float32") != std::string::npos);
    CHECK(dot.find(" [label=\"0\"];") != std::string::npos);
    CHECK(dot.find(" [label=\"1\"];") != std::string::npos);
    CHECK(dot.find("label=\"split\\n[2, 2] float32\\n[2, 2] float32") != std::string::npos);
    CHECK(well_formed(dot));
    clear_tape();
}

TEST_CASE("ops a layer records are labelled with the line that called the layer") {
    Linear layer({.in_features = 3, .out_features = 2});
    LSTM lstm({.input_size = 2, .hidden_size = 2});
    const int line = __LINE__ + 1;
    Tensor y = layer(ones({4, 1, 3}));
    Tensor loss = sum(lstm(y).output);
    std::string dot = tape_dot(loss);
    CAPTURE(dot);
    CHECK(dot.find("[label=\"linear\\n[4, 1, 2] float32\\ntape_dot_test.cpp:" +
                   std::to_string(line) + "\"") != std::string::npos);
    CHECK(dot.find("[label=\"lstm_sequence (LSTM)\\n") != std::string::npos);
    CHECK(dot.find("tape_dot_test.cpp:" + std::to_string(line + 1)) != std::string::npos);
    CHECK(dot.find("linear.cpp") == std::string::npos);
    CHECK(dot.find("rnn.cpp") == std::string::npos);
    CHECK(well_formed(dot));
    clear_tape();
}

TEST_CASE("a leaf output is one node; a consumed graph is an Error; undefined a ValueError") {
    Tensor w = ones({2}).requires_grad_();
    std::string dot = tape_dot(w, {{"w", w}});
    CHECK(count(dot, "[label=") == 1);
    CHECK(dot.find("label=\"w\\n[2] float32\"") != std::string::npos);

    Tensor loss = sum(w * 2.0);
    loss.backward();
    CHECK_THROWS_WITH_AS(tape_dot(loss), doctest::Contains("already consumed"), Error);
    CHECK_THROWS_AS(tape_dot(Tensor()), ValueError);
}

TEST_CASE("save_tape_dot writes a file that Graphviz accepts, when Graphviz is installed") {
    Tensor w = Tensor::from({1.0, 2.0}).requires_grad_();
    Tensor loss = sum(sigmoid(w) * w);
    auto path = std::filesystem::temp_directory_path() /
                ("tapegrad_tape_dot_" + std::to_string(::getpid()) + ".dot");
    save_tape_dot(path.string(), loss, {{"w", w}});
    CHECK(std::filesystem::file_size(path) == tape_dot(loss, {{"w", w}}).size());
    clear_tape();
    if (std::system("command -v dot > /dev/null 2>&1") != 0) {
        MESSAGE("SKIPPED: Graphviz 'dot' is not installed; its syntax check did not run");
    } else {
        std::string command = "dot -Tsvg '" + path.string() + "' -o /dev/null";
        CHECK(std::system(command.c_str()) == 0);
    }
    std::filesystem::remove(path);
    CHECK_THROWS_AS(save_tape_dot("/nonexistent/dir/graph.dot", w), Error);
}
