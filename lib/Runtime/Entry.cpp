//===- Entry.cpp - lmcrt_main over the compiled model ---------------------===//
//
// The only file of the runtime that references the compiled model's
// functions; the unit tests drive runTrainer with a fake model instead.
//
//===----------------------------------------------------------------------===//

#include "ModelFunctions.h"

extern "C" int lmcrt_main(int argc, char **argv) {
  lmcrt::ModelFunctions fns = {
      &_mlir_ciface_lmc_train_step, &_mlir_ciface_lmc_eval_step,
      &_mlir_ciface_lmc_logits, &_mlir_ciface_lmc_model_info};
  return lmcrt::runTrainer(argc, argv, fns);
}
