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
/// full value (replicated).
class Placement {
public:
  enum class Kind { Replicated, Shard, Partial };

  static Placement replicated() { return Placement(Kind::Replicated, -1); }
  static Placement shard(int64_t dim) { return Placement(Kind::Shard, dim); }
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

  bool operator==(const Placement &other) const {
    return kind == other.kind && dim == other.dim;
  }
  bool operator!=(const Placement &other) const { return !(*this == other); }

private:
  Placement(Kind kind, int64_t dim) : kind(kind), dim(dim) {}

  Kind kind;
  int64_t dim;
};

inline llvm::hash_code hash_value(const Placement &placement) {
  return llvm::hash_combine(static_cast<int>(placement.getKind()),
                            placement.isShard() ? placement.getDim() : -1);
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
