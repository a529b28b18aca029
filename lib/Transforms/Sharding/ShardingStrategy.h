//===- ShardingStrategy.h - The mesh axes lmc-shard partitions over -*- C++
//-*-//
//
// lmc-shard's strategy: data parallelism over one mesh axis (each rank its
// rows of the batch; gradients and losses all-reduced, ZeRO-1 state split
// over it) and tensor parallelism over another (Megatron-LM's placements,
// TensorParallel.h). This is the one place of the compiler that names those
// axes; everything after lmc-shard reads the mesh (`lmc.mesh`) and the
// placements (`lmc.sharding`, `lmc.zero_dim`) from the IR.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_TRANSFORMS_SHARDINGSTRATEGY_H
#define LMC_LIB_TRANSFORMS_SHARDINGSTRATEGY_H

#include "lmc/Support/Mesh.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::lmc {

struct ShardingStrategy {
  /// The axis that splits the layers into pipeline stages (lmc-pipeline).
  /// lmc-shard partitions nothing over it: every value is the same on each
  /// of its coordinates until lmc-pipeline splits the step into stages.
  static constexpr llvm::StringLiteral pipelineAxis = "pp";
  /// The axis that splits the batch (data parallelism, ZeRO).
  static constexpr llvm::StringLiteral dataAxis = "dp";
  /// The axis that splits the parameters (tensor parallelism).
  static constexpr llvm::StringLiteral tensorAxis = "tp";

  /// The axes the strategy partitions over, in the order it lays them out
  /// (major to minor): tensor-parallel groups are neighbouring ranks.
  static llvm::ArrayRef<llvm::StringLiteral> supportedAxes() {
    static const llvm::StringLiteral axes[] = {pipelineAxis, dataAxis,
                                               tensorAxis};
    return axes;
  }

  /// The mesh the strategy partitions `requested` for: every supported axis
  /// in the strategy's order, the ones `requested` leaves out of size 1,
  /// except the pipeline axis, which is there only when requested.
  /// Fails with `error` set when `requested` names an axis the strategy
  /// cannot use, or lists its axes in another order.
  static bool complete(const ::lmc::MeshSpec &requested, ::lmc::MeshSpec &mesh,
                       std::string &error) {
    std::string supported;
    for (llvm::StringRef axis : supportedAxes())
      supported += (supported.empty() ? "" : ", ") + axis.str();
    mesh.axes.clear();
    int last = -1;
    for (const ::lmc::MeshAxis &axis : requested.axes) {
      const auto *it = llvm::find(supportedAxes(), axis.name);
      if (it == supportedAxes().end()) {
        error = "lmc-shard cannot partition over the axis '" + axis.name +
                "' yet; the supported axes are " + supported;
        return false;
      }
      int position = static_cast<int>(it - supportedAxes().begin());
      if (position < last) {
        error = "the axes must be listed in the order " + supported +
                " (major to minor)";
        return false;
      }
      last = position;
    }
    for (llvm::StringRef axis : supportedAxes()) {
      bool named = llvm::any_of(requested.axes, [&](const ::lmc::MeshAxis &a) {
        return a.name == axis;
      });
      if (axis == pipelineAxis && !named)
        continue;
      mesh.axes.push_back({axis.str(), requested.sizeOf(axis.str())});
    }
    return true;
  }
};

} // namespace mlir::lmc

#endif // LMC_LIB_TRANSFORMS_SHARDINGSTRATEGY_H
