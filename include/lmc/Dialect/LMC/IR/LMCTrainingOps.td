//===- LMCTrainingOps.td - Backward and optimizer ops ------*- tablegen -*-===//
//
// Ops that the training passes emit: general tensor ops the gradient rules
// need, the fused gradients of the forward ops, and the AdamW update.
// Included from LMCOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCTRAININGOPS_TD
#define LMC_DIALECT_LMC_IR_LMCTRAININGOPS_TD

//===----------------------------------------------------------------------===//
// General tensor ops
//===----------------------------------------------------------------------===//

def LMC_ZerosLikeOp : LMC_Op<"zeros_like", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "a tensor of zeros shaped like its operand";
  let description = [{
    Zeros with the type and run-time shape of `input`, e.g. the gradient of a
    result that does not reach the loss.

    Example:

    ```mlir
    %z = lmc.zeros_like %x : tensor<?x?x64xf32>
    ```

    **Constraints:**
    - the result type equals the input type.
  }];
  let arguments = (ins LMC_FloatTensor:$input);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def LMC_MulOp : LMC_Op<"mul", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    // Elementwise; the two products of its own gradient rule (dy * rhs and
    // dy * lhs) are siblings through dy, so that the backward pass of a
    // gated MLP is one group.
    LMC_Fusion<"Elementwise", [0, 1], 1, [], "mul", 9, [], /*siblings=*/[0]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "elementwise product";
  let description = [{
    `result = lhs * rhs` elementwise, for tensors of the same type. Two
    products with the same `lhs` (the gradients of a product, `dy * rhs`
    and `dy * lhs`) are fused into one group (sibling operand 0).

    Example:

    ```mlir
    %y = lmc.mul %a, %b : tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `lhs`, `rhs` and the result have the same type.
  }];
  let arguments = (ins LMC_FloatTensor:$lhs, LMC_FloatTensor:$rhs);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LMC_ReduceSumOp : LMC_Op<"reduce_sum", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Reduction<[0], "reduce_sum", 8>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "sum over the given dimensions";
  let description = [{
    Sums `input` over `dims`, which are dropped from the result; summing
    over every dimension gives a 0-d tensor.

    Example:

    ```mlir
    %db = lmc.reduce_sum %dy dims [0, 1] : tensor<?x?x192xf32>
    // %db : tensor<192xf32>
    %s = lmc.reduce_sum %x dims [0, 1, 2] : tensor<?x?x64xf32>
    // %s : tensor<f32>
    ```

    **Constraints:**
    - `dims` are strictly increasing and within the rank of `input`.
  }];
  let arguments = (ins LMC_FloatTensor:$input, DenseI64ArrayAttr:$dims);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input `dims` $dims attr-dict `:` type($input)";
}

def LMC_BroadcastOp : LMC_Op<"broadcast", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, Pure, AllTypesMatch<["like", "result"]>]> {
  let summary = "repeats a tensor along new dimensions";
  let description = [{
    The inverse shape map of `reduce_sum`: inserts the dimensions `dims` of
    the result, whose sizes are taken from `like`, and repeats `input` along
    them. The gradient of `reduce_sum`.

    Example:

    ```mlir
    %y = lmc.broadcast %s like %x dims [0, 1, 2] : tensor<f32>, tensor<?x?x64xf32>
    ```

    **Constraints:**
    - the result has the type of `like`;
    - `dims` are strictly increasing and within the rank of `like`, and the
      other dimensions of `like`, in order, are those of `input`.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$like,
                       DenseI64ArrayAttr:$dims);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `like` $like `dims` $dims attr-dict `:` type($input) `,` type($like)
  }];
  let hasVerifier = 1;
}

def LMC_TransposeOp : LMC_Op<"transpose", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "swaps the last two dimensions";
  let description = [{
    `result[..., j, i] = input[..., i, j]`.

    Example:

    ```mlir
    %t = lmc.transpose %x : tensor<?x64x192xf32>
    // %t : tensor<?x192x64xf32>
    ```

    **Constraints:**
    - `input` has rank at least 2.
  }];
  let arguments = (ins LMC_FloatTensor:$input);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def LMC_FlattenOp : LMC_Op<"flatten", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    LMC_BF16StorageOpInterface, LMC_BF16PassThrough,
    Pure, InferTypeOpAdaptor]> {
  let summary = "collapses the leading dimensions into one";
  let description = [{
    `[d0, ..., dn-2, K] -> [d0 * ... * dn-2, K]`, row-major: the rows of a
    batch of activations as one matrix (e.g. for a weight gradient).

    Example:

    ```mlir
    %f = lmc.flatten %x : tensor<?x?x64xf32>
    // %f : tensor<?x64xf32>
    ```

    It moves bfloat16 as it moves float32 (`lmc-bf16-storage` stores a
    flattened activation as bfloat16 when its source is).

    **Constraints:**
    - `input` has rank at least 2;
    - `result` has `input`'s element type (float32, float64, or bfloat16
      after `lmc-bf16-storage`).
  }];
  let arguments = (ins LMC_StoredTensor:$input);
  let results = (outs LMC_StoredTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDeclaration = [{
    /// `[d0, ..., K]` as `[d0 * ..., K]` (dynamic if any leading size is).
    static ::mlir::RankedTensorType
    flattenedType(::mlir::RankedTensorType type);
  }];
}

def LMC_UnflattenOp : LMC_Op<"unflatten", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, Pure, AllTypesMatch<["like", "result"]>]> {
  let summary = "the inverse of flatten, shaped like a reference";
  let description = [{
    Reshapes the `[R, K]` matrix `input` to the type and run-time leading
    sizes of `like` (whose leading sizes multiply to `R`). The gradient of
    `flatten`.

    Example:

    ```mlir
    %x = lmc.unflatten %f like %ref : tensor<?x64xf32>, tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `input` is rank 2; `like` has rank at least 2;
    - the result has the type of `like`, and the same last dimension as
      `input`.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$like);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `like` $like attr-dict `:` type($input) `,` type($like)
  }];
  let hasVerifier = 1;
}

def LMC_ConcatOp : LMC_Op<"concat", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>, LMC_Layout,
    LMC_BF16StorageOpInterface, LMC_BF16PassThrough, Pure,
    InferTypeOpAdaptor]> {
  let summary = "concatenates along the last dimension";
  let description = [{
    The inverse of `split`: joins equally typed tensors along their last
    dimension, in operand order.

    Example:

    ```mlir
    %qkv = lmc.concat %q, %k, %v : tensor<?x?x64xf32>
    // %qkv : tensor<?x?x192xf32>
    ```

    It moves bfloat16 as it moves float32 (`lmc-bf16-storage` stores the
    result as bfloat16 when the operands are).

    **Constraints:**
    - at least one operand; all operands have one type, of rank at least 1
      with a static last dimension.
  }];
  let arguments = (ins Variadic<LMC_StoredTensor>:$inputs);
  let results = (outs LMC_StoredTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type(operands)";
}

//===----------------------------------------------------------------------===//
// Gradients of the forward ops
//===----------------------------------------------------------------------===//

def LMC_GeluGradOp : LMC_Op<"gelu_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Elementwise<[0, 1], "gelu_grad", 5>,
    Pure, AllTypesMatch<["input", "grad", "result"]>]> {
  let summary = "gradient of gelu";
  let description = [{
    `result = grad * gelu'(input)`, with the derivative of the same
    approximation as the forward op.

    Example:

    ```mlir
    %dx = lmc.gelu_grad %x, %dy tanh : tensor<?x?x256xf32>
    ```

    **Constraints:**
    - `input`, `grad` and the result have the same type.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$grad,
                       LMC_GeluApproximationAttr:$approximation);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $grad $approximation attr-dict `:` type($input)
  }];
}

def LMC_SiluGradOp : LMC_Op<"silu_grad", [
    LMC_Elementwise<[0, 1], "silu_grad", 5>,
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    Pure, AllTypesMatch<["input", "grad", "result"]>]> {
  let summary = "gradient of silu";
  let description = [{
    `result = grad * silu'(input)`, where, with `s = sigmoid(input)` (in the
    overflow-free form of `lmc.silu`), `silu'(x) = s * (1 + x * (1 - s))`.

    Example:

    ```mlir
    %dx = lmc.silu_grad %x, %dy : tensor<?x?x256xf32>
    ```

    **Constraints:**
    - `input`, `grad` and the result have the same type, a ranked tensor of
      `f32` or `f64`.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$grad);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($input)";
}

def LMC_LayerNormGradOp : LMC_Op<"layer_norm_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_RowWise<[0, 2], "layer_norm_grad", 1, /*allResults=*/0, [0]>,
    Pure, AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["weight", "weight_grad", "bias_grad"]>]> {
  let summary = "gradient of layer_norm";
  let description = [{
    Given the forward input `x`, `weight` and the result gradient `grad`,
    returns the gradients of the input, the weight and the bias. The mean and
    inverse standard deviation are recomputed from `x`.

    Example:

    ```mlir
    %dx, %dw, %db = lmc.layer_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    ```

    **Constraints:**
    - as for `layer_norm`: `weight` is a vector of the size of the last,
      static dimension of `input`; `eps` is greater than zero.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$weight,
                       LMC_FloatTensor:$grad, F64Attr:$eps);
  let results = (outs LMC_FloatTensor:$input_grad,
                      LMC_FloatTensor:$weight_grad,
                      LMC_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $grad `eps` `(` $eps `)` attr-dict `:`
    type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def LMC_RMSNormGradOp : LMC_Op<"rms_norm_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_RowWise<[0, 2], "rms_norm_grad", 1, /*allResults=*/0, [0]>,
    Pure, AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["weight", "weight_grad"]>]> {
  let summary = "gradient of rms_norm";
  let description = [{
    Given the forward input `x`, `weight` and the result gradient `grad`,
    returns the gradients of the input and of the weight. The inverse root
    mean square `r = rsqrt(mean(x * x) + eps)` of each row is recomputed
    from `x`; over the `C` channels of a row, with `g = grad * weight`:
    `input_grad = r * (g - x * r^2 * mean(g * x))` and `weight_grad` is the
    sum over the rows of `grad * x * r`.

    Example:

    ```mlir
    %dx, %dw = lmc.rms_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    ```

    **Constraints:**
    - as for `rms_norm`: `weight` is a vector of the size of the last,
      static dimension of `input`, of its element type; `eps` is greater
      than zero;
    - `grad` and the input gradient have the type of `input`, the weight
      gradient the type of `weight`.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$weight,
                       LMC_FloatTensor:$grad, F64Attr:$eps);
  let results = (outs LMC_FloatTensor:$input_grad,
                      LMC_FloatTensor:$weight_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $grad `eps` `(` $eps `)` attr-dict `:`
    type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def LMC_SoftmaxGradOp : LMC_Op<"softmax_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_RowWise<[0, 1], "softmax_grad", 3>,
    Pure, AllTypesMatch<["output", "grad", "result"]>]> {
  let summary = "gradient of softmax from its output";
  let description = [{
    With `y` the softmax output and `g` its gradient, over the last
    dimension: `result = y * (g - sum(g * y))`.

    Example:

    ```mlir
    %ds = lmc.softmax_grad %p, %dp : tensor<?x2x?x?xf32>
    ```

    **Constraints:**
    - `output`, `grad` and the result have one type of rank at least 1.
  }];
  let arguments = (ins LMC_FloatTensor:$output, LMC_FloatTensor:$grad);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$output `,` $grad attr-dict `:` type($output)";
  let hasVerifier = 1;
}

def LMC_EmbeddingGradOp : LMC_Op<"embedding_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,Pure,
    AttrSizedOperandSegments,
    OptionalTypesMatchWith<"acc has the result's type", "result", "acc",
                           "$_self">]> {
  let summary = "gradient of embedding: scatter-add into the table";
  let description = [{
    `result[v, c] = sum over (b, t) with ids[b, t] == v of grad[b, t, c]`,
    for a table of `result`'s type.

    With `offset` (the gradient of an `embedding` with that offset), the
    result is the block of rows `[offset, offset + V)` of the gradient of a
    larger table: `result[v, c]` sums the positions with
    `ids[b, t] - offset == v`; ids outside the block contribute nothing.

    With `into` (made by `lmc-embedding-grad-accumulate`, after
    partitioning), the sums are added to `acc` instead of to zeros:
    `result = acc + the scatter-add`, the positions added in order to
    `acc`'s elements (a tied LM head's weight gradient, so the table
    gradient is neither zeroed nor added in a pass of its own).

    Example:

    ```mlir
    %dwte = lmc.embedding_grad %dx[%tokens] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
    %dblock = lmc.embedding_grad %dx[%tokens] offset(%off) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
    %dtied = lmc.embedding_grad %dx[%tokens] into(%dhead) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
    ```

    **Constraints:**
    - `grad` is rank 3 and `ids` rank 2 with matching leading dimensions
      where static;
    - `offset`, when present, is an `index`;
    - the result is a static rank-2 tensor with the channels and element type
      of `grad`;
    - `acc`, when present, has the result's type.
  }];
  let arguments = (ins LMC_FloatTensor:$grad, LMC_IdTensor:$ids,
                       Optional<Index>:$offset,
                       Optional<LMC_FloatTensor>:$acc);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `[` $ids `]` (`offset` `(` $offset^ `)`)?
    (`into` `(` $acc^ `)`)? attr-dict `:`
    type($grad) `,` type($ids) `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$grad,
                   "::mlir::Value":$ids), [{
      build($_builder, $_state, result, grad, ids, ::mlir::Value(),
            ::mlir::Value());
    }]>,
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$grad,
                   "::mlir::Value":$ids, "::mlir::Value":$offset), [{
      build($_builder, $_state, result, grad, ids, offset, ::mlir::Value());
    }]>
  ];
  let hasVerifier = 1;
}

def LMC_PositionEmbeddingGradOp : LMC_Op<"position_embedding_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,Pure]> {
  let summary = "gradient of position_embedding: sum over the batch";
  let description = [{
    `result[t, c] = sum over b of grad[b, t, c]` for `t` below the sequence
    length, and zero for the remaining rows of the table.

    Example:

    ```mlir
    %dwpe = lmc.position_embedding_grad %dx : tensor<?x?x64xf32> -> tensor<64x64xf32>
    ```

    **Constraints:**
    - `grad` is rank 3;
    - the result is a static rank-2 tensor with the channels and element type
      of `grad`, and at least as many rows as a static sequence length.
  }];
  let arguments = (ins LMC_FloatTensor:$grad);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$grad attr-dict `:` type($grad) `->` type($result)";
  let hasVerifier = 1;
}

def LMC_CrossEntropyGradOp : LMC_Op<"cross_entropy_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    LMC_RowWise<[0], "cross_entropy", 0, 1, [], [], /*siblings=*/[0, 1]>,
    LMC_BF16StorageOpInterface, LMC_BF16Output, Pure]> {
  let summary = "gradient of the mean cross-entropy with respect to logits";
  let description = [{
    `result = (softmax(logits) - onehot(targets)) * grad / N`, with `N` the
    number of positions and `grad` the 0-d gradient of the loss. With
    `classes(C)` (the `classes` of its `cross_entropy`) the softmax is over
    the first `C` columns and the result is exactly 0 in the padding
    columns `[C, V)`.

    Example:

    ```mlir
    %dl = lmc.cross_entropy_grad %logits, %targets, %dloss : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
    %dp = lmc.cross_entropy_grad %logits, %targets, %dloss classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
    %db = lmc.cross_entropy_grad %logits, %targets, %dloss : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32> -> tensor<?x?x256xbf16>
    ```

    `lmc-bf16-storage` may store the result as bfloat16 (when only GEMMs
    read it): computed in float32 and rounded once; the type is then
    printed after `->`.

    **Constraints:**
    - as for `cross_entropy`; `grad` is a 0-d tensor of the logits' element
      type;
    - `result` has the logits' type, or their shape with bfloat16 elements
      when the logits are float32.
  }];
  let arguments = (ins LMC_FloatTensor:$logits, LMC_IdTensor:$targets,
                       LMC_ScalarFloatTensor:$grad,
                       OptionalAttr<I64Attr>:$classes);
  let results = (outs LMC_StoredTensor:$result);
  let assemblyFormat = [{
    $logits `,` $targets `,` $grad (`classes` `(` $classes^ `)`)? attr-dict
    `:` type($logits) `,` type($targets) `,` type($grad)
    custom<StoredType>(type($result), ref(type($logits)))
  }];
  let builders = [
    // The gradient of the logits' type.
    OpBuilder<(ins "::mlir::Value":$logits, "::mlir::Value":$targets,
                   "::mlir::Value":$grad, "::mlir::IntegerAttr":$classes), [{
      build($_builder, $_state, logits.getType(), logits, targets, grad,
            classes);
    }]>,
  ];
  let hasVerifier = 1;
}

def LMC_ChunkedHeadLossOp : LMC_Op<"chunked_head_loss", [
    Pure, InferTypeOpAdaptor]> {
  let summary = "LM head, mean cross-entropy and their gradients, in row chunks";
  let description = [{
    What `lmc-chunk-loss-head` puts in place of a training step's LM head and
    loss: the logits `op(input, weight)` (`input` `[..., C]`; `weight`
    `[C, V]`, or `[V, C]` read transposed with `transpose_b`), their mean
    cross-entropy against `targets` (as `lmc.cross_entropy`, with
    `classes(N)` the padded vocabulary), and, for the loss gradient `seed`,
    the gradients of `input` and of `weight` (as `lmc.cross_entropy_grad`
    followed by the two matmuls of the matmul's gradient rule). The logits
    are never whole: the runtime's kernel (`lmc.buffer_head_loss`, a call
    into the runtime) walks `rows` rows of the flattened `input` at a time,
    holding `rows x V` logits, overwriting that block of `input_grad` and
    accumulating `weight_grad`. The GEMMs run at the compute precision of
    the others (`convert-lmc-to-runtime`'s `precision`).

    Example:

    ```mlir
    %loss, %dx, %dw = lmc.chunked_head_loss %x, %wte, %targets, %seed
        transpose_b classes(250) rows(128)
        : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
    // %loss : tensor<f32>, %dx : tensor<?x?x64xf32>, %dw : tensor<256x64xf32>
    ```

    **Constraints:**
    - `input` is a float32 tensor of rank at least 2 with a static last
      (channel) dimension C;
    - `weight` is a static float32 `[C, V]` matrix, `[V, C]` with
      `transpose_b`;
    - `targets` is an `i32` tensor of one rank less than `input`, with its
      leading dimensions where both are static;
    - `classes`, when present, is in `[1, V]`; `rows` is at least 1;
    - the results are the loss (`tensor<f32>`) and the gradients, of the
      types of `input` and `weight`.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input,
                       RankedTensorOf<[F32]>:$weight,
                       RankedTensorOf<[I32]>:$targets,
                       0DTensorOf<[F32]>:$seed, UnitAttr:$transpose_b,
                       OptionalAttr<I64Attr>:$classes, I64Attr:$rows);
  let results = (outs 0DTensorOf<[F32]>:$loss,
                      RankedTensorOf<[F32]>:$input_grad,
                      RankedTensorOf<[F32]>:$weight_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $targets `,` $seed (`transpose_b` $transpose_b^)?
    (`classes` `(` $classes^ `)`)? `rows` `(` $rows `)` attr-dict `:`
    type($input) `,` type($weight) `,` type($targets) `,` type($seed)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def LMC_AdamWOp : LMC_Op<"adamw", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Update<"adamw", 7>,
    Pure, AllTypesMatch<["param", "grad", "exp_avg", "exp_avg_sq",
                         "new_param", "new_exp_avg", "new_exp_avg_sq"]>,
    AllTypesMatch<["lr", "beta1", "beta2", "eps", "weight_decay"]>]> {
  let summary = "one AdamW update of one parameter";
  let description = [{
    With `g = grad * grad_scale` (the clipping factor), `t = step + 1`:
    `m' = beta1 m + (1 - beta1) g`, `v' = beta2 v + (1 - beta2) g^2`,
    `p' = p - lr (m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + eps)
         - lr weight_decay p` — AdamW with bias-corrected moments and
    decoupled weight decay. The scalars are run-time values, so one compiled
    step serves any schedule. `grad_scale` may also be a 0-d tensor (its type
    then printed last), read inside the update's loop: the GPU computes the
    clipping coefficient on the device (`lmc-device-scalars`) and the host
    never reads it.

    Example:

    ```mlir
    %p1, %m1, %v1 = lmc.adamw %p, %g, %m, %v lr(%lr) grad_scale(%s) step(%t)
        betas(%b1, %b2) eps(%eps) weight_decay(%wd) : tensor<64x192xf32>, f32, i64
    %p2, %m2, %v2 = lmc.adamw %p, %g, %m, %v lr(%lr) grad_scale(%st) step(%t)
        betas(%b1, %b2) eps(%eps) weight_decay(%wd)
        : tensor<64x192xf32>, f32, i64, tensor<f32>
    ```

    **Constraints:**
    - the tensors have one type; the float scalars are of its element type;
      `grad_scale` is such a scalar or a 0-d tensor of it; `step` is a
      signless integer.
  }];
  let arguments = (ins LMC_FloatTensor:$param, LMC_FloatTensor:$grad,
                       LMC_FloatTensor:$exp_avg, LMC_FloatTensor:$exp_avg_sq,
                       LMC_Float:$lr,
                       AnyTypeOf<[LMC_Float, LMC_ScalarFloatTensor]>:$grad_scale,
                       AnySignlessInteger:$step, LMC_Float:$beta1,
                       LMC_Float:$beta2, LMC_Float:$eps,
                       LMC_Float:$weight_decay);
  let results = (outs LMC_FloatTensor:$new_param,
                      LMC_FloatTensor:$new_exp_avg,
                      LMC_FloatTensor:$new_exp_avg_sq);
  let assemblyFormat = [{
    $param `,` $grad `,` $exp_avg `,` $exp_avg_sq `lr` `(` $lr `)`
    `grad_scale` `(` $grad_scale `)` `step` `(` $step `)`
    `betas` `(` $beta1 `,` $beta2 `)` `eps` `(` $eps `)`
    `weight_decay` `(` $weight_decay `)` attr-dict `:` type($param) `,`
    type($lr) `,` type($step) `` custom<GradScaleType>(type($grad_scale),
                                                    ref(type($lr)))
  }];
  let hasVerifier = 1;
}

#endif // LMC_DIALECT_LMC_IR_LMCTRAININGOPS_TD
