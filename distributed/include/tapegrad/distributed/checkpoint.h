#pragma once

#include <string>

#include <tapegrad/layers/module.h>
#include <tapegrad/optim/optimizer.h>

namespace tg::dist {

// tg::save_checkpoint / tg::load_checkpoint for a job of several ranks. The
// path must name the same file for every rank (a shared file system when the
// ranks run on several machines). Call both on every rank.

// Root writes; no rank returns before the file is complete (the outcome is
// broadcast from root, which also serves as the barrier), so every rank may
// read it right away. If root cannot write, every rank throws: root its own
// error, the others DistributedError with root's message.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer,
                     int root = 0);

// Every rank reads the file itself. If any rank cannot, every rank throws
// (DistributedError naming the ranks that failed, or its own error), so no
// rank trains on alone; ranks that did read keep what they loaded.
void load_checkpoint(const std::string& path, Module& model, Optimizer& optimizer);

}  // namespace tg::dist
