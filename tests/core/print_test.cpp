#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <cmath>
#include <limits>

using namespace tg;

// Every expected string below was printed by PyTorch 1.13 (repr of a
// torch.tensor holding the same values), not by tapegrad.

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// i / divisor for i in [0, n), computed in double as the PyTorch side did
// ((torch.arange(n, dtype=torch.float64) / divisor).float()).
std::vector<double> ramp(int n, double divisor = 1.0) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(i / divisor);
    return v;
}

}  // namespace

TEST_CASE("str: fixed point, integer-valued floats and integers") {
    CHECK(Tensor::from({1.5, 2.0}).str() == "tensor([1.5000, 2.0000])");
    CHECK(Tensor::from({1.0, 2.0}).str() == "tensor([1., 2.])");
    CHECK(Tensor::from({0.1, 0.2, 0.3}).str() == "tensor([0.1000, 0.2000, 0.3000])");
    CHECK(Tensor::from({5000.5, 10.25}).str() == "tensor([5000.5000,   10.2500])");
    CHECK(Tensor::from({1.0, 1000.0}).str() == "tensor([   1., 1000.])");
    CHECK(Tensor::from({1, 2}, DType::i64).str() == "tensor([1, 2])");
    CHECK(Tensor::from({-100, 5, 12345}, DType::i64).str() == "tensor([ -100,     5, 12345])");
}

TEST_CASE("str: scientific notation when PyTorch switches to it") {
    CHECK(Tensor::from({1e-5, 1.0}).str() == "tensor([1.0000e-05, 1.0000e+00])");
    CHECK(Tensor::from({1e9, 1.5}).str() == "tensor([1.0000e+09, 1.5000e+00])");
    CHECK(Tensor::from({1.0, 2000.0}).str() == "tensor([1.0000e+00, 2.0000e+03])");
}

TEST_CASE("str: matrices and 3-D tensors, aligned and indented") {
    CHECK(Tensor::from({{1.0, 2.0}, {3.0, 4.0}}).str() ==
          "tensor([[1., 2.],\n"
          "        [3., 4.]])");
    CHECK(Tensor::from({{1.5, -2.25}, {3.0, 40.125}}).str() ==
          "tensor([[ 1.5000, -2.2500],\n"
          "        [ 3.0000, 40.1250]])");
    CHECK(Tensor::from(ramp(24), Shape{2, 3, 4}, DType::i64).str() ==
          R"(tensor([[[ 0,  1,  2,  3],
         [ 4,  5,  6,  7],
         [ 8,  9, 10, 11]],

        [[12, 13, 14, 15],
         [16, 17, 18, 19],
         [20, 21, 22, 23]]]))");
}

TEST_CASE("str: 0-D and empty tensors") {
    CHECK(Tensor::scalar(3.0).str() == "tensor(3.)");
    CHECK(Tensor::scalar(kNan).str() == "tensor(nan)");
    CHECK(Tensor::from(std::vector<double>{}).str() == "tensor([])");
    CHECK(zeros({2, 0}).str() == "tensor([], size=(2, 0))");
    CHECK(zeros({0}, DType::i64).str() == "tensor([], dtype=torch.int64)");
    CHECK(zeros({0, 3}, DType::f64).str() == "tensor([], size=(0, 3), dtype=torch.float64)");
}

TEST_CASE("str: dtype and requires_grad suffixes") {
    CHECK(Tensor::from({1.5, 2.0}, DType::f64).str() ==
          "tensor([1.5000, 2.0000], dtype=torch.float64)");
    Tensor w = Tensor::from({1.0, 2.0}).requires_grad_();
    CHECK(w.str() == "tensor([1., 2.], requires_grad=True)");
    CHECK(Tensor::scalar(2.5, DType::f64).requires_grad_().str() ==
          "tensor(2.5000, dtype=torch.float64, requires_grad=True)");
    // PyTorch adds ", grad_fn=<CloneBackward0>" here; tapegrad leaves grad_fn out.
    Tensor y = w.clone();
    CHECK(y.str() == "tensor([1., 2.])");
    clear_tape();
    // Suffixes that do not fit on the last line go on their own line.
    CHECK(Tensor::from(ramp(20, 3.0), DType::f64).requires_grad_().str() ==
          R"(tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,
        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,
        6.0000, 6.3333], dtype=torch.float64, requires_grad=True))");
}

TEST_CASE("str: nan, inf and negative zero") {
    CHECK(Tensor::from({kNan, kInf, -kInf, 1.5}).str() ==
          "tensor([   nan,    inf,   -inf, 1.5000])");
    CHECK(Tensor::from({0.0, kNan}).str() == "tensor([0., nan])");
    CHECK(Tensor::from({kNan, 1.0, -20.0}).str() == "tensor([ nan,   1., -20.])");
    CHECK(Tensor::from({-0.0, 1.0}).str() == "tensor([-0., 1.])");
    CHECK(Tensor::from({-kNan}, DType::f64).str() == "tensor([nan], dtype=torch.float64)");
}

TEST_CASE("str: long rows wrap at 80 columns") {
    CHECK(Tensor::from(ramp(30, 3.0)).str() ==
          R"(tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,
        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,
        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,
        9.0000, 9.3333, 9.6667]))");
    CHECK(Tensor::from(ramp(50), DType::i64).str() ==
          R"(tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,
        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
        36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49]))");
}

TEST_CASE("str: more than 1000 elements are summarised") {
    CHECK(Tensor::from(ramp(2000)).str() ==
          R"(tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,
        1.9990e+03]))");
    CHECK(Tensor::from(ramp(1001), DType::i64).str() ==
          "tensor([   0,    1,    2,  ...,  998,  999, 1000])");
    CHECK(Tensor::from(ramp(1000), DType::i64).str().find("...") == std::string::npos);
    CHECK(Tensor::from(ramp(1600, 7.0), Shape{40, 40}).str() ==
          R"(tensor([[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 5.2857e+00, 5.4286e+00,
         5.5714e+00],
        [5.7143e+00, 5.8571e+00, 6.0000e+00,  ..., 1.1000e+01, 1.1143e+01,
         1.1286e+01],
        [1.1429e+01, 1.1571e+01, 1.1714e+01,  ..., 1.6714e+01, 1.6857e+01,
         1.7000e+01],
        ...,
        [2.1143e+02, 2.1157e+02, 2.1171e+02,  ..., 2.1671e+02, 2.1686e+02,
         2.1700e+02],
        [2.1714e+02, 2.1729e+02, 2.1743e+02,  ..., 2.2243e+02, 2.2257e+02,
         2.2271e+02],
        [2.2286e+02, 2.2300e+02, 2.2314e+02,  ..., 2.2814e+02, 2.2829e+02,
         2.2843e+02]]))");
    CHECK(Tensor::from(ramp(1002), Shape{501, 2}, DType::f64).str() ==
          R"(tensor([[0.0000e+00, 1.0000e+00],
        [2.0000e+00, 3.0000e+00],
        [4.0000e+00, 5.0000e+00],
        ...,
        [9.9600e+02, 9.9700e+02],
        [9.9800e+02, 9.9900e+02],
        [1.0000e+03, 1.0010e+03]], dtype=torch.float64))");
}

TEST_CASE("str: a summarised 3-D tensor") {
    CHECK(Tensor::from(ramp(1100), Shape{10, 10, 11}, DType::i64).str() ==
          R"(tensor([[[   0,    1,    2,  ...,    8,    9,   10],
         [  11,   12,   13,  ...,   19,   20,   21],
         [  22,   23,   24,  ...,   30,   31,   32],
         ...,
         [  77,   78,   79,  ...,   85,   86,   87],
         [  88,   89,   90,  ...,   96,   97,   98],
         [  99,  100,  101,  ...,  107,  108,  109]],

        [[ 110,  111,  112,  ...,  118,  119,  120],
         [ 121,  122,  123,  ...,  129,  130,  131],
         [ 132,  133,  134,  ...,  140,  141,  142],
         ...,
         [ 187,  188,  189,  ...,  195,  196,  197],
         [ 198,  199,  200,  ...,  206,  207,  208],
         [ 209,  210,  211,  ...,  217,  218,  219]],

        [[ 220,  221,  222,  ...,  228,  229,  230],
         [ 231,  232,  233,  ...,  239,  240,  241],
         [ 242,  243,  244,  ...,  250,  251,  252],
         ...,
         [ 297,  298,  299,  ...,  305,  306,  307],
         [ 308,  309,  310,  ...,  316,  317,  318],
         [ 319,  320,  321,  ...,  327,  328,  329]],

        ...,

        [[ 770,  771,  772,  ...,  778,  779,  780],
         [ 781,  782,  783,  ...,  789,  790,  791],
         [ 792,  793,  794,  ...,  800,  801,  802],
         ...,
         [ 847,  848,  849,  ...,  855,  856,  857],
         [ 858,  859,  860,  ...,  866,  867,  868],
         [ 869,  870,  871,  ...,  877,  878,  879]],

        [[ 880,  881,  882,  ...,  888,  889,  890],
         [ 891,  892,  893,  ...,  899,  900,  901],
         [ 902,  903,  904,  ...,  910,  911,  912],
         ...,
         [ 957,  958,  959,  ...,  965,  966,  967],
         [ 968,  969,  970,  ...,  976,  977,  978],
         [ 979,  980,  981,  ...,  987,  988,  989]],

        [[ 990,  991,  992,  ...,  998,  999, 1000],
         [1001, 1002, 1003,  ..., 1009, 1010, 1011],
         [1012, 1013, 1014,  ..., 1020, 1021, 1022],
         ...,
         [1067, 1068, 1069,  ..., 1075, 1076, 1077],
         [1078, 1079, 1080,  ..., 1086, 1087, 1088],
         [1089, 1090, 1091,  ..., 1097, 1098, 1099]]]))");
}

TEST_CASE("str: views print their own elements; fmt uses str()") {
    Tensor m = Tensor::from({{1.0, 2.0}, {3.5, 4.0}});
    CHECK(m[1].str() == "tensor([3.5000, 4.0000])");
    CHECK(fmt::format("{}", m[0]) == "tensor([1., 2.])");
    CHECK(Tensor().str() == "tensor(undefined)");
}
