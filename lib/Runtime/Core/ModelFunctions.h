//===- ModelFunctions.h - The compiled model's entry points -----*- C++ -*-===//
//
// The trainer reaches the compiled model only through this table, so that
// the unit tests can drive it with a fake model. lmcrt_main fills it with
// the `_mlir_ciface_lmc_*` functions of lmcrt.h.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_MODELFUNCTIONS_H
#define LMC_LIB_RUNTIME_MODELFUNCTIONS_H

#include "lmc/Runtime/lmcrt.h"

namespace lmcrt {

struct ModelFunctions {
  decltype(&_mlir_ciface_lmc_train_step) trainStep;
  decltype(&_mlir_ciface_lmc_eval_step) evalStep;
  decltype(&_mlir_ciface_lmc_logits) logits;
  decltype(&_mlir_ciface_lmc_model_info) modelInfo;
  // Gradient accumulation: null for a program compiled without
  // `lmc compile --grad-accum`.
  decltype(&_mlir_ciface_lmc_grad_step) gradStep = nullptr;
  decltype(&_mlir_ciface_lmc_apply_step) applyStep = nullptr;
  // Parameter averaging over the replicas (the batch axes): null for a
  // program whose batch axes span one rank.
  decltype(&_mlir_ciface_lmc_dp_average) dpAverage = nullptr;
  decltype(&_mlir_ciface_lmc_dp_average_start) dpAverageStart = nullptr;
  decltype(&_mlir_ciface_lmc_dp_average_finish) dpAverageFinish = nullptr;
};

/// The trainer behind lmcrt_main; returns the exit status.
int runTrainer(int argc, char **argv, const ModelFunctions &model);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_MODELFUNCTIONS_H
