//===- LMCInterfaces.td - Interfaces of the lmc dialect ----*- tablegen -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCINTERFACES_TD
#define LMC_DIALECT_LMC_IR_LMCINTERFACES_TD

include "mlir/IR/OpBase.td"

def LMC_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    An op that knows its own reverse-mode gradient rule. `lmc-autodiff`
    walks the forward function backwards and asks each op, through a
    `GradientBuilder`, to turn the gradients of its results into gradients of
    its operands. The builder hands out the forward values the rule needs
    (possibly recomputed, depending on the recompute policy) and accumulates
    operand gradients when a value is used more than once. Operands without a
    gradient (token ids, targets) are simply not given one.
  }];
  let methods = [
    InterfaceMethod<[{
        Emits the gradient rule at the builder's insertion point: reads the
        result gradients (`gb.resultGrad(i)`, never null for a result that
        has uses on the path to the loss; zeros are materialised otherwise)
        and sets operand gradients with `gb.addOperandGrad(i, value)`.
      }],
      "::llvm::LogicalResult", "buildGradient",
      (ins "::mlir::lmc::GradientBuilder &":$gb)>,
  ];
}

#endif // LMC_DIALECT_LMC_IR_LMCINTERFACES_TD
