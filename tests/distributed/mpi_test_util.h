#pragma once

#include <tapegrad/distributed.h>
#include <tapegrad/tapegrad.h>

#include <algorithm>
#include <cmath>

// Whether t holds the same values on every rank (bit for bit, compared as
// float64, which holds every float32 and int64 index used here exactly).
inline bool same_on_all_ranks(const tg::Tensor& t) {
    tg::NoGrad no_grad;  // t may be a parameter; nothing here belongs on the tape
    tg::Tensor high = t.to(tg::DType::f64), low = high.clone();
    tg::dist::all_reduce(high, tg::dist::ReduceOp::max);
    tg::dist::all_reduce(low, tg::dist::ReduceOp::min);
    auto h = high.to_vector<double>(), l = low.to_vector<double>();
    return h == l;
}

inline double max_abs_diff(const tg::Tensor& a, const tg::Tensor& b) {
    auto x = a.to_vector<double>(), y = b.to_vector<double>();
    double m = 0;
    for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
    return m;
}
