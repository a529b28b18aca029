//===- LMCInterfaces.h - Interfaces of the lmc dialect ----------*- C++ -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCINTERFACES_H
#define LMC_DIALECT_LMC_IR_LMCINTERFACES_H

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

namespace mlir::lmc {

/// What a gradient rule sees while lmc-autodiff emits the backward pass.
class GradientBuilder {
public:
  virtual ~GradientBuilder() = default;

  /// The builder positioned where the rule's ops go.
  virtual OpBuilder &builder() = 0;
  /// The op whose rule is being emitted.
  virtual Operation *op() = 0;
  /// A forward value for use in the backward pass: the value itself, or its
  /// recomputation when the recompute policy does not keep it alive.
  virtual Value forward(Value v) = 0;
  /// Operand `i` of the op, as `forward` returns it.
  Value operand(unsigned i) { return forward(op()->getOperand(i)); }
  /// Result `i` of the op, as `forward` returns it.
  Value result(unsigned i) { return forward(op()->getResult(i)); }
  /// The gradient of result `i` (zeros when nothing flowed into it).
  virtual Value resultGrad(unsigned i) = 0;
  /// Adds `grad` to the gradient of operand `i`.
  virtual void addOperandGrad(unsigned i, Value grad) = 0;
};

/// The placements, along one mesh axis, that a partitioned op needs of its
/// operands and gives its results.
struct ShardingRule {
  SmallVector<Placement> operands;
  SmallVector<Placement> results;
};

/// What an op's `partition` method sees while lmc-shard creates its local
/// form.
class PartitionBuilder {
public:
  virtual ~PartitionBuilder() = default;

  /// The builder positioned where the local ops go.
  virtual OpBuilder &builder() = 0;
  /// The op being partitioned (with its global types).
  virtual Operation *op() = 0;
  /// The local operands, in the placements of `rule()`.
  virtual ValueRange operands() = 0;
  /// The chosen rule.
  virtual const ShardingRule &rule() = 0;
  /// The number of ranks along the axis, and its name.
  virtual int64_t parts() = 0;
  virtual StringRef axis() = 0;
  /// This rank's coordinate along the axis (an `index`).
  virtual Value axisIndex() = 0;
  /// The local type of a tensor of global type `type` in `placement`.
  virtual Type localType(Type type, const Placement &placement) = 0;
  /// A slot for a value that several ops' local forms share, named by a
  /// kind and a local value (e.g. the log-sum-exp of sharded logits, which
  /// the loss and its gradient both need); null until set.
  virtual Value &memo(StringRef kind, Value key) = 0;
  /// Clones the op on the local operands with the local types of its
  /// results: the default partitioning.
  virtual FailureOr<SmallVector<Value>> cloneWithLocalTypes() = 0;
};

/// How an op takes part in fusion (FusionOpInterface in LMCInterfaces.td).
enum class FusionRole { Elementwise, RowWise, Reduction, Update, Layout };

} // namespace mlir::lmc

namespace mlir::OpTrait::lmc {
/// Carries the static fusion declaration of an op (LMC_Fusion in
/// LMCInterfaces.td), which FusionOpInterface reads.
template <typename ConcreteType>
class FusionDeclaration : public TraitBase<ConcreteType, FusionDeclaration> {};

/// Moves data without computing, so it moves bfloat16 as it moves float32
/// (LMC_BF16PassThrough in LMCInterfaces.td): the op's part of
/// BF16StorageOpInterface. Its float tensor operands are read as bfloat16
/// when they are stored so, its float tensor results are bfloat16 exactly
/// when its operands are, and all of them together.
template <typename ConcreteType>
class BF16PassThrough : public TraitBase<ConcreteType, BF16PassThrough> {
public:
  bool isBF16PassThrough() { return true; }
  bool canReadBF16(unsigned i) {
    return isFloatTensor(this->getOperation()->getOperand(i).getType());
  }
  bool canWriteBF16(unsigned) {
    return llvm::all_of(this->getOperation()->getOperands(), [](Value v) {
      auto type = dyn_cast<RankedTensorType>(v.getType());
      return !type || !isa<FloatType>(type.getElementType()) ||
             type.getElementType().isBF16();
    });
  }
  bool writesBF16Together() { return true; }
  bool computesInBF16() { return false; }
  void adaptToBF16Storage() {}

private:
  static bool isFloatTensor(Type t) {
    auto type = dyn_cast<RankedTensorType>(t);
    return type && isa<FloatType>(type.getElementType());
  }
};

/// A kernel that reads float32 and may store its first result as bfloat16,
/// computed in float32 and rounded once (LMC_BF16Output in
/// LMCInterfaces.td: a norm's output, the cross-entropy's gradient, which
/// the GPU runtime's row kernels write either way): the op's part of
/// BF16StorageOpInterface.
template <typename ConcreteType>
class BF16Output : public TraitBase<ConcreteType, BF16Output> {
public:
  bool isBF16PassThrough() { return false; }
  bool canReadBF16(unsigned) { return false; }
  bool canWriteBF16(unsigned i) {
    auto input = dyn_cast<RankedTensorType>(
        this->getOperation()->getOperand(0).getType());
    return i == 0 && input && input.getElementType().isF32();
  }
  bool writesBF16Together() { return false; }
  bool computesInBF16() { return false; }
  void adaptToBF16Storage() {}
};

/// An elementwise activation of one operand: one result of the operand's
/// type.
template <typename ConcreteType>
class Activation : public TraitBase<ConcreteType, Activation> {
public:
  static LogicalResult verifyTrait(Operation *op) {
    if (op->getNumOperands() < 1 || op->getNumResults() != 1 ||
        op->getOperand(0).getType() != op->getResult(0).getType())
      return op->emitOpError(
          "an activation has one result of the type of its first operand");
    return success();
  }
};

/// A normalisation over the last dimension of its first operand (the
/// input); the other operands are its parameters.
template <typename ConcreteType>
class Normalization : public TraitBase<ConcreteType, Normalization> {
public:
  static LogicalResult verifyTrait(Operation *op) {
    if (op->getNumOperands() < 1 || op->getNumResults() < 1)
      return op->emitOpError(
          "a normalisation has an input operand and a result");
    return success();
  }
};
} // namespace mlir::OpTrait::lmc

#include "lmc/Dialect/LMC/IR/LMCInterfaces.h.inc"

#endif // LMC_DIALECT_LMC_IR_LMCINTERFACES_H
