// Fits y = sum(x) with a two-layer network and Adam; exits non-zero unless the
// loss falls, so the install test fails if the installed package links but
// does not work.
#include <fmt/format.h>
#include <tapegrad/tapegrad.h>

int main() {
    tg::manual_seed(0);
    tg::Linear hidden({.in_features = 3, .out_features = 8});
    tg::Linear out({.in_features = 8, .out_features = 1});
    std::vector<tg::Tensor> params = hidden.parameters();
    for (const tg::Tensor& p : out.parameters()) params.push_back(p);
    tg::Adam adam(params, {.lr = 0.05});

    tg::Tensor x = tg::randn({16, 3});
    tg::Tensor y = tg::sum(x, {1}, /*keepdim=*/true);
    double first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
        tg::Tensor loss = tg::mse_loss(out(tg::tanh(hidden(x))), y);
        adam.zero_grad();
        loss.backward();
        adam.step();
        (step == 0 ? first : last) = loss.item();
    }
    fmt::print("loss {:.6f} -> {:.6f}\n", first, last);
    return last < 0.5 * first ? 0 : 1;
}
