#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bench {

// One thing to time. Recurrent cells run as a train step (forward, MSE
// against a fixed target, backward; no optimizer) or forward only (under
// NoGrad), float32, batch_first, input of size hidden_size. The two demos
// train end to end, optimizer included.
struct Workload {
    std::string name;  // "lstm_b64_t100_h256_train"
    std::string kind;  // "rnn", "lstm", "gru", "sine", "keras"
    std::string mode;  // "train" or "forward"
    std::int64_t batch = 0, seq_len = 0, input_size = 0, hidden_size = 0, num_layers = 1;
    bool bidirectional = false;
    double forward_gemm_flops = 0;  // multiply-adds x 2 of the forward pass's matrix products
    // Builds the model and data (untimed) and returns one iteration.
    std::function<std::function<void()>()> make;
};

std::vector<Workload> workloads();

}  // namespace bench
