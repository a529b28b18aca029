//===- LMCPointToPointOps.td - Point-to-point ops ----------*- tablegen -*-===//
//
// Ops that move a tensor from one rank of a group to another: a send, which
// completes locally at once, and a receive in a start/wait form (the
// pending result completed by `lmc.wait`), on tensors; and their forms on
// buffers (what bufferization makes of them, which convert-lmc-to-runtime
// makes calls into the runtime). Pipeline parallelism (`lmc-pipeline`)
// exchanges activations and their gradients between neighbouring stages
// with them. Included from LMCOps.td, after LMCCollectiveOps.td.
//
// Common to all of them:
// - `axes` names a group of the mesh in scope, as for the collectives
//   (LMCCollectiveOps.td), listed in mesh order; `peer` (after `to` or
//   `from`) is the other rank's index in this rank's group, row-major over
//   the group's axes: the rank that shares this rank's coordinates on the
//   other mesh axes and has coordinates `peer` (read as a mixed-radix number)
//   on `axes`;
// - `tag` (>= 0) tells messages between the same two ranks apart: a
//   receive matches the send of its peer with the same tag, and the messages
//   with one tag between one pair of ranks are matched in program order;
// - element types are f32 and i64 (activations, and their dynamic sizes);
// - the ops have an effect on the collective resource: generic
//   transformations neither reorder them with other communication nor
//   delete them; they carry the Collective trait, so fusion never moves
//   one into a kernel.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCPOINTTOPOINTOPS_TD
#define LMC_DIALECT_LMC_IR_LMCPOINTTOPOINTOPS_TD

/// The tensors a point-to-point op moves.
def LMC_PointToPointTensor : RankedTensorOf<[F32, I64]>;
/// The buffers of the forms on buffers.
def LMC_PointToPointMemRef : MemRefOf<[F32, I64]>;

/// A point-to-point op: communicates, with an effect on the collective
/// resource.
class LMC_PointToPointOp<string mnemonic, list<Trait> traits = []>
    : LMC_Op<mnemonic, !listconcat(traits, [
        LMC_Collective,
        MemoryEffects<[MemRead<LMC_CollectiveResource>,
                       MemWrite<LMC_CollectiveResource>]>])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// On tensors
//===----------------------------------------------------------------------===//

def LMC_SendOp : LMC_PointToPointOp<"send"> {
  let summary = "sends a tensor to another rank of a group";
  let description = [{
    Sends `input` to the rank with index `peer` in this rank's group of
    `axes`, where the `lmc.recv_start` with the same `tag` from this rank
    receives it. The op completes locally at once: the runtime copies the
    data (or, on the GPU, queues the transfer in order with the
    computation), so the tensor's buffer may be freed or reused right after
    it. It has no result; its effect on the collective resource keeps it in
    program order with the other communication and alive.

    Example:

    ```mlir
    lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
      func.func @f(%x: tensor<?x?x64xf32>) {
        lmc.send %x to 1 over ["pp"] tag 12 : tensor<?x?x64xf32>
        return
      }
    }
    ```

    **Constraints:**
    - `input` is a ranked tensor of `f32` or `i64`;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated, listed in mesh order; there is a mesh in scope;
    - `0 <= peer <` the group size (the product of the sizes of `axes`);
    - `tag >= 0`.
  }];
  let arguments = (ins LMC_PointToPointTensor:$input, I64Attr:$peer,
                       StrArrayAttr:$axes, I64Attr:$tag);
  let assemblyFormat = [{
    $input `to` $peer `over` $axes `tag` $tag attr-dict `:` type($input)
  }];
}

def LMC_RecvStartOp : LMC_PointToPointOp<"recv_start"> {
  let summary = "starts receiving a tensor from another rank of a group";
  let description = [{
    Starts receiving the tensor that the rank with index `peer` in this
    rank's group of `axes` sends with `tag` (`lmc.send`), and returns at
    once; `lmc.wait` on the pending result yields the tensor. Computation
    placed between the two overlaps the transfer.

    The received tensor has the type inside the pending one; its dynamic
    sizes are the `dynamic_sizes` operands, one per dynamic dimension in
    order (as for `tensor.empty`). The message must hold exactly as many
    elements as that shape: the runtime reports a mismatch.

    Example:

    ```mlir
    // In a model with `lmc.mesh = #lmc.mesh<pp = 2, tp = 2>`.
    %p = lmc.recv_start from 0 over ["pp"] tag 12 [%d0, %d1] : !lmc.pending<tensor<?x?x64xf32>>
    // ... computation ...
    %x = lmc.wait %p : !lmc.pending<tensor<?x?x64xf32>>
    ```

    **Constraints:**
    - the result is `!lmc.pending<T>` for a ranked tensor `T` of `f32` or
      `i64`;
    - there is one `dynamic_sizes` operand per dynamic dimension of `T`;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated, listed in mesh order; there is a mesh in scope;
    - `0 <= peer <` the group size (the product of the sizes of `axes`);
    - `tag >= 0`;
    - the result is used exactly once, by an `lmc.wait` in the same block.
  }];
  let arguments = (ins I64Attr:$peer, StrArrayAttr:$axes, I64Attr:$tag,
                       Variadic<Index>:$dynamic_sizes);
  let results = (outs LMC_PendingType:$pending);
  let assemblyFormat = [{
    `from` $peer `over` $axes `tag` $tag (` ` `[` $dynamic_sizes^ `]`)?
    attr-dict `:` qualified(type($pending))
  }];
  let extraClassDeclaration = [{
    /// The tensor type the wait yields.
    ::mlir::RankedTensorType getValueType() {
      return getPending().getType().getValueType();
    }
  }];
}

//===----------------------------------------------------------------------===//
// On buffers
//===----------------------------------------------------------------------===//

def LMC_BufferSendOp : LMC_PointToPointOp<"buffer_send"> {
  let summary = "sends a buffer to another rank of a group";
  let description = [{
    What `lmc.send` becomes in bufferization: sends the elements of `input`
    (any layout, read row-major) to the rank with index `peer` in this
    rank's group of `axes`, with `tag`. Completes locally at once: the
    runtime copies the data before it returns (the GPU runtime orders the
    transfer after the work queued before it), so `input` may be written or
    freed right after the op. `convert-lmc-to-runtime` makes it one call
    into the runtime, whose group argument is the axis mask of `axes`.

    Example:

    ```mlir
    // In a module with `lmc.mesh = #lmc.mesh<pp = 2, tp = 2>`.
    lmc.buffer_send %b to 1 over ["pp"] tag 12 : memref<4x8x64xf32>
    ```

    **Constraints:**
    - `input` is a memref of `f32` or `i64`;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated, listed in mesh order; there is a mesh in scope;
    - `0 <= peer <` the group size (the product of the sizes of `axes`);
    - `tag >= 0`.
  }];
  let arguments = (ins Arg<LMC_PointToPointMemRef, "", [MemRead]>:$input,
                       I64Attr:$peer, StrArrayAttr:$axes, I64Attr:$tag);
  let assemblyFormat = [{
    $input `to` $peer `over` $axes `tag` $tag attr-dict `:` type($input)
  }];
}

def LMC_BufferRecvStartOp : LMC_PointToPointOp<"buffer_recv_start"> {
  let summary = "starts receiving into a buffer from another rank of a group";
  let description = [{
    What `lmc.recv_start` becomes in bufferization: starts receiving the
    message that the rank with index `peer` in this rank's group of `axes`
    sends with `tag` into `output` (any layout, written row-major), and
    returns a handle at once. The transfer writes `output` until
    `lmc.buffer_wait` on the handle returns: until then the buffer may be
    neither read, written nor freed. The message must hold as many elements
    as `output`.

    Example:

    ```mlir
    %h = lmc.buffer_recv_start %b from 0 over ["pp"] tag 12 : memref<4x8x64xf32>
    // ... computation ...
    lmc.buffer_wait %h
    ```

    **Constraints:**
    - `output` is a memref of `f32` or `i64`;
    - `axes` is non-empty, every entry an axis of the mesh in scope, none
      repeated, listed in mesh order; there is a mesh in scope;
    - `0 <= peer <` the group size (the product of the sizes of `axes`);
    - `tag >= 0`;
    - the handle is used exactly once, by an `lmc.buffer_wait` in the same
      block.
  }];
  let arguments = (ins Arg<LMC_PointToPointMemRef, "", [MemWrite]>:$output,
                       I64Attr:$peer, StrArrayAttr:$axes, I64Attr:$tag);
  let results = (outs I64:$handle);
  let assemblyFormat = [{
    $output `from` $peer `over` $axes `tag` $tag attr-dict `:` type($output)
  }];
}

#endif // LMC_DIALECT_LMC_IR_LMCPOINTTOPOINTOPS_TD
