//===- LMCAttrs.h - Attributes of the lmc dialect ---------------*- C++ -*-===//
//
// The device mesh (#lmc.mesh) and the sharding of a tensor over it
// (#lmc.sharding).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCATTRS_H
#define LMC_DIALECT_LMC_IR_LMCATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/Hashing.h"

#include <optional>
#include <string>

namespace mlir::lmc {

/// How the ranks along one mesh axis hold a tensor: each a block along a
/// dimension (shard), each a summand of the full value (partial), or each the
/// full value (replicated). A shard placement may cut the dimension into
/// `blocks` equal blocks first and give each rank its part of every block
/// (a fused QKV projection split by heads: blocks = 3).
class Placement {
public:
  enum class Kind { Replicated, Shard, Partial };

  Placement() : Placement(Kind::Replicated, -1) {}
  static Placement replicated() { return Placement(); }
  static Placement shard(int64_t dim, int64_t blocks = 1) {
    return Placement(Kind::Shard, dim, blocks);
  }
  static Placement partial() { return Placement(Kind::Partial, -1); }

  Kind getKind() const { return kind; }
  bool isReplicated() const { return kind == Kind::Replicated; }
  bool isShard() const { return kind == Kind::Shard; }
  bool isPartial() const { return kind == Kind::Partial; }
  /// The sharded dimension; only for shard placements.
  int64_t getDim() const {
    assert(isShard() && "only a shard placement has a dimension");
    return dim;
  }
  /// The number of blocks each rank takes a part of; 1 unless a shard
  /// placement says otherwise.
  int64_t getBlocks() const { return blocks; }

  bool operator==(const Placement &other) const {
    return kind == other.kind && dim == other.dim && blocks == other.blocks;
  }
  bool operator!=(const Placement &other) const { return !(*this == other); }

private:
  Placement(Kind kind, int64_t dim, int64_t blocks = 1)
      : kind(kind), dim(dim), blocks(blocks) {}

  Kind kind;
  int64_t dim;
  int64_t blocks;
};

inline llvm::hash_code hash_value(const Placement &placement) {
  return llvm::hash_combine(static_cast<int>(placement.getKind()),
                            placement.isShard() ? placement.getDim() : -1,
                            placement.getBlocks());
}

} // namespace mlir::lmc

#define GET_ATTRDEF_CLASSES
#include "lmc/Dialect/LMC/IR/LMCAttrs.h.inc"

namespace mlir::lmc {

/// The mesh in scope at `op`: the `lmc.mesh` attribute of `op` or of its
/// nearest ancestor that has one; null if there is none or if that attribute
/// is not a mesh.
MeshAttr getMeshInScope(Operation *op);

} // namespace mlir::lmc

#endif // LMC_DIALECT_LMC_IR_LMCATTRS_H
