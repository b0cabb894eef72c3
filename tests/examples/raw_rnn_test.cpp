#include <doctest/doctest.h>

#include <cstdlib>

#include "../../examples/raw_rnn/raw_rnn.h"

namespace {
tg::SafetensorsFile golden() {
    return tg::load_safetensors(std::string(std::getenv("TAPEGRAD_SOURCE_DIR")) +
                                "/tests/data/raw_rnn.safetensors");
}
}  // namespace

TEST_CASE("the ops-only recurrence matches torch.nn.RNN within 1e-6") {
    auto file = golden().tensors;
    tg::Tensor h = raw_rnn::forward(file.at("input"), raw_rnn::weights_from(file));
    CHECK(h.shape() == file.at("output").shape());
    CHECK(raw_rnn::max_abs_diff(h, file.at("output")) < 1e-6);
    // h_n of torch.nn.RNN is the last time step.
    tg::Tensor last = tg::select(h, 1, -1);
    CHECK(raw_rnn::max_abs_diff(last, file.at("h_n")[0]) < 1e-6);
    tg::clear_tape();
}

TEST_CASE("gradient descent on the relu variant follows PyTorch's losses") {
    auto g = golden();
    auto& file = g.tensors;
    auto losses =
        raw_rnn::train_relu(file.at("input"), file.at("target"), raw_rnn::weights_from(file),
                            std::stod(g.metadata.at("lr")), std::stoi(g.metadata.at("steps")));
    auto expected = file.at("relu_losses").to_vector<double>();
    REQUIRE(losses.size() == expected.size());
    for (std::size_t i = 0; i < losses.size(); ++i)
        CHECK(losses[i] == doctest::Approx(expected[i]).epsilon(1e-5));
    CHECK(losses.back() < losses.front());
}
