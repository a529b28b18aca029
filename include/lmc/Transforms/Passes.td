//===- Passes.td - lmc transformation passes ---------------*- tablegen -*-===//

#ifndef LMC_TRANSFORMS_PASSES_TD
#define LMC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LMCDecomposeAttention : Pass<"lmc-decompose-attention"> {
  let summary = "Rewrites lmc.causal_attention into its primitive ops";
  let description = [{
    Replaces every `lmc.causal_attention` by the composition it stands for:
    heads split out, scores `q k^T`, scaled by `1/sqrt(D)`, causally masked,
    softmax, weighted sum of values, heads merged.

    Input:

    ```mlir
    %y = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
    ```

    Output:

    ```mlir
    %qh = lmc.split_heads %q heads(2) : tensor<?x?x64xf32>
    %kh = lmc.split_heads %k heads(2) : tensor<?x?x64xf32>
    %vh = lmc.split_heads %v heads(2) : tensor<?x?x64xf32>
    %s = lmc.matmul %qh, %kh transpose_b : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
    %ss = lmc.scale %s by 1.767767e-01 : tensor<?x2x?x?xf32>
    %m = lmc.causal_mask %ss : tensor<?x2x?x?xf32>
    %p = lmc.softmax %m : tensor<?x2x?x?xf32>
    %yh = lmc.matmul %p, %vh : tensor<?x2x?x?xf32>, tensor<?x2x?x32xf32>
    %y = lmc.merge_heads %yh : tensor<?x2x?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
}

def LMCBindParams : Pass<"lmc-bind-params", "::mlir::ModuleOp"> {
  let summary = "Replaces parameter references by constants read from a "
                "safetensors file";
  let description = [{
    Reads the safetensors file given by `from` and replaces every
    `lmc.param_ref` by an `arith.constant` holding the stored value of that
    parameter, so that the model can run with fixed weights (tests, inference
    with known weights). The file is validated, never trusted: the header
    length, JSON, dtypes (`F32`, `F64`), offsets and sizes are checked, and
    each parameter must be present with its declared shape and element type.
    Entries that the model does not declare are an error.

    Input (`from=weights.safetensors` holding `ln_f.bias` as 64 x F32):

    ```mlir
    %b = lmc.param_ref @"ln_f.bias" : tensor<64xf32>
    ```

    Output:

    ```mlir
    %b = arith.constant dense<[...]> : tensor<64xf32>
    ```
  }];
  let options = [
    Option<"from", "from", "std::string", /*default=*/"\"\"",
           "Path of the safetensors file holding the parameters">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def LMCModelSummary : Pass<"lmc-model-summary", "::mlir::ModuleOp"> {
  let summary = "Prints parameter count and FLOPs per token of each model";
  let description = [{
    Prints one line per `lmc.model` to stdout (or to the file given by
    `output`): the number of parameters, and the forward FLOPs per token,
    split into the matmul FLOPs (2 K N per output row of every `lmc.matmul`
    whose rows are tokens) and the attention FLOPs at full context
    (4 T C per `lmc.causal_attention`, T the rows of the position table).
    The IR is not changed.

    Input: a model. Output on stdout, e.g.:

    ```
    lmc.model @tiny: 120576 parameters, 2 layers; forward FLOPs/token: 229376 matmul + 32768 attention (T=64) = 262144
    ```
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the summary ('-' is stdout)">,
  ];
}

#endif // LMC_TRANSFORMS_PASSES_TD
