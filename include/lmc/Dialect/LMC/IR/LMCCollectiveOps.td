//===- LMCCollectiveOps.td - Collective ops ----------------*- tablegen -*-===//
//
// Ops of a partitioned (SPMD) program that exchange data between the ranks
// of a mesh: all-reduce, all-gather and reduce-scatter, in a blocking form
// and an asynchronous start/wait form. Included from LMCOps.td.
//
// Common to all of them:
// - operands and results are one rank's (local) tensors;
// - `axes` is an array of mesh axis names (strings), resolved against the
//   `lmc.mesh` of the nearest enclosing op that has one (an lmc.model or a
//   module). The ranks that agree on every mesh axis not in `axes` form a
//   group; the listed order, major to minor, numbers the ranks in a group
//   (rank index = coordinates on the listed axes read as a mixed-radix
//   number);
// - every rank of a group issues the collectives over that group in the same
//   program order. An lmc program is one program for all ranks, so this holds
//   when the op order is the same on every rank; the asynchronous forms carry
//   an effect on CollectiveResource so that generic transformations neither
//   reorder nor delete them.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCCOLLECTIVEOPS_TD
#define LMC_DIALECT_LMC_IR_LMCCOLLECTIVEOPS_TD

/// The collective communication of a program: asynchronous collectives
/// write it, so they stay in program order with respect to one another.
def LMC_CollectiveResource : Resource<"::mlir::lmc::CollectiveResource">;

def LMC_CollectiveTensor : RankedTensorOf<[F32, F64, I8, I16, I32, I64]>;

/// Marks the ops that communicate between ranks (all of this file's), so that
/// passes can tell them apart without a list: fusion groups never hold one.
def LMC_Collective : NativeOpTrait<"Collective"> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

class LMC_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : LMC_Op<mnemonic, !listconcat(traits, [LMC_Collective])> {
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The mesh that `axes` name: the `lmc.mesh` of the nearest enclosing op
    /// that has one, or null.
    ::mlir::lmc::MeshAttr getMesh() {
      return ::mlir::lmc::getMeshInScope(getOperation());
    }
    /// The number of ranks in one group: the product of the sizes of `axes`.
    /// Only for an op that verifies.
    int64_t getGroupSize() { return getMesh().getGroupSize(getAxes()); }
  }];
}

//===----------------------------------------------------------------------===//
// Blocking collectives
//===----------------------------------------------------------------------===//

def LMC_AllReduceOp : LMC_CollectiveOp<"all_reduce", [
    Pure, InferTypeOpAdaptor]> {
  let summary = "sums tensors over the ranks of a group";
  let description = [{
    Every rank of a group contributes its `inputs` and receives their sums
    over the group: `result_k = sum over ranks r of inputs_k(r)`, elementwise.
    Several tensors may be reduced together (a bucket of gradients); each
    result has the type of its operand. Turns a `partial` placement on `axes`
    into replicated.

    `axes` are mesh axis names, resolved against the `lmc.mesh` of the
    nearest enclosing op that has one; the group of a rank is the ranks that
    share its coordinates on the other mesh axes. Every rank of a group
    issues the collectives over it in the same program order.

    Example:

    ```mlir
    lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
      func.func @f(%a: tensor<64x256xf32>, %b: tensor<256xf32>)
          -> (tensor<64x256xf32>, tensor<256xf32>) {
        %ga, %gb = lmc.all_reduce %a, %b over ["dp"] : tensor<64x256xf32>, tensor<256xf32>
        return %ga, %gb : tensor<64x256xf32>, tensor<256xf32>
      }
    }
    ```

    **Constraints:**
    - there is at least one operand, each a ranked tensor of `f32` or `f64`;
    - each result has the type of its operand;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated; there is a mesh in scope.
  }];
  let arguments = (ins Variadic<LMC_FloatTensor>:$inputs, StrArrayAttr:$axes);
  let results = (outs Variadic<LMC_FloatTensor>:$results);
  let assemblyFormat = [{
    $inputs `over` $axes attr-dict `:` type($inputs)
  }];
}

def LMC_AllGatherOp : LMC_CollectiveOp<"all_gather", [Pure]> {
  let summary = "concatenates the pieces of a group along a dimension";
  let description = [{
    Every rank of a group contributes its `input` and receives the
    concatenation of all the group's inputs along dimension `dim`, in group
    rank order: with `axes` `[a0, ..., an]` (major to minor), the rank with
    coordinates `(i0, ..., in)` on them contributes block
    `i0 * size(a1) * ... * size(an) + ... + in`. The result's `dim` is the
    operand's times the number of ranks in the group (dynamic stays
    dynamic); the other dimensions are unchanged. Turns `shard(dim)` on
    `axes` into replicated: the operand is a piece of the sharding
    `{a0 = shard(dim), ..., an = shard(dim)}`, the result its global value.

    Example:

    ```mlir
    // In a model with `lmc.mesh = #lmc.mesh<dp = 2, tp = 2>`.
    %y = lmc.all_gather %x over ["tp"] dim 2 : tensor<4x?x32xf32> -> tensor<4x?x64xf32>
    ```

    **Constraints:**
    - `input` is a ranked tensor of `f32`, `f64` or a signless integer type;
    - `dim` is within the rank of `input`;
    - the result has the element type and the rank of `input`, dimension
      `dim` multiplied by the group size (dynamic if `input`'s is), and the
      other dimensions of `input`;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated; there is a mesh in scope.
  }];
  let arguments = (ins LMC_CollectiveTensor:$input, StrArrayAttr:$axes,
                       I64Attr:$dim);
  let results = (outs LMC_CollectiveTensor:$result);
  let assemblyFormat = [{
    $input `over` $axes `dim` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

def LMC_ReduceScatterOp : LMC_CollectiveOp<"reduce_scatter", [Pure]> {
  let summary = "sums over a group, each rank keeping one block";
  let description = [{
    Sums `input` over the ranks of a group, as `all_reduce` does, and splits
    the sum along dimension `dim` into as many equal blocks as the group has
    ranks; the rank with group index `i` (the coordinates on `axes` read major
    to minor, as for `all_gather`) keeps block `i`. The operand's `dim` must
    be divisible by the group size; the result's is the quotient (dynamic
    stays dynamic, and divisibility is then checked when the program runs).
    Turns `partial` on `axes` into `shard(dim)`; in ZeRO-1 it replaces the
    gradient all-reduce, each rank updating its block of the parameters.

    Example:

    ```mlir
    // In a model with `lmc.mesh = #lmc.mesh<dp = 2>`.
    %g = lmc.reduce_scatter %x over ["dp"] dim 0 : tensor<8x64xf32> -> tensor<4x64xf32>
    ```

    **Constraints:**
    - `input` is a ranked tensor of `f32` or `f64`;
    - `dim` is within the rank of `input`;
    - a static dimension `dim` of `input` is divisible by the group size;
    - the result has the element type and the rank of `input`, dimension
      `dim` divided by the group size (dynamic if `input`'s is), and the
      other dimensions of `input`;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated; there is a mesh in scope.
  }];
  let arguments = (ins LMC_FloatTensor:$input, StrArrayAttr:$axes,
                       I64Attr:$dim);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `over` $axes `dim` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Asynchronous collectives
//===----------------------------------------------------------------------===//

def LMC_AllReduceStartOp : LMC_CollectiveOp<"all_reduce_start", [
    InferTypeOpAdaptor,
    MemoryEffects<[MemRead<LMC_CollectiveResource>,
                   MemWrite<LMC_CollectiveResource>]>]> {
  let summary = "starts an all_reduce";
  let description = [{
    Issues the all-reduce of `inputs` over `axes` (see `lmc.all_reduce`) and
    returns at once with one `!lmc.pending` per operand; `lmc.wait` yields the
    sums. Computation placed between the two overlaps the transfer.

    Unlike the blocking form, the op has an effect (on the collective
    resource), so generic transformations keep the asynchronous collectives
    in program order and do not delete them; every rank of a group must issue
    the collectives over it in the same order.

    Example:

    ```mlir
    %pa, %pb = lmc.all_reduce_start %a, %b over ["dp"] : tensor<64x256xf32>, tensor<256xf32>
    // ... computation ...
    %ga, %gb = lmc.wait %pa, %pb : !lmc.pending<tensor<64x256xf32>>, !lmc.pending<tensor<256xf32>>
    ```

    **Constraints:**
    - the constraints of `lmc.all_reduce`, result `k` being
      `!lmc.pending<T>` for the type `T` of operand `k`;
    - every result is used exactly once, by an `lmc.wait` in the same block.
  }];
  let arguments = (ins Variadic<LMC_FloatTensor>:$inputs, StrArrayAttr:$axes);
  let results = (outs Variadic<LMC_PendingType>:$pending);
  let assemblyFormat = [{
    $inputs `over` $axes attr-dict `:` type($inputs)
  }];
}

def LMC_AllGatherStartOp : LMC_CollectiveOp<"all_gather_start", [
    MemoryEffects<[MemRead<LMC_CollectiveResource>,
                   MemWrite<LMC_CollectiveResource>]>]> {
  let summary = "starts an all_gather";
  let description = [{
    Issues the all-gather of `input` over `axes` along `dim` (see
    `lmc.all_gather`) and returns at once; `lmc.wait` yields the gathered
    tensor. Ordered with the other asynchronous collectives like
    `lmc.all_reduce_start`.

    Example:

    ```mlir
    %p = lmc.all_gather_start %x over ["tp"] dim 2 : tensor<4x?x32xf32> -> !lmc.pending<tensor<4x?x64xf32>>
    %y = lmc.wait %p : !lmc.pending<tensor<4x?x64xf32>>
    ```

    **Constraints:**
    - the constraints of `lmc.all_gather`, with the result type `T` wrapped
      as `!lmc.pending<T>`;
    - the result is used exactly once, by an `lmc.wait` in the same block.
  }];
  let arguments = (ins LMC_CollectiveTensor:$input, StrArrayAttr:$axes,
                       I64Attr:$dim);
  let results = (outs LMC_PendingType:$pending);
  let assemblyFormat = [{
    $input `over` $axes `dim` $dim attr-dict `:` type($input) `->`
    qualified(type($pending))
  }];
}

def LMC_ReduceScatterStartOp : LMC_CollectiveOp<"reduce_scatter_start", [
    MemoryEffects<[MemRead<LMC_CollectiveResource>,
                   MemWrite<LMC_CollectiveResource>]>]> {
  let summary = "starts a reduce_scatter";
  let description = [{
    Issues the reduce-scatter of `input` over `axes` along `dim` (see
    `lmc.reduce_scatter`) and returns at once; `lmc.wait` yields this rank's
    block of the sum. Ordered with the other asynchronous collectives like
    `lmc.all_reduce_start`.

    Example:

    ```mlir
    %p = lmc.reduce_scatter_start %x over ["dp"] dim 0 : tensor<8x64xf32> -> !lmc.pending<tensor<4x64xf32>>
    %g = lmc.wait %p : !lmc.pending<tensor<4x64xf32>>
    ```

    **Constraints:**
    - the constraints of `lmc.reduce_scatter`, with the result type `T`
      wrapped as `!lmc.pending<T>`;
    - the result is used exactly once, by an `lmc.wait` in the same block.
  }];
  let arguments = (ins LMC_FloatTensor:$input, StrArrayAttr:$axes,
                       I64Attr:$dim);
  let results = (outs LMC_PendingType:$pending);
  let assemblyFormat = [{
    $input `over` $axes `dim` $dim attr-dict `:` type($input) `->`
    qualified(type($pending))
  }];
}

def LMC_WaitOp : LMC_Op<"wait", [
    InferTypeOpAdaptor, LMC_Collective,
    MemoryEffects<[MemRead<LMC_CollectiveResource>,
                   MemWrite<LMC_CollectiveResource>]>]> {
  let summary = "waits for asynchronous collectives to complete";
  let description = [{
    Blocks until the collectives that produced `pending` have completed on
    this rank and returns their results, one tensor per operand: the type
    inside each `!lmc.pending`. The op has an effect on the collective
    resource, so it is neither deleted nor moved across other asynchronous
    collectives by generic transformations.

    Example:

    ```mlir
    %p = lmc.all_reduce_start %g over ["dp"] : tensor<256xf32>
    %s = lmc.wait %p : !lmc.pending<tensor<256xf32>>
    // %s : tensor<256xf32>
    ```

    **Constraints:**
    - there is at least one operand;
    - every operand is a result of `lmc.all_reduce_start`,
      `lmc.all_gather_start` or `lmc.reduce_scatter_start`;
    - result `k` has the tensor type inside operand `k`'s `!lmc.pending`.
  }];
  let arguments = (ins Variadic<LMC_PendingType>:$pending);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$pending attr-dict `:` type($pending)";
  let hasVerifier = 1;
}

#endif // LMC_DIALECT_LMC_IR_LMCCOLLECTIVEOPS_TD
