//===- LMCCollectiveInterface.td - Collective op interface -*- tablegen -*-===//
//
// The interface of the ops that exchange data between the ranks of a mesh
// (LMCCollectiveOps.td), on tensors and on buffers. Passes ask it what a
// collective does (its kind, its group, its data) instead of listing ops.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCCOLLECTIVEINTERFACE_TD
#define LMC_DIALECT_LMC_IR_LMCCOLLECTIVEINTERFACE_TD

include "mlir/IR/OpBase.td"

def LMC_CollectiveOpInterface : OpInterface<"CollectiveOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    A collective over a group of ranks: an all-reduce, an all-gather or a
    reduce-scatter, blocking or started asynchronously (the start forms,
    completed by `lmc.wait` or `lmc.buffer_wait`), on tensors or on
    buffers. The group is named by `axes`, mesh axis names resolved against
    the `lmc.mesh` in scope; a gather or scatter works along dimension
    `dim`. Inputs are the data the rank contributes; outputs are where the
    result is: the results of a tensor op (`!lmc.pending` ones for a start
    form) or the output buffer of a buffer op.

    `lmc-shard`'s report, `lmc-free-buffers` (buffers of a started
    collective stay alive until its wait) and `convert-lmc-to-runtime`
    (the runtime call and its axis mask) use it.
  }];
  let methods = [
    InterfaceMethod<"What the collective computes.",
      "::mlir::lmc::CollectiveKind", "getCollectiveKind">,
    InterfaceMethod<"The mesh axes of the group, major to minor.",
      "::mlir::ArrayAttr", "getAxes">,
    InterfaceMethod<[{
        The dimension along which a gather or scatter concatenates or
        splits; none for an all-reduce.
      }],
      "std::optional<int64_t>", "getCollectiveDim">,
    InterfaceMethod<[{
        True for a start form: the op returns before the transfer is done,
        and the data is read and written until the matching wait.
      }],
      "bool", "isStart">,
    InterfaceMethod<"The data the rank contributes.",
      "::mlir::ValueRange", "getCollectiveInputs", (ins), [{}], [{
        return $_op->getOperands();
      }]>,
    InterfaceMethod<[{
        Where the result is: the op's results (tensors, or `!lmc.pending`
        ones), or its output buffer.
      }],
      "::mlir::ValueRange", "getCollectiveOutputs", (ins), [{}], [{
        return $_op->getResults();
      }]>,
  ];
  let extraSharedClassDeclaration = [{
    /// The mesh that `axes` name: the `lmc.mesh` of the nearest enclosing op
    /// that has one, or null.
    ::mlir::lmc::MeshAttr getMesh() {
      return ::mlir::lmc::getMeshInScope($_op.getOperation());
    }
    /// The number of ranks in one group: the product of the sizes of `axes`.
    /// Only for an op that verifies.
    int64_t getGroupSize() {
      return getMesh().getGroupSize($_op.getAxes());
    }
  }];
}

#endif // LMC_DIALECT_LMC_IR_LMCCOLLECTIVEINTERFACE_TD
