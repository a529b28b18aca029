//===- LMCFusionOps.td - Fusion groups ---------------------*- tablegen -*-===//
//
// A fusion group: ops that a target runs as one kernel (one GPU kernel, one
// loop nest on the CPU). `lmc-fuse` forms them; `lmc-outline-kernels` turns
// each into one kernel function. Included from LMCOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCFUSIONOPS_TD
#define LMC_DIALECT_LMC_IR_LMCFUSIONOPS_TD

def LMC_FusedOp : LMC_Op<"fused", [
    DeclareOpInterfaceMethods<LMC_BF16StorageOpInterface, ["canReadBF16",
        "canWriteBF16", "computesInBF16", "adaptToBF16Storage"]>,
    IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects,
    RecursivelySpeculatable]> {
  let summary = "a fusion group: ops that run as one kernel";
  let description = [{
    Holds a group of ops that a target executes as one kernel: chains of
    elementwise ops and the reductions they feed, such as a bias add and
    the GELU after it, or the AdamW updates of all parameters. The value of
    the op is that of its body run on its operands: the body's block
    arguments stand for the operands, in order (the assignment list
    `%arg = %operand` names them), and `lmc.yield` gives the results. The
    body sees nothing else (the op is isolated from above), so a group is
    self-contained: a later pass can move it, outline it into a kernel
    function (`lmc-outline-kernels`), or lower it into one loop nest or one
    GPU kernel, without looking outside. Dissolving the op (inlining its
    body) never changes what a program computes; the reference lowering
    (`convert-lmc-to-linalg`) does exactly that.

    `kind` names the group after the op it is built around (`gelu`,
    `layer_norm`, `softmax`, `cross_entropy`, `adamw`, ...); it appears in
    kernel names and in reports, and carries no semantics.

    Example:

    ```mlir
    %h, %g = lmc.fused "gelu" (%x = %0, %b = %bias)
        : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
      %1 = lmc.bias_add %x, %b : tensor<?x?x256xf32>, tensor<256xf32>
      %2 = lmc.gelu %1 tanh : tensor<?x?x256xf32>
      lmc.yield %1, %2 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
    }
    ```

    **Constraints:**
    - `kind` is a non-empty string of lower-case letters, digits and
      underscores;
    - the body's block has one argument per operand, of the operand's type;
    - the body ends with `lmc.yield`, whose operands have the result types;
      there is at least one result;
    - the body holds at least one lmc op besides the `lmc.yield`; its ops are
      lmc compute ops, `arith` and `math` ops, and `tensor.extract`: no
      collective (`lmc.all_reduce`, `lmc.all_gather`, `lmc.wait`, ...), no
      `lmc.param_ref`, no `lmc.axis_index` (a runtime call: a group reads
      the coordinate as an operand), no nested `lmc.fused`, nothing with a
      region;
    - every op of the body is free of memory effects, so that the group can
      be moved, outlined and duplicated as a unit.
  }];
  let arguments = (ins StrAttr:$kind, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The terminator of the body.
    YieldOp getYield();
    /// The operand that the body's block argument `arg` stands for.
    ::mlir::Value getInputFor(::mlir::BlockArgument arg) {
      return getInputs()[arg.getArgNumber()];
    }
    /// `v`, or, when `v` is a block argument of an lmc.fused body, the
    /// value it stands for outside (through nested groups).
    static ::mlir::Value lookThrough(::mlir::Value v);
    /// The attribute that marks a kernel function holding a group's body
    /// (`lmc-outline-kernels`); its value is the group's kind.
    static ::llvm::StringRef getKernelAttrName() {
      return LMCDialect::FusionGroupAttrHelper::getNameStr();
    }
    /// The ops of the body, without the yield.
    auto getBodyOps() {
      return getBody().front().without_terminator();
    }
  }];
}

def LMC_YieldOp : LMC_Op<"yield", [
    Pure, ReturnLike, Terminator, HasParent<"FusedOp">]> {
  let summary = "the results of a fusion group";
  let description = [{
    Ends the body of `lmc.fused`; its operands become the group's results.

    Example:

    ```mlir
    lmc.yield %1, %2 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
    ```

    **Constraints:**
    - the operand types equal the result types of the enclosing
      `lmc.fused`.
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let hasVerifier = 1;
}

def LMC_MatmulBiasOp : LMC_Op<"matmul_bias", [
    DeclareOpInterfaceMethods<LMC_BF16StorageOpInterface, ["canReadBF16",
        "canWriteBF16", "computesInBF16"]>,
    Pure]> {
  let summary = "a linear layer's GEMM with its bias (and GELU) epilogue";
  let description = [{
    `lmc.matmul %lhs, %rhs` (`rhs` one `[K, N]` matrix, or `[N, K]` with
    `transpose_b`, shared by every row of `lhs` `[..., M, K]`) followed by
    `lmc.bias_add` of `bias` `[N]` along the last dimension, as one op, which
    lowers to one call of the runtime's GEMM with an epilogue
    (the biased GEMM: oneDNN's sgemm and a bias loop on the CPU,
    cuBLASLt's `CUBLASLT_EPILOGUE_BIAS` on the GPU). With `gelu(tanh)` the
    epilogue also applies the tanh approximation of GELU
    (`lmc.gelu ... tanh`): `result` is the activation and `pre_activation`,
    which `lmc.gelu_grad` reads in the backward pass, the biased GEMM
    (`CUBLASLT_EPILOGUE_GELU_AUX_BIAS`). `lmc-gemm-epilogues` forms it after
    `lmc-fuse`; it computes exactly what the ops it replaces compute: the
    products summed in `K` order, then the bias added, then GELU.

    Example:

    ```mlir
    %qkv = lmc.matmul_bias %x, %w, %b
        : tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
    %h, %pre = lmc.matmul_bias %x, %w1, %b1 gelu(tanh)
        : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32>
        -> tensor<?x?x256xf32>, tensor<?x?x256xf32>
    ```

    **Constraints:**
    - `lhs` has rank at least 2 and `rhs` rank 2, both of one element type,
      the contraction dimensions agreeing where both are static;
    - `bias` is rank 1 with `rhs`'s (static) `N` and the element type; with
      bfloat16 `lhs` and `rhs` (`lmc-bf16-storage`) the result is float32
      or bfloat16 and the bias and the pre-activation have its element type
      (the epilogue computed in float32, a bfloat16 bias extended, each
      bfloat16 result rounded once when stored);
    - `result` is `[..., M, N]`, the leading dimensions those of `lhs`;
    - `gelu`, when present, is `tanh` (the runtime has no exact-erf
      epilogue), and then `pre_activation` is present with the type of
      `result`; without `gelu` it is absent.
  }];
  let arguments = (ins LMC_StoredTensor:$lhs, LMC_StoredTensor:$rhs,
                       LMC_StoredTensor:$bias, UnitAttr:$transpose_b,
                       OptionalAttr<LMC_GeluApproximationAttr>:$gelu);
  let results = (outs LMC_StoredTensor:$result,
                      Optional<LMC_StoredTensor>:$pre_activation);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` $bias (`transpose_b` $transpose_b^)?
    (`gelu` `(` $gelu^ `)`)? attr-dict `:` type($lhs) `,` type($rhs) `,`
    type($bias) `->` type(results)
  }];
  let hasVerifier = 1;
}

def LMC_ConvertOp : LMC_Op<"convert", [
    LMC_Elementwise<[0]>, Pure, SameOperandsAndResultShape]> {
  let summary = "converts between float32 and bfloat16 storage";
  let description = [{
    Converts each element of `input` to the element type of `result`: a
    float32 rounded to bfloat16 (to nearest, ties to even; infinities kept,
    NaN stays NaN), or a bfloat16 extended to float32 (exactly).
    `lmc-bf16-storage` creates it: inside a fusion group, after a block
    argument stored as bfloat16 and before a result stored as bfloat16
    (the group computes in float32), and in a group of its own that converts
    a parameter once for the GEMMs that read it.

    Example:

    ```mlir
    %wb = lmc.convert %w : tensor<64x256xf32> -> tensor<64x256xbf16>
    %x = lmc.convert %xb : tensor<?x?x64xbf16> -> tensor<?x?x64xf32>
    ```

    **Constraints:**
    - `input` and `result` have the same shape;
    - one element type is `f32` and the other `bf16`.
  }];
  let arguments = (ins RankedTensorOf<[F32, BF16]>:$input);
  let results = (outs RankedTensorOf<[F32, BF16]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

#endif // LMC_DIALECT_LMC_IR_LMCFUSIONOPS_TD
