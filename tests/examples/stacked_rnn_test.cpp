#include <doctest/doctest.h>

#include <filesystem>

#include "../../examples/stacked_rnn/stacked_rnn.h"

TEST_CASE("the stacked model's summary is Keras's: 70, 27 and 40 parameters, 137 in all") {
    tg::keras::Sequential model = stacked_rnn::make_model();
    std::string summary = model.summary_text();
    for (const char* row :
         {" simple_rnn (SimpleRNN)      (None, 10, 5)             70 ",
          " simple_rnn_1 (SimpleRNN)    (None, 3)                 27 ",
          " dense (Dense)               (None, 10)                40 ", "Total params: 137\n"})
        CHECK_MESSAGE(summary.find(row) != std::string::npos, std::string(row));
}

TEST_CASE("fitting the stacked model to random data lowers its loss") {
    tg::manual_seed(0);
    tg::keras::Sequential model = stacked_rnn::make_model();
    auto [x, y] = stacked_rnn::random_data(16);
    CHECK(x.shape() == tg::Shape{16, 10, 8});
    CHECK(y.shape() == tg::Shape{16, 10});
    tg::keras::Adam optimizer(model.parameters());
    auto history = tg::keras::fit(
        model, x, y, {.epochs = 30, .batch_size = 8, .validation_split = 0.25, .verbose = 0},
        optimizer);
    REQUIRE(history.loss.size() == 30);
    REQUIRE(history.val_loss.size() == 30);
    CHECK(history.loss.back() < history.loss.front());
}

TEST_CASE("weights saved and loaded into a fresh model give identical predictions") {
    tg::manual_seed(4);
    tg::keras::Sequential model = stacked_rnn::make_model();
    auto [x, y] = stacked_rnn::random_data(4);
    std::string path =
        (std::filesystem::temp_directory_path() / "tapegrad_stacked_rnn_test.safetensors").string();
    CHECK(stacked_rnn::reload_difference(model, path, x) == 0.0);

    // The check can fail: a model that did not load the file predicts otherwise.
    tg::keras::Sequential other = stacked_rnn::make_model();
    tg::NoGrad no_grad;
    CHECK(tg::max(tg::abs(model(x) - other(x))).item() > 0.0);
    std::filesystem::remove(path);
}
