#pragma once

#include <functional>
#include <string>

#include <tapegrad/layers/module.h>
#include <tapegrad/optim/optimizer.h>

namespace tg {

// Everything training needs to continue bit for bit, in one safetensors file:
//   "model.<name>"  the model's state_dict() (its parameters),
//   "optim.<key>"   the optimizer's state_dict() (hyper-parameters, lr, moments),
//   "generator"     the default generator's state (generator_state()), so
//                   dropout draws the same masks after a resume,
//   "extra.<key>"   the program's own state, as it passed it in `extra`: a
//                   step counter, a carried hidden state, a scheduler's epoch.
// One file written by one rename: a crash can never pair a model with another
// step's extras. The recipe by hand: merge the parts under those prefixes,
// save_safetensors; to resume, load_safetensors, strip the prefixes, and hand
// each part back.
//
//     save_checkpoint(path, model, adam, {{"step", Tensor::scalar(step, DType::i64)}});
//     StateDict extra = load_checkpoint(path, model, adam);
//     step = static_cast<std::int64_t>(extra.at("step").item());
//
// An empty key or an undefined tensor in extra is a ValueError, and the file
// is then left as it was.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer,
                     const StateDict& extra = {});

// Called with the extras before anything is restored; throwing refuses the
// checkpoint (a resume on other data, with other flags) with nothing changed.
using CheckpointExtraCheck = std::function<void(const StateDict& extra)>;

// Restores model, optimizer and the default generator from a file written by
// save_checkpoint and returns its extras, the "extra." prefix removed. The
// other keys are matched strictly: a missing or unexpected key, a wrong shape
// or dtype throws, naming the key. On any error, check_extra's included,
// nothing changes: the parameters, the optimizer state and the generator
// keep their values.
StateDict load_checkpoint(const std::string& path, Module& model, Optimizer& optimizer,
                          const CheckpointExtraCheck& check_extra = {});

}  // namespace tg
