//===- LMCOps.td - Operations of the lmc dialect -----------*- tablegen -*-===//
//
// Ops of the lmc dialect: the model and its parameters, and the forward ops
// of a GPT-style Transformer. Every description lists the rules that the
// verifier enforces under **Constraints**.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCOPS_TD
#define LMC_DIALECT_LMC_IR_LMCOPS_TD

include "lmc/Dialect/LMC/IR/LMCAttrs.td"
include "lmc/Dialect/LMC/IR/LMCDialect.td"
include "lmc/Dialect/LMC/IR/LMCEnums.td"
include "lmc/Dialect/LMC/IR/LMCInterfaces.td"
include "lmc/Dialect/LMC/IR/LMCTypes.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def LMC_Float : AnyTypeOf<[F32, F64], "32-bit or 64-bit float">;
def LMC_FloatTensor : RankedTensorOf<[F32, F64]>;
def LMC_Id : AnyTypeOf<[I8, I16, I32, I64],
                         "8-, 16-, 32- or 64-bit signless integer">;
def LMC_IdTensor : RankedTensorOf<[LMC_Id]>;
def LMC_ScalarFloatTensor : 0DTensorOf<[F32, F64]>;
/// An activation that lmc-bf16-storage may store as bfloat16: a GEMM's
/// operand, an lmc.matmul_bias result, attention's operands and results, and
/// the views (flatten, split, concat) between them.
def LMC_StoredTensor : RankedTensorOf<[F32, F64, BF16]>;

//===----------------------------------------------------------------------===//
// Model structure
//===----------------------------------------------------------------------===//

def LMC_ModelOp : LMC_Op<"model", [
    Symbol, SymbolTable, IsolatedFromAbove, NoTerminator, SingleBlock,
    NoRegionArguments]> {
  let summary = "a model: its parameters and the functions that use them";
  let description = [{
    A model is one unit: the `lmc.param` declarations of its parameters and
    the functions over them. The function `forward` maps token ids and
    targets, both `(batch, sequence)` with dynamic sizes, to the scalar mean
    cross-entropy loss. Further functions (a test driver, later the training
    step) may live beside it. The model is a symbol table: parameters are
    referenced by name with `lmc.param_ref`, which is how the token embedding
    is tied to the LM head.

    Example:

    ```mlir
    lmc.model @tiny {
      lmc.param @"wte.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
      func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>)
          -> tensor<f32> {
        %wte = lmc.param_ref @"wte.weight" : tensor<256x64xf32>
        ...
        return %loss : tensor<f32>
      }
    }
    ```

    `context_length`, when given, is the longest sequence the model is
    trained and sampled at (Hugging Face's `max_position_embeddings`). A
    model with a learned position table has it in the table's rows; a model
    with rotary embeddings has no table and states it here:

    ```mlir
    lmc.model @llama attributes {context_length = 256 : i64} { ... }
    ```

    **Constraints:**
    - the body holds only `lmc.param` and `func.func` ops;
    - parameter names are unique (a symbol table);
    - if there is a function `forward`, it takes two rank-2 tensors of
      signless integers (tokens, targets) and returns one 0-d float tensor;
    - `context_length`, when given, is at least 1 and equals the rows of
      every position table of `forward`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       OptionalAttr<I64Attr>:$context_length);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name)>];
  let extraClassDeclaration = [{
    /// The names of the functions of a model: `forward` (the user's), its
    /// gradient (lmc-autodiff) and the entry functions lmc-optimizer builds
    /// for the runtime (the training step, the evaluation step, the
    /// logits).
    static ::llvm::StringRef getForwardName() { return "forward"; }
    static ::llvm::StringRef getForwardGradName() { return "forward_grad"; }
    static ::llvm::StringRef getTrainStepName() { return "train_step"; }
    static ::llvm::StringRef getEvalStepName() { return "eval_step"; }
    static ::llvm::StringRef getLogitsName() { return "logits"; }
    /// The entry functions, in order: train_step, eval_step, logits.
    static ::llvm::ArrayRef<::llvm::StringRef> getEntryFunctionNames();
    /// The C symbol lmc-export-entry-points exports an entry function as
    /// (`lmc_train_step`, ...); empty for a name that is not an entry
    /// function.
    static ::llvm::StringRef getExportedName(::llvm::StringRef entry);
    /// The exported function that returns the model description.
    static ::llvm::StringRef getModelInfoName() { return "lmc_model_info"; }

    /// The function of the model named `name`, or null.
    ::mlir::func::FuncOp getFunction(::llvm::StringRef name);
    /// The function named `forward`, or null.
    ::mlir::func::FuncOp getForward() { return getFunction(getForwardName()); }
    ::mlir::func::FuncOp getForwardGrad() {
      return getFunction(getForwardGradName());
    }
    ::mlir::func::FuncOp getTrainStep() {
      return getFunction(getTrainStepName());
    }
    ::mlir::func::FuncOp getEvalStep() {
      return getFunction(getEvalStepName());
    }
    ::mlir::func::FuncOp getLogits() { return getFunction(getLogitsName()); }
    /// The parameter declarations, in order.
    auto getParams() { return getBody().front().getOps<ParamOp>(); }
    /// The model's context: `context_length` when given, else the rows of
    /// the position table of `forward`, else 0 (not stated).
    int64_t getContextSize();
  }];
}

def LMC_ParamOp : LMC_Op<"param", [
    Symbol, HasParent<"ModelOp">]> {
  let summary = "a named, trainable parameter with an initialiser";
  let description = [{
    Declares a parameter of the enclosing model: its name (as in the Hugging
    Face GPT-2 checkpoint, e.g. `h.0.attn.c_attn.weight`), its tensor type
    and how it is initialised: `zeros`, `ones`, or `normal` with a standard
    deviation (mean 0). A parameter may be referenced any number of times.

    Example:

    ```mlir
    lmc.param @"wte.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
    lmc.param @"ln_f.weight" : tensor<64xf32> init(ones)
    lmc.param @"ln_f.bias" : tensor<64xf32> init(zeros)
    ```

    **Constraints:**
    - the type is a statically shaped ranked tensor of `f32` or `f64`;
    - `normal` has a `std` that is finite and greater than zero;
      `zeros` and `ones` have no `std`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttr:$type,
                       LMC_InitKindAttr:$init, OptionalAttr<F64Attr>:$std);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::dyn_cast<::mlir::RankedTensorType>(getType());
    }
  }];
}

def LMC_ParamRefOp : LMC_Op<"param_ref", [
    Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the value of a parameter";
  let description = [{
    Yields the current value of the parameter named by `name`, declared in the
    enclosing model.

    Example:

    ```mlir
    %wte = lmc.param_ref @"wte.weight" : tensor<256x64xf32>
    ```

    **Constraints:**
    - `name` names an `lmc.param` of the enclosing `lmc.model`;
    - the result type equals the parameter's type.
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

def LMC_EmbeddingOp : LMC_Op<"embedding", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "token embedding lookup";
  let description = [{
    Gathers rows of `table` (`[V, C]`) by the integer `ids` (`[B, T]`):
    `result[b, t, c] = table[ids[b, t], c]`. Ids outside `[0, V)` are
    undefined behaviour.

    With `offset`, `table` holds the rows `[offset, offset + V)` of a larger
    table (one rank's block of a vocabulary-parallel embedding):
    `result[b, t, c] = table[ids[b, t] - offset, c]` where
    `0 <= ids[b, t] - offset < V`, and zero where the id falls outside the
    block. The results of the blocks of a table sum to the embedding by the
    whole table.

    Example:

    ```mlir
    %x = lmc.embedding %wte[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    // %x : tensor<?x?x64xf32>
    // Rows [%off, %off + 128) of a vocabulary of 256.
    %y = lmc.embedding %wte_block[%tokens] offset(%off) : tensor<128x64xf32>, tensor<?x?xi32>
    ```

    **Constraints:**
    - `table` is rank 2 (vocabulary, channels);
    - `ids` is a tensor of signless integers of rank 2 (batch, sequence);
    - `offset`, when present, is an `index`;
    - the result is `ids`' shape followed by the channel dimension.
  }];
  let arguments = (ins LMC_FloatTensor:$table, LMC_IdTensor:$ids,
                       Optional<Index>:$offset);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` (`offset` `(` $offset^ `)`)? attr-dict `:`
    type($table) `,` type($ids)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$table, "::mlir::Value":$ids), [{
      build($_builder, $_state, table, ids, ::mlir::Value());
    }]>
  ];
}

def LMC_PositionEmbeddingOp : LMC_Op<"position_embedding", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "learned position embedding, broadcast over the batch";
  let description = [{
    Produces the position embedding for a batch shaped like `ids`
    (`[B, T]`): `result[b, t, c] = table[t, c]`. Only the shape of `ids` is
    used. The sequence length must not exceed the number of rows of `table`
    (the model's context); with a dynamic sequence length this is checked when
    the program runs.

    Example:

    ```mlir
    %p = lmc.position_embedding %wpe like %tokens : tensor<64x64xf32>, tensor<?x?xi32>
    // %p : tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `table` is rank 2 (context, channels);
    - `ids` is a tensor of signless integers of rank 2 (batch, sequence);
    - a static sequence length is at most the context.
  }];
  let arguments = (ins LMC_FloatTensor:$table, LMC_IdTensor:$ids);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $table `like` $ids attr-dict `:` type($table) `,` type($ids)
  }];
  let hasVerifier = 1;
}

def LMC_RopeOp : LMC_Op<"rope", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    LMC_RowWise<[0], "rope", 5>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding (rotate-half convention)";
  let description = [{
    Rotates the channels of `input` (`[B, T, C]`, heads of `head_dim`
    channels side by side, `C = H * D`) by angles that grow with the
    position, as Hugging Face's Llama does (the rotate-half convention: the
    first half of a head's channels pairs with the second half, so weights
    move between the two without permutation). For position
    `p = t + offset` and each channel `i < D / 2` of a head, with
    `f_i = theta^(-2 i / D)` and `a = p * f_i`:

    ```
    r[i]         = x[i] cos(a) - x[i + D/2] sin(a)
    r[i + D/2]   = x[i + D/2] cos(a) + x[i] sin(a)
    ```

    `offset` (an `index`, 0 when absent) is the position of the first row of
    the sequence: a sequence split over ranks, or a continuation. With
    `inverse`, the rotation is by `-a`: the inverse rotation, which is also
    the gradient. The op does not name the number of heads, so a tensor
    split by whole heads keeps the same op. Angles and their sines and
    cosines are computed in the element type.

    Example:

    ```mlir
    %q = lmc.rope %x head_dim(16) theta(1.000000e+04) : tensor<?x?x64xf32>
    // Rows starting at position %off; the inverse rotation.
    %g = lmc.rope %dq head_dim(16) theta(1.000000e+04) offset(%off) inverse : tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `input` has rank 3 (batch, sequence, channels) and a static channel
      dimension;
    - `head_dim` is even, greater than zero, and divides the channels;
    - `theta` is finite and greater than zero;
    - `offset`, when present, is an `index`;
    - the result type equals the input type.
  }];
  let arguments = (ins LMC_FloatTensor:$input, Optional<Index>:$offset,
                       I64Attr:$head_dim, F64Attr:$theta, UnitAttr:$inverse);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `head_dim` `(` $head_dim `)` `theta` `(` $theta `)`
    (`offset` `(` $offset^ `)`)? (`inverse` $inverse^)? attr-dict `:`
    type($input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dense layers
//===----------------------------------------------------------------------===//

def LMC_LayerNormOp : LMC_Op<"layer_norm", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_RowWise<[0], "layer_norm", 2>, LMC_Normalization,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    LMC_BF16StorageOpInterface, LMC_BF16Output, Pure,
    AllTypesMatch<["weight", "bias"]>]> {
  let summary = "layer normalisation over the last dimension";
  let description = [{
    Normalises `input` over its last dimension with the biased variance, then
    scales and shifts: `(x - mean) / sqrt(var + eps) * weight + bias`.

    Example:

    ```mlir
    %y = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    ```

    **Constraints:**
    - `input` has rank at least 1 and a static last dimension;
    - `weight` and `bias` are rank 1 with the size of the last dimension and
      the element type of `input`;
    - `eps` is greater than zero;
    - the result type equals the input type, or is its shape with bfloat16
      elements when the input is float32 (`lmc-bf16-storage` stores an
      output that only GEMMs read so: computed in float32, rounded once,
      the type printed after `->`).
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$weight,
                       LMC_FloatTensor:$bias,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs LMC_StoredTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `eps` `(` $eps `)` attr-dict `:`
    type($input) `,` type($weight)
    custom<StoredType>(type($result), ref(type($input)))
  }];
  let builders = [
    // The output of the input's type.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "::mlir::Value":$bias, "::mlir::FloatAttr":$eps), [{
      build($_builder, $_state, input.getType(), input, weight, bias, eps);
    }]>,
  ];
  let hasVerifier = 1;
}

def LMC_RMSNormOp : LMC_Op<"rms_norm", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_RowWise<[0], "rms_norm", 2>, LMC_Normalization,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    LMC_BF16StorageOpInterface, LMC_BF16Output, Pure]> {
  let summary = "root-mean-square normalisation over the last dimension";
  let description = [{
    The normalisation of the Llama family: scales each row of `input` (its
    last dimension) by the inverse of its root mean square, then by
    `weight`, with no centring and no shift:
    `x * rsqrt(mean(x * x) + eps) * weight`. The statistics are computed in
    the element type (f32 or f64). Its gradient is `lmc.rms_norm_grad`. Like
    `lmc.layer_norm` it is a normalisation (`LMC_Normalization`): the `block`
    recompute policy keeps its input, and the tensor-parallel planner leaves
    its weight replicated.

    Example:

    ```mlir
    %y = lmc.rms_norm %x, %w eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    ```

    **Constraints:**
    - `input` has rank at least 1 and a static last dimension;
    - `weight` is rank 1 with the size of the last dimension and the element
      type of `input`;
    - `eps` is greater than zero;
    - the result type equals the input type, or is its shape with bfloat16
      elements when the input is float32 (`lmc-bf16-storage` stores an
      output that only GEMMs read so: computed in float32, rounded once,
      the type printed after `->`).
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$weight,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs LMC_StoredTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `eps` `(` $eps `)` attr-dict `:`
    type($input) `,` type($weight)
    custom<StoredType>(type($result), ref(type($input)))
  }];
  let builders = [
    // The output of the input's type.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "::mlir::FloatAttr":$eps), [{
      build($_builder, $_state, input.getType(), input, weight, eps);
    }]>,
  ];
  let hasVerifier = 1;
}

def LMC_MatmulOp : LMC_Op<"matmul", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<LMC_BF16StorageOpInterface, ["canReadBF16",
        "canWriteBF16", "computesInBF16"]>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "matrix product with batch dimensions and transposes";
  let description = [{
    Multiplies the last two dimensions of `lhs` (`[..., M, K]`, or
    `[..., K, M]` with `transpose_a`) by `rhs`. `rhs` is either a matrix
    (`[K, N]`, or `[N, K]` with `transpose_b`), shared by every batch element
    of `lhs` (a linear layer), or has the same leading batch dimensions as
    `lhs` (batched products, as in attention). The result is
    `[..., M, N]`.

    Example:

    ```mlir
    // A linear layer: [B, T, C] x [C, 3C].
    %qkv = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x192xf32>
    // The tied LM head: [B, T, C] x [V, C]^T.
    %logits = lmc.matmul %h, %wte transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    // Attention scores per head: [B, H, T, D] x [B, H, T, D]^T.
    %s = lmc.matmul %q, %k transpose_b : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
    ```

    **Constraints:**
    - `lhs` has rank at least 2; `rhs` has rank 2 or the rank of `lhs`;
    - the contraction dimensions agree where both are static;
    - a batched `rhs` has the batch dimensions of `lhs` where both are static;
    - `lhs` and `rhs` have the same element type; the result has it too,
      except for bfloat16 operands (stored so by `lmc-bf16-storage`), whose
      products are summed into a float32 result, which `lmc-bf16-storage`
      may store as bfloat16 (rounded once; printed after `->`).
  }];
  let arguments = (ins LMC_StoredTensor:$lhs, LMC_StoredTensor:$rhs,
                       UnitAttr:$transpose_a, UnitAttr:$transpose_b);
  let results = (outs LMC_StoredTensor:$result);
  // `$lhs, $rhs (transpose_a)? (transpose_b)? attr-dict : type($lhs),
  // type($rhs) (-> type($result))?`, the result type printed only when it
  // is not the inferred one: a declarative format cannot infer it when it
  // is absent (LMCOps.cpp).
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    static bool isCompatibleReturnTypes(::mlir::TypeRange inferred,
                                        ::mlir::TypeRange actual);
    /// True when `rhs` is one matrix shared by all batch elements of `lhs`.
    bool isSharedRhs() {
      return getLhs().getType().getRank() > 2 &&
             getRhs().getType().getRank() == 2;
    }
  }];
}

def LMC_BiasAddOp : LMC_Op<"bias_add", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Elementwise<[0]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "adds a bias vector along the last dimension";
  let description = [{
    `result[..., n] = input[..., n] + bias[n]`.

    Example:

    ```mlir
    %y = lmc.bias_add %x, %b : tensor<?x?x192xf32>, tensor<192xf32>
    ```

    **Constraints:**
    - `input` has rank at least 1 and a static last dimension;
    - `bias` is rank 1 with the size of that dimension and the element type
      of `input`.
  }];
  let arguments = (ins LMC_FloatTensor:$input, LMC_FloatTensor:$bias);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $bias attr-dict `:` type($input) `,` type($bias)
  }];
  let hasVerifier = 1;
}

def LMC_GeluOp : LMC_Op<"gelu", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Elementwise<[0], "gelu", 6>, LMC_Activation,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    Elementwise GELU. `tanh` is the approximation GPT-2 uses,
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`; `exact` is
    `0.5 x (1 + erf(x / sqrt(2)))`.

    Example:

    ```mlir
    %y = lmc.gelu %x tanh : tensor<?x?x256xf32>
    %z = lmc.gelu %x exact : tensor<?x?x256xf32>
    ```

    **Constraints:**
    - the result type equals the input type.
  }];
  let arguments = (ins LMC_FloatTensor:$input,
                       LMC_GeluApproximationAttr:$approximation);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input $approximation attr-dict `:` type($input)";
}

def LMC_SiluOp : LMC_Op<"silu", [
    LMC_Elementwise<[0], "silu", 6>, LMC_Activation,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "sigmoid linear unit (swish)";
  let description = [{
    Elementwise SiLU, `x * sigmoid(x) = x / (1 + exp(-x))`: the activation
    of the Llama family's gated MLP (`silu(x W_gate) * (x W_up)`). The
    sigmoid is computed in a form that never overflows:
    `1 / (1 + exp(-|x|))` for `x >= 0` and `exp(-|x|) / (1 + exp(-|x|))`
    otherwise. Its gradient is `lmc.silu_grad`. It is an elementwise
    activation: `lmc-fuse` fuses it with its producer and consumers, and the
    tensor-parallel planner splits an MLP around it as around `lmc.gelu`.

    Example:

    ```mlir
    %y = lmc.silu %x : tensor<?x?x256xf32>
    // A gated (SwiGLU) MLP: silu of the gate times the up projection.
    %g = lmc.silu %gate : tensor<?x?x256xf32>
    %h = lmc.mul %g, %up : tensor<?x?x256xf32>
    ```

    **Constraints:**
    - `input` is a ranked tensor of `f32` or `f64`;
    - the result type equals the input type.
  }];
  let arguments = (ins LMC_FloatTensor:$input);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def LMC_AddOp : LMC_Op<"add", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Elementwise<[0, 1]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "elementwise sum (the residual connection)";
  let description = [{
    `result = lhs + rhs` elementwise, for tensors of the same type. With
    dynamic dimensions, both operands must have the same sizes at run time.

    Example:

    ```mlir
    %x1 = lmc.add %x0, %attn : tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `lhs`, `rhs` and the result have the same type.
  }];
  let arguments = (ins LMC_FloatTensor:$lhs, LMC_FloatTensor:$rhs);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def LMC_SplitOp : LMC_Op<"split", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    LMC_BF16StorageOpInterface, LMC_BF16PassThrough,
    Pure, InferTypeOpAdaptor]> {
  let summary = "splits the last dimension into equal parts";
  let description = [{
    Splits the last dimension of `input` into `parts` equal, consecutive
    chunks; e.g. the fused QKV projection into queries, keys and values.

    Example:

    ```mlir
    %q, %k, %v = lmc.split %qkv into 3 : tensor<?x?x192xf32>
    // each : tensor<?x?x64xf32>
    ```

    It moves bfloat16 as it moves float32 (`lmc-bf16-storage` stores the
    parts as bfloat16 when the input is).

    **Constraints:**
    - `input` has rank at least 1 and a static last dimension;
    - `parts` is at least 1, divides the last dimension and equals the
      number of results, each of the input's element type.
  }];
  let arguments = (ins LMC_StoredTensor:$input, I64Attr:$parts);
  let results = (outs Variadic<LMC_StoredTensor>:$results);
  let assemblyFormat = "$input `into` $parts attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def LMC_CausalAttentionOp : LMC_Op<"causal_attention", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["query", "result"]>,
    AllTypesMatch<["key", "value"]>]> {
  let summary = "causal multi-head self-attention";
  let description = [{
    Multi-head scaled dot-product attention with a causal mask over
    `[B, T, C]` queries and `[B, T, Ckv]` keys and values. The query
    channels are split into `heads` heads of `D = C / heads` channels, the
    key and value channels into `kv_heads` heads of the same `D` (absent,
    `kv_heads` equals `heads`). Query head `h` attends with key/value head
    `h / (heads / kv_heads)` (grouped-query attention; multi-query attention
    when `kv_heads` is 1): for each head,
    `softmax(mask(q k^T / sqrt(D))) v`, where the mask hides key positions
    after the query position; the heads are concatenated back to `C`
    channels. Being one op, it can be sharded by heads and fused without
    pattern matching; `lmc-decompose-attention` rewrites it into
    `split_heads`, `repeat_heads` (when `kv_heads` is smaller), `matmul`,
    `scale`, `causal_mask`, `softmax` and `merge_heads`.

    The assembly lists the query type, then the key/value type when it
    differs.

    Example:

    ```mlir
    %y = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
    %z = lmc.causal_attention %q, %k2, %v2 heads(4) kv_heads(2)
        : tensor<?x?x64xf32>, tensor<?x?x32xf32>
    ```

    **Constraints:**
    - `query` and the result have one type, `key` and `value` another, all
      of rank 3 with a static channel dimension and one element type;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`;
    - the key/value channels are `kv_heads * D`, D the query channels over
      `heads`;
    - the batch and sequence dimensions of the keys and values are those of
      the queries where both are static.
  }];
  let arguments = (ins LMC_FloatTensor:$query, LMC_FloatTensor:$key,
                       LMC_FloatTensor:$value, I64Attr:$heads,
                       OptionalAttr<I64Attr>:$kv_heads);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `heads` `(` $heads `)`
    (`kv_heads` `(` $kv_heads^ `)`)? attr-dict `:`
    custom<AttentionTypes>(type($query), type($key))
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeadDim() {
      return getQuery().getType().getDimSize(2) / getHeads();
    }
    /// The number of key/value heads (`heads` when the attribute is absent).
    int64_t getNumKvHeads() {
      return static_cast<int64_t>(getKvHeads().value_or(getHeads()));
    }
  }];
}

def LMC_FlashAttentionOp : LMC_Op<"flash_attention", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    DeclareOpInterfaceMethods<LMC_BF16StorageOpInterface>,
    Pure, AllTypesMatch<["key", "value"]>]> {
  let summary = "causal attention without the T x T matrix, with row statistics";
  let description = [{
    Computes what `lmc.causal_attention` computes over `[B, T, C]` queries
    and `[B, T, Ckv]` keys and values with `heads` query heads of
    `D = C / heads` channels and `kv_heads` key/value heads (absent: as many
    as `heads`; query head `h` reads key/value head `h / (heads / kv_heads)`),
    causal, scores scaled by `1/sqrt(D)`, and also returns, per batch,
    query head and query position, the log-sum-exp of that row of scaled,
    masked scores:
    `lse[b, h, i] = log(sum_{j <= i} exp(q_i . k_j / sqrt(D)))` (float32).
    The probabilities are never materialised: the runtime's kernel
    (`lmc.buffer_attention`, a call into the runtime) walks key blocks with an online softmax.
    `lmc-autodiff{attention=flash}` puts it in place of `causal_attention`,
    so that the backward pass keeps only q, k, v, the output and `lse`.

    Under bfloat16 storage (`lmc-bf16-storage`) it reads bfloat16 queries,
    keys and values (the GPU's tensor-core kernels round them to bfloat16
    anyway) and writes its result as bfloat16 where every reader takes it
    so; its softmax, `lse` and accumulators stay float32.

    The assembly lists the query type, then the key/value type when it
    differs; after `->`, the result type when it is not the query's, then
    the type of `lse`.

    Example:

    ```mlir
    %y, %lse = lmc.flash_attention %q, %k, %v heads(2)
        : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
    %z, %lse2 = lmc.flash_attention %q, %k2, %v2 heads(4) kv_heads(1)
        : tensor<?x?x64xf32>, tensor<?x?x16xf32> -> tensor<?x4x?xf32>
    %w, %lse3 = lmc.flash_attention %qb, %kb, %vb heads(2)
        : tensor<?x?x64xbf16> -> tensor<?x?x64xf32>, tensor<?x2x?xf32>
    ```

    **Constraints:**
    - `query` and `result` have one shape, `key` and `value` one type, all
      of rank 3 with a static channel dimension; the queries, keys and
      values have one element type, and the result has it too, or is
      float32 when it is bfloat16;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`;
    - the key/value channels are `kv_heads * D`, D the query channels over
      `heads`; their batch and sequence dimensions are those of the queries
      where both are static;
    - `lse` is a float32 `[B, heads, T]` tensor, B and T those of the
      query where both are static.
  }];
  let arguments = (ins LMC_StoredTensor:$query, LMC_StoredTensor:$key,
                       LMC_StoredTensor:$value, I64Attr:$heads,
                       OptionalAttr<I64Attr>:$kv_heads);
  let results = (outs LMC_StoredTensor:$result, RankedTensorOf<[F32]>:$lse);
  let assemblyFormat = [{
    $query `,` $key `,` $value `heads` `(` $heads `)`
    (`kv_heads` `(` $kv_heads^ `)`)? attr-dict `:`
    custom<AttentionTypes>(type($query), type($key)) `->`
    custom<AttentionResultTypes>(type($result), type($lse), ref(type($query)))
  }];
  let hasVerifier = 1;
  let builders = [
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "int64_t":$heads,
                   CArg<"int64_t", "0">:$kvHeads)>
  ];
  let extraClassDeclaration = [{
    int64_t getHeadDim() {
      return ::llvm::cast<::mlir::RankedTensorType>(getQuery().getType())
                 .getDimSize(2) / getHeads();
    }
    /// The number of key/value heads (`heads` when the attribute is absent).
    int64_t getNumKvHeads() {
      return static_cast<int64_t>(getKvHeads().value_or(getHeads()));
    }
  }];
}

def LMC_FlashAttentionGradOp : LMC_Op<"flash_attention_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    DeclareOpInterfaceMethods<LMC_BF16StorageOpInterface>,
    Pure, AllTypesMatch<["query", "output", "output_grad"]>,
    AllTypesMatch<["key", "value"]>, AllTypesMatch<["key_grad", "value_grad"]>]> {
  let summary = "gradient of lmc.flash_attention";
  let description = [{
    The gradients of the queries, keys and values of `lmc.flash_attention`
    from its operands, its output, its `lse` and the gradient of its output.
    The probabilities are recomputed tile by tile as
    `exp(q_i . k_j / sqrt(D) - lse[i])`, with `D_i = sum(dout_i * out_i)`:
    `dv = P^T dout`, `dS = P * (dout v^T - D_i)`, `dq = dS k / sqrt(D)`,
    `dk = dS^T q / sqrt(D)` (the runtime's kernel, through `lmc.buffer_attention_grad`). With
    `kv_heads` smaller than `heads`, the gradient of a key/value head sums
    those of the query heads of its group. The gradient of `lse` is taken to
    be zero.

    Under bfloat16 storage (`lmc-bf16-storage`) it reads bfloat16 queries,
    keys, values, output and output gradient (the GPU's tensor-core kernels
    round all but the output to bfloat16 anyway) and writes the three
    gradients as bfloat16 where every reader takes them so, all three or
    none; `lse`, the recomputed probabilities and the accumulators stay
    float32.

    The assembly lists the query type, the key/value type when it differs,
    then the type of `lse`; after `->`, the type of the query gradient when
    it is not the query's (the key and value gradients then have the key's
    shape and its element type).

    Example:

    ```mlir
    %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %v, %y, %lse, %dy
        heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
    %dq2, %dk2, %dv2 = lmc.flash_attention_grad %q, %k2, %v2, %y2, %lse2, %dy2
        heads(4) kv_heads(2)
        : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x4x?xf32>
    %dq3, %dk3, %dv3 = lmc.flash_attention_grad %qb, %kb, %vb, %yb, %lse, %dyb
        heads(2) : tensor<?x?x64xbf16>, tensor<?x2x?xf32> -> tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `query`, `output` and `output_grad` have one type, and `key` and
      `value` another, all of rank 3 with a static channel dimension and
      one element type;
    - `query_grad` has the query's shape, `key_grad` and `value_grad` the
      key's, all three one element type: the query's, or float32 when it is
      bfloat16;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`;
    - the key/value channels are `kv_heads * D`, D the query channels over
      `heads`; their batch and sequence dimensions are those of the queries
      where both are static;
    - `lse` is a float32 `[B, heads, T]` tensor, B and T those of the
      query where both are static.
  }];
  let arguments = (ins LMC_StoredTensor:$query, LMC_StoredTensor:$key,
                       LMC_StoredTensor:$value, LMC_StoredTensor:$output,
                       RankedTensorOf<[F32]>:$lse,
                       LMC_StoredTensor:$output_grad,
                       I64Attr:$heads, OptionalAttr<I64Attr>:$kv_heads);
  let results = (outs LMC_StoredTensor:$query_grad,
                      LMC_StoredTensor:$key_grad, LMC_StoredTensor:$value_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $lse `,` $output_grad
    `heads` `(` $heads `)` (`kv_heads` `(` $kv_heads^ `)`)? attr-dict `:`
    custom<AttentionGradTypes>(type($query), type($key), type($lse),
                               type($query_grad), type($key_grad))
  }];
  let hasVerifier = 1;
  let builders = [
    // The gradients of the operands' types.
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "::mlir::Value":$output,
                   "::mlir::Value":$lse, "::mlir::Value":$outputGrad,
                   "::mlir::IntegerAttr":$heads, "::mlir::IntegerAttr":$kvHeads)>
  ];
  let extraClassDeclaration = [{
    /// The number of key/value heads (`heads` when the attribute is absent).
    int64_t getNumKvHeads() {
      return static_cast<int64_t>(getKvHeads().value_or(getHeads()));
    }
  }];
}

def LMC_RepeatHeadsOp : LMC_Op<"repeat_heads", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "[B, Hkv, T, D] to [B, Hkv * G, T, D], each head G times";
  let description = [{
    Repeats each head of `input` `times` times in a row, the key/value heads
    of grouped-query attention brought to the query heads (Hugging Face's
    `repeat_kv`): `result[b, h, t, d] = input[b, h / times, t, d]`, so that
    head `j` serves heads `j * times .. j * times + times - 1`.

    Example:

    ```mlir
    %kr = lmc.repeat_heads %kh times(2) : tensor<?x2x?x16xf32>
    // %kr : tensor<?x4x?x16xf32>
    ```

    **Constraints:**
    - `input` is rank 4 with a static head dimension;
    - `times` is at least 1.
  }];
  let arguments = (ins LMC_FloatTensor:$input, I64Attr:$times);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `times` `(` $times `)` attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def LMC_RepeatHeadsGradOp : LMC_Op<"repeat_heads_grad", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Reduction<[0]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "gradient of lmc.repeat_heads: sums each group of heads";
  let description = [{
    Sums each run of `times` consecutive heads of `input`:
    `result[b, j, t, d] = sum_{g < times} input[b, j * times + g, t, d]`,
    the gradient of `lmc.repeat_heads` with the same `times`.

    Example:

    ```mlir
    %dk = lmc.repeat_heads_grad %dkr times(2) : tensor<?x4x?x16xf32>
    // %dk : tensor<?x2x?x16xf32>
    ```

    **Constraints:**
    - `input` is rank 4 with a static head dimension;
    - `times` is at least 1 and divides the heads.
  }];
  let arguments = (ins LMC_FloatTensor:$input, I64Attr:$times);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `times` `(` $times `)` attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def LMC_SplitHeadsOp : LMC_Op<"split_heads", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    LMC_Layout, DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "[B, T, C] to [B, H, T, C/H]";
  let description = [{
    Splits the channels into `heads` heads and moves the head dimension in
    front of the sequence: `result[b, h, t, d] = input[b, t, h * D + d]`.

    Example:

    ```mlir
    %qh = lmc.split_heads %q heads(2) : tensor<?x?x64xf32>
    // %qh : tensor<?x2x?x32xf32>
    ```

    **Constraints:**
    - `input` is rank 3 with a static channel dimension;
    - `heads` is at least 1 and divides the channels.
  }];
  let arguments = (ins LMC_FloatTensor:$input, I64Attr:$heads);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $input `heads` `(` $heads `)` attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def LMC_MergeHeadsOp : LMC_Op<"merge_heads", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Layout, DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "[B, H, T, D] to [B, T, H * D]";
  let description = [{
    The inverse of `split_heads`: `result[b, t, h * D + d] = input[b, h, t, d]`.

    Example:

    ```mlir
    %y = lmc.merge_heads %yh : tensor<?x2x?x32xf32>
    // %y : tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `input` is rank 4 with static head and head-channel dimensions.
  }];
  let arguments = (ins LMC_FloatTensor:$input);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
}

def LMC_ScaleOp : LMC_Op<"scale", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Elementwise<[0]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "multiplies by a constant";
  let description = [{
    `result = input * factor` elementwise, e.g. the `1/sqrt(D)` of attention.
    Scaling by 1 folds away and two scales combine into one.

    Example:

    ```mlir
    %y = lmc.scale %s by 1.767767e-01 : tensor<?x2x?x?xf32>
    ```

    **Constraints:**
    - `factor` is finite;
    - the result type equals the input type.
  }];
  let arguments = (ins LMC_FloatTensor:$input, F64Attr:$factor);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input `by` $factor attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def LMC_CausalMaskOp : LMC_Op<"causal_mask", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_Elementwise<[0]>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "hides future positions of attention scores";
  let description = [{
    Over the last two dimensions (query position `i`, key position `j`),
    replaces entries with `j > i` by negative infinity and keeps the others.
    With `zero`, they are replaced by zero instead: the gradient of the mask.

    Example:

    ```mlir
    %m = lmc.causal_mask %s : tensor<?x2x?x?xf32>
    %dm = lmc.causal_mask %dy zero : tensor<?x2x?x?xf32>
    ```

    **Constraints:**
    - `input` has rank at least 2;
    - the last two dimensions are equal where both are static.
  }];
  let arguments = (ins LMC_FloatTensor:$input, UnitAttr:$zero);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input (`zero` $zero^)? attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def LMC_SoftmaxOp : LMC_Op<"softmax", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface>,
    LMC_RowWise<[0], "softmax", 4>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "softmax over the last dimension";
  let description = [{
    `exp(x - max) / sum(exp(x - max))` over the last dimension; entries equal
    to negative infinity get probability zero.

    Example:

    ```mlir
    %p = lmc.softmax %m : tensor<?x2x?x?xf32>
    ```

    **Constraints:**
    - `input` has rank at least 1.
  }];
  let arguments = (ins LMC_FloatTensor:$input);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def LMC_CrossEntropyOp : LMC_Op<"cross_entropy", [
    DeclareOpInterfaceMethods<LMC_ShardingRuleOpInterface, ["partition"]>,
    LMC_Reduction<[0], "cross_entropy", 0>,
    DeclareOpInterfaceMethods<LMC_DifferentiableOpInterface>,
    Pure, InferTypeOpAdaptor]> {
  let summary = "mean cross-entropy of logits against integer targets";
  let description = [{
    For logits `[B, T, V]` and targets `[B, T]`, the mean over all `B * T`
    positions of `logsumexp(logits[b, t, :]) - logits[b, t, targets[b, t]]`.
    Targets outside `[0, V)` are undefined behaviour.

    With `classes(N)` only the first `N` columns are classes: the columns
    `[N, V)` are padding (a vocabulary padded to a multiple of 64 so that
    the LM head's GEMMs and a vocabulary-parallel split have even sizes)
    and take no part in the loss: not in the maximum, not in the
    log-sum-exp, and their gradient is exactly 0. Targets must then lie in
    `[0, N)`.

    Example:

    ```mlir
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    // %loss : tensor<f32>
    %padded = lmc.cross_entropy %logits2, %targets classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>
    ```

    **Constraints:**
    - `logits` has rank at least 2 and a static last (vocabulary) dimension;
    - `targets` is a tensor of signless integers whose rank is one less than
      that of `logits`, with the same leading dimensions where static;
    - `classes`, when present, is in `[1, V]`;
    - the result is a 0-d tensor of the element type of `logits`.
  }];
  let arguments = (ins LMC_FloatTensor:$logits, LMC_IdTensor:$targets,
                       OptionalAttr<I64Attr>:$classes);
  let results = (outs LMC_ScalarFloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $targets (`classes` `(` $classes^ `)`)? attr-dict `:`
    type($logits) `,` type($targets)
  }];
  let hasVerifier = 1;
}

include "lmc/Dialect/LMC/IR/LMCTrainingOps.td"
include "lmc/Dialect/LMC/IR/LMCCollectiveOps.td"
include "lmc/Dialect/LMC/IR/LMCPointToPointOps.td"
include "lmc/Dialect/LMC/IR/LMCShardingOps.td"
include "lmc/Dialect/LMC/IR/LMCFusionOps.td"
include "lmc/Dialect/LMC/IR/LMCBufferOps.td"

#endif // LMC_DIALECT_LMC_IR_LMCOPS_TD
