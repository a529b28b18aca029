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

def LMC_ShardingRuleOpInterface : OpInterface<"ShardingRuleOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    An op that knows how it runs when its tensors are split over the ranks of
    one mesh axis (`lmc-shard` partitions one axis at a time). A placement
    along the axis is `shard(d[, blocks = k])`, `partial` (each rank holds a
    summand) or replicated.

    `getShardingRule` receives the placements the operands have and chooses
    a strategy: the placements each operand must have (the partitioner
    reshards an operand whose placement differs, see below) and the
    placements of the results. It fails only when no strategy exists; an op
    can always fall back to replicated operands.

    Resharding an operand, the collective a layout change needs:
    - `partial` to replicated: `lmc.all_reduce` over the axis;
    - `shard(d)` to replicated: `lmc.all_gather` along `d` (per block);
    - replicated to `shard(d)`: no communication, each rank slices its part;
    - replicated to `partial` (scalars only): rank 0 keeps the value, the
      others take zero;
    - any other change goes through replicated.

    `partition` then creates the op's local form, at the builder's insertion
    point, from operands already in the chosen placements; the default clones
    the op with local result types (each dimension split by its placement).
  }];
  let methods = [
    InterfaceMethod<[{
        Chooses the operand and result placements of a partitioned op, given
        the current operand placements over an axis of `parts` ranks.
      }],
      "::llvm::LogicalResult", "getShardingRule",
      (ins "::llvm::ArrayRef<::mlir::lmc::Placement>":$operands,
           "int64_t":$parts, "::mlir::lmc::ShardingRule &":$rule)>,
    InterfaceMethod<[{
        Creates the local form of the op on `pb.operands()` (in the rule's
        operand placements) and returns its results, one per result of the
        op, in the rule's result placements.
      }],
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>", "partition",
      (ins "::mlir::lmc::PartitionBuilder &":$pb), [{}], [{
        return pb.cloneWithLocalTypes();
      }]>,
  ];
}

#endif // LMC_DIALECT_LMC_IR_LMCINTERFACES_TD
