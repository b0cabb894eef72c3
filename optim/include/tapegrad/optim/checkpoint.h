#pragma once

#include <string>

#include <tapegrad/layers/module.h>
#include <tapegrad/optim/optimizer.h>

namespace tg {

// Everything training needs to continue bit for bit, in one safetensors file:
//   "model.<name>"  the model's state_dict() (its parameters),
//   "optim.<key>"   the optimizer's state_dict() (hyper-parameters, lr, moments),
//   "generator"     the default generator's state (generator_state()), so
//                   dropout draws the same masks after a resume.
// The recipe by hand: merge the three under those prefixes, save_safetensors;
// to resume, load_safetensors, strip the prefixes, and hand each part back.
// A learning-rate scheduler keeps no state of its own beyond the optimizer's
// lr, so recreate it with the same step count (or save its counter beside).
void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer);

// Restores model, optimizer and the default generator from a file written by
// save_checkpoint. Keys are matched strictly: a missing or unexpected key, a
// wrong shape or dtype throws, naming the key. On any error nothing changes:
// the parameters, the optimizer state and the generator keep their values.
void load_checkpoint(const std::string& path, Module& model, Optimizer& optimizer);

}  // namespace tg
