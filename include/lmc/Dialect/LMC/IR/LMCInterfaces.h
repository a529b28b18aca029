//===- LMCInterfaces.h - Interfaces of the lmc dialect ----------*- C++ -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCINTERFACES_H
#define LMC_DIALECT_LMC_IR_LMCINTERFACES_H

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

} // namespace mlir::lmc

#include "lmc/Dialect/LMC/IR/LMCInterfaces.h.inc"

#endif // LMC_DIALECT_LMC_IR_LMCINTERFACES_H
