//===- Passes.td - lmc conversion passes -------------------*- tablegen -*-===//

#ifndef LMC_CONVERSION_PASSES_TD
#define LMC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLMCToLinalg : Pass<"convert-lmc-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lowers lmc ops to linalg, tensor, arith, math and cf";
  let description = [{
    The executable semantics of the dialect: every lmc compute op becomes
    `linalg.generic`/named linalg ops on tensors (with `tensor`, `arith`,
    `math` and `cf` ops), and `lmc.model` is dissolved into the enclosing
    module: its functions move to the module and its parameter declarations
    are dropped. This is the reference that faster lowerings are checked
    against, not the fast path. `lmc.causal_attention` is lowered through the
    patterns of `lmc-decompose-attention`. Parameters must have been bound
    first (`lmc-bind-params`); a remaining `lmc.param_ref` is an error.

    Dynamic sizes are run-time values: a sequence longer than the position
    table fails a `cf.assert` when the program runs.

    Collectives stay as they are (they bufferize to calls into the runtime);
    `lmc.axis_index` becomes a call of the runtime's
    `lmcrt_axis_index(axis)` (`i32` axis number, 0 for `dp` and 1 for `tp`;
    other axes are an error), declared once in the module.

    Input:

    ```mlir
    %y = lmc.gelu %x tanh : tensor<?x64xf32>
    ```

    Output:

    ```mlir
    %c0 = arith.constant 0 : index
    %n = tensor.dim %x, %c0 : tensor<?x64xf32>
    %e = tensor.empty(%n) : tensor<?x64xf32>
    %y = linalg.generic {indexing_maps = [#id, #id],
                         iterator_types = ["parallel", "parallel"]}
        ins(%x : tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      ...
      linalg.yield %r : f32
    } -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"
  ];
}

def LMCKernelsToRuntime : Pass<"lmc-kernels-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Replaces marked linalg ops on buffers by runtime library calls";
  let description = [{
    After bufferization, replaces each `linalg.generic` that
    `convert-lmc-to-linalg` marked with `lmc.library_call` by a call into the
    lmc runtime (`include/lmc/Runtime/lmcrt.h`), with its buffers passed as
    unranked memrefs:

    - `kernel = "gemm"` (every `lmc.matmul`, float32) becomes
      `lmcrt_gemm_f32(a, b, c, transpose_a, transpose_b)`, which runs on a
      BLAS library;
    - `kernel = "embedding_grad"` (float32 gradients, int32 ids) becomes
      `lmcrt_embedding_grad_f32(grad, ids, table_grad, offset)`, a
      scatter-add instead of the reference's dense loop over the vocabulary;
      `offset` (`i64`) is the op's third, scalar input (the first row of a
      block of the table), or 0 when it has none.

    Marked ops of other element types stay loops. The declarations carry
    `llvm.emit_c_interface`.

    Input:

    ```mlir
    linalg.generic {... lmc.library_call = {kernel = "gemm", transpose_a = false, transpose_b = true}}
        ins(%a, %b : memref<?x64xf32>, memref<256x64xf32>) outs(%c : memref<?x256xf32>) {...}
    ```

    Output:

    ```mlir
    %ua = memref.cast %a : memref<?x64xf32> to memref<*xf32>
    %ub = memref.cast %b : memref<256x64xf32> to memref<*xf32>
    %uc = memref.cast %c : memref<?x256xf32> to memref<*xf32>
    %false = arith.constant 0 : i32
    %true = arith.constant 1 : i32
    call @lmcrt_gemm_f32(%ua, %ub, %uc, %false, %true)
        : (memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"numCalls", "library-calls", "Linalg ops replaced by calls">,
  ];
}

#endif // LMC_CONVERSION_PASSES_TD
