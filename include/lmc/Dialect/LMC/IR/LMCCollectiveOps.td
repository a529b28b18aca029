//===- LMCCollectiveOps.td - Collective ops ----------------*- tablegen -*-===//
//
// Ops of a partitioned (SPMD) program that exchange data between the ranks
// of a mesh: all-reduce, all-gather and reduce-scatter, in a blocking form
// and an asynchronous start/wait form, on tensors, and their forms on
// buffers (what bufferization makes of them, which convert-lmc-to-runtime
// makes calls into the runtime). All of them but the waits implement the
// collective op interface (LMCCollectiveInterface.td). Included from
// LMCOps.td.
//
// Common to all of them:
// - operands and results are one rank's (local) tensors or buffers;
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

include "lmc/Dialect/LMC/IR/LMCCollectiveInterface.td"

/// The collective communication of a program: asynchronous collectives
/// write it, so they stay in program order with respect to one another.
def LMC_CollectiveResource : Resource<"::mlir::lmc::CollectiveResource">;

def LMC_CollectiveTensor : RankedTensorOf<[F32, F64, I8, I16, I32, I64]>;

def LMC_CollectiveAllReduce : I32EnumAttrCase<"all_reduce", 0>;
def LMC_CollectiveAllGather : I32EnumAttrCase<"all_gather", 1>;
def LMC_CollectiveReduceScatter : I32EnumAttrCase<"reduce_scatter", 2>;
def LMC_CollectiveKindAttr : I32EnumAttr<"CollectiveKind",
    "what a collective computes",
    [LMC_CollectiveAllReduce, LMC_CollectiveAllGather,
     LMC_CollectiveReduceScatter]> {
  let cppNamespace = "::mlir::lmc";
}

/// Marks the ops that communicate between ranks (all of this file's), so that
/// passes can tell them apart without a list: fusion groups never hold one.
def LMC_Collective : NativeOpTrait<"Collective"> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

/// A collective on tensors: `kind` is what it computes, `start` whether it
/// is the asynchronous form, `hasDim` whether it has a `dim` (gathers and
/// scatters).
class LMC_CollectiveOp<string mnemonic, string kind, bit start, bit hasDim,
                       list<Trait> traits = []>
    : LMC_Op<mnemonic, !listconcat(traits, [
        LMC_Collective, LMC_CollectiveOpInterface])> {
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::lmc::CollectiveKind getCollectiveKind() {
      return ::mlir::lmc::CollectiveKind::}] # kind # [{;
    }
    bool isStart() { return }] # !if(start, "true", "false") # [{; }
    std::optional<int64_t> getCollectiveDim() {
      return }] # !if(hasDim, "static_cast<int64_t>(getDim())",
                      "std::nullopt") # [{;
    }
  }];
}

//===----------------------------------------------------------------------===//
// Blocking collectives
//===----------------------------------------------------------------------===//

def LMC_AllReduceOp : LMC_CollectiveOp<"all_reduce", "all_reduce", 0, 0, [
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

def LMC_AllGatherOp : LMC_CollectiveOp<"all_gather", "all_gather", 0, 1,
                                        [Pure]> {
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

def LMC_ReduceScatterOp : LMC_CollectiveOp<"reduce_scatter",
                                            "reduce_scatter", 0, 1, [Pure]> {
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

def LMC_AllReduceStartOp : LMC_CollectiveOp<"all_reduce_start", "all_reduce",
                                            1, 0, [
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

def LMC_AllGatherStartOp : LMC_CollectiveOp<"all_gather_start", "all_gather",
                                            1, 1, [
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

def LMC_ReduceScatterStartOp : LMC_CollectiveOp<"reduce_scatter_start",
                                                "reduce_scatter", 1, 1, [
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
    Blocks until the collectives or receives (`lmc.recv_start`) that
    produced `pending` have completed on this rank and returns their
    results, one tensor per operand: the type inside each `!lmc.pending`. The op has an effect on the collective
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
      `lmc.all_gather_start`, `lmc.reduce_scatter_start` or
      `lmc.recv_start`;
    - result `k` has the tensor type inside operand `k`'s `!lmc.pending`.
  }];
  let arguments = (ins Variadic<LMC_PendingType>:$pending);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$pending attr-dict `:` type($pending)";
  let hasVerifier = 1;
}


//===----------------------------------------------------------------------===//
// Collectives on buffers
//===----------------------------------------------------------------------===//

def LMC_BufferCollectiveOp : LMC_Op<"buffer_collective", [
    LMC_Collective,
    LMC_CollectiveOpInterface]> {
  let summary = "a collective from one buffer into another";
  let description = [{
    What `lmc.all_reduce`, `lmc.all_gather` and `lmc.reduce_scatter` (`kind`)
    become in bufferization: the rank's `input` buffer is reduced, gathered
    or scattered over the group of `axes` into `output`, which it overwrites
    (see the tensor ops for the semantics; `dim` is the dimension a gather
    or scatter works along). `input` and `output` may be the same buffer (a
    bucket is all-reduced in place). `convert-lmc-to-runtime` makes it one
    call into the runtime, whose group argument is the axis mask of `axes`
    (`MeshAttr::getAxisMask`).

    Example:

    ```mlir
    // In a module with `lmc.mesh = #lmc.mesh<dp = 2, tp = 2>`.
    lmc.buffer_collective all_reduce %b into %b over ["dp"] : memref<320xf32>, memref<320xf32>
    lmc.buffer_collective all_gather %x into %y over ["tp"] dim 1
        : memref<4x32xf32, strided<[64, 1]>>, memref<4x64xf32>
    ```

    **Constraints:**
    - `input` and `output` are float32 memrefs of the same rank;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated; there is a mesh in scope;
    - an `all_reduce` has no `dim`, and `output` has `input`'s shape;
    - an `all_gather` or `reduce_scatter` has a `dim` within the rank, lists
      `axes` in mesh order (the runtime numbers a group's ranks row-major
      over the mesh's axes), and `output` has `input`'s static sizes except
      along `dim`, where a static size is `input`'s multiplied (gather) or
      divided (scatter, which must divide) by the group size.
  }];
  let arguments = (ins LMC_CollectiveKindAttr:$kind,
                       Arg<MemRefOf<[F32]>, "", [MemRead]>:$input,
                       Arg<MemRefOf<[F32]>, "", [MemWrite]>:$output,
                       StrArrayAttr:$axes, OptionalAttr<I64Attr>:$dim);
  let assemblyFormat = [{
    $kind $input `into` $output `over` $axes (`dim` $dim^)? attr-dict `:`
    type($input) `,` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::lmc::CollectiveKind getCollectiveKind() { return getKind(); }
    bool isStart() { return false; }
    std::optional<int64_t> getCollectiveDim() { return getDim(); }
    /// `input`, and `output`.
    ::mlir::ValueRange getCollectiveInputs();
    ::mlir::ValueRange getCollectiveOutputs();
  }];
}

def LMC_BufferCollectiveStartOp : LMC_Op<"buffer_collective_start", [
    LMC_Collective,
    LMC_CollectiveOpInterface,
    MemoryEffects<[MemRead<LMC_CollectiveResource>,
                   MemWrite<LMC_CollectiveResource>]>]> {
  let summary = "starts a collective from one buffer into another";
  let description = [{
    The asynchronous form of `lmc.buffer_collective` (what the start ops on
    tensors become in bufferization): starts the transfer and returns a
    handle at once. The transfer reads `input` and writes `output` until
    `lmc.buffer_wait` on the handle returns: until then neither buffer may
    be freed, `output` read, nor `input` written.

    Example:

    ```mlir
    %h = lmc.buffer_collective_start reduce_scatter %g into %s over ["dp"] dim 0
        : memref<8x64xf32>, memref<4x64xf32>
    // ... computation ...
    lmc.buffer_wait %h
    ```

    The handle may instead be returned from the function: the transfer
    then outlives it, and the caller passes the handle to a function that
    waits for it (`lmc_dp_average_start` and `_finish`,
    `lmc-export-entry-points`); the buffers are then the caller's.

    **Constraints:**
    - the constraints of `lmc.buffer_collective`;
    - the handle is used exactly once, by an `lmc.buffer_wait` in the same
      block, or by the `func.return` of the block, when `input` and
      `output` are arguments of the function.
  }];
  let arguments = (ins LMC_CollectiveKindAttr:$kind,
                       Arg<MemRefOf<[F32]>, "", [MemRead]>:$input,
                       Arg<MemRefOf<[F32]>, "", [MemWrite]>:$output,
                       StrArrayAttr:$axes, OptionalAttr<I64Attr>:$dim);
  let results = (outs I64:$handle);
  let assemblyFormat = [{
    $kind $input `into` $output `over` $axes (`dim` $dim^)? attr-dict `:`
    type($input) `,` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::lmc::CollectiveKind getCollectiveKind() { return getKind(); }
    bool isStart() { return true; }
    std::optional<int64_t> getCollectiveDim() { return getDim(); }
    /// `input`, and `output`.
    ::mlir::ValueRange getCollectiveInputs();
    ::mlir::ValueRange getCollectiveOutputs();
    /// The lmc.buffer_wait that completes this transfer (null only for an
    /// op that does not verify).
    ::mlir::Operation *getWait() {
      return getHandle().hasOneUse() ? *getHandle().getUsers().begin()
                                     : nullptr;
    }
  }];
}

def LMC_BufferWaitOp : LMC_Op<"buffer_wait", [
    LMC_Collective,
    MemoryEffects<[MemRead<LMC_CollectiveResource>,
                   MemWrite<LMC_CollectiveResource>]>]> {
  let summary = "waits for collectives started on buffers";
  let description = [{
    Blocks until the transfers of `handles` (results of
    `lmc.buffer_collective_start` or `lmc.buffer_recv_start`) have completed
    on this rank, in operand order: their output buffers then hold the
    results. What `lmc.wait`
    becomes in bufferization; `convert-lmc-to-runtime` makes it one runtime
    call per handle.

    Example:

    ```mlir
    %h = lmc.buffer_collective_start all_reduce %b into %b over ["dp"] : memref<320xf32>, memref<320xf32>
    lmc.buffer_wait %h
    ```

    **Constraints:**
    - there is at least one handle;
    - every handle is a result of `lmc.buffer_collective_start` or
      `lmc.buffer_recv_start`, or an argument of the enclosing function (a
      handle another function started and returned), listed once.
  }];
  let arguments = (ins Variadic<I64>:$handles);
  let assemblyFormat = "$handles attr-dict";
  let hasVerifier = 1;
}

#endif // LMC_DIALECT_LMC_IR_LMCCOLLECTIVEOPS_TD
