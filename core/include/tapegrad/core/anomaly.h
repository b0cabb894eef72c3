#pragma once

#include <atomic>

namespace tg {

namespace detail {
extern std::atomic<bool> anomaly_detection;
}

// Anomaly mode, as torch.autograd.detect_anomaly: while on, an op whose
// forward result holds NaN or Inf, or a backward that produces a NaN or Inf
// gradient, throws AnomalyError naming the op, the shapes, the first bad
// element and the line of user code that called the op. Off by default;
// when off it costs one flag test per op.
//
// The flag is global, as PyTorch's: it is switched on once for a whole
// debugging run, and must then also cover threads the program starts
// (a data loader, a worker that trains a replica). A relaxed atomic load
// costs what a thread-local one does.
void set_detect_anomaly(bool on);
inline bool detect_anomaly() { return detail::anomaly_detection.load(std::memory_order_relaxed); }

// RAII: anomaly mode on (or off) for its lifetime, then back to what it was.
// Being global, two threads that nest guards differently may see each
// other's setting; switch it from one thread.
class DetectAnomaly {
public:
    explicit DetectAnomaly(bool on = true);
    ~DetectAnomaly();
    DetectAnomaly(const DetectAnomaly&) = delete;
    DetectAnomaly& operator=(const DetectAnomaly&) = delete;

private:
    bool previous_;
};

}  // namespace tg
