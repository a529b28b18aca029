//===- Entry.cpp - lmcrt_main over the compiled model ---------------------===//
//
// The only file of the runtime that references the compiled model's
// functions; the unit tests drive runTrainer with a fake model instead.
//
//===----------------------------------------------------------------------===//

#include "Core/ModelFunctions.h"
#include "Trainer/Threads.h"

#include <malloc.h>

// Compiled only with `lmc compile --grad-accum`: weak, null without.
extern "C" {
#pragma weak _mlir_ciface_lmc_grad_step
#pragma weak _mlir_ciface_lmc_apply_step
// Compiled only for a mesh whose batch axes span more than one rank.
#pragma weak _mlir_ciface_lmc_dp_average
#pragma weak _mlir_ciface_lmc_dp_average_start
#pragma weak _mlir_ciface_lmc_dp_average_finish
}

extern "C" int lmcrt_main(int argc, char **argv) {
  // Before anything else: libgomp's threads wait with a bounded spin unless
  // the environment says otherwise (Trainer/Threads.h; may re-execute).
  lmcrt::ensureOpenMPWaitPolicy(argv);
  // The compiled step allocates its activations and the updated parameters
  // and moments every step and frees them after. With glibc's defaults each
  // large block is a fresh mmap, so every step page-faults all of its memory
  // in again (measured: 37% of a gpt2-124M step in clear_page). Keep freed
  // memory in the heap for reuse instead.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);
  lmcrt::ModelFunctions fns = {
      &_mlir_ciface_lmc_train_step,       &_mlir_ciface_lmc_eval_step,
      &_mlir_ciface_lmc_logits,           &_mlir_ciface_lmc_model_info,
      &_mlir_ciface_lmc_grad_step,        &_mlir_ciface_lmc_apply_step,
      &_mlir_ciface_lmc_dp_average,       &_mlir_ciface_lmc_dp_average_start,
      &_mlir_ciface_lmc_dp_average_finish};
  return lmcrt::runTrainer(argc, argv, fns);
}
