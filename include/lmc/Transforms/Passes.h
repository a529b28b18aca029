//===- Passes.h - Every lmc transformation pass -----------------*- C++ -*-===//
//
// The graph-level and codegen passes, by stage (docs/Architecture.md):
// Training, Sharding, Fusion, Codegen; each stage declares its passes in its
// own Passes.td. Conversions are in lmc/Conversion/Passes.h.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_PASSES_H
#define LMC_TRANSFORMS_PASSES_H

#include "lmc/Transforms/Codegen/Passes.h"
#include "lmc/Transforms/Fusion/Passes.h"
#include "lmc/Transforms/Sharding/Passes.h"
#include "lmc/Transforms/Training/Passes.h"

namespace mlir::lmc {

/// Registers the passes of every stage.
inline void registerLMCTransformsPasses() {
  registerLMCTrainingPasses();
  registerLMCShardingPasses();
  registerLMCFusionPasses();
  registerLMCCodegenPasses();
}

} // namespace mlir::lmc

#endif // LMC_TRANSFORMS_PASSES_H
