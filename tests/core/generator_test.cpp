#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

using namespace tg;

TEST_CASE("the default generator's state continues the same stream when set back") {
    manual_seed(42);
    rand({3});
    Tensor state = generator_state();
    CHECK(state.shape() == Shape{4});
    CHECK(state.dtype() == DType::i64);
    std::vector<float> first = rand({5}).to_vector<float>();
    manual_seed(0);
    set_generator_state(state);
    CHECK(rand({5}).to_vector<float>() == first);
}

TEST_CASE("generator_state holds the four words bit for bit") {
    manual_seed(7);
    Tensor state = generator_state();
    Generator::State words = Generator(7).state();
    const auto* v = state.data<std::int64_t>();
    for (int i = 0; i < 4; ++i) CHECK(static_cast<std::uint64_t>(v[i]) == words[i]);
}

TEST_CASE("set_generator_state refuses a wrong shape, dtype or the all-zero state") {
    CHECK_THROWS_WITH_AS(set_generator_state(zeros({3}, DType::i64)),
                         "set_generator_state: the state must be [4], not [3]", ShapeError);
    CHECK_THROWS_WITH_AS(set_generator_state(zeros({4})),
                         "set_generator_state: the state must be i64, not float32", DTypeError);
    CHECK_THROWS_AS(set_generator_state(zeros({4}, DType::i64)), ValueError);
}
