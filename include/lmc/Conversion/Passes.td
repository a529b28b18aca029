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

    Collectives, `lmc.flash_attention`/`lmc.flash_attention_grad`,
    `lmc.chunked_head_loss` and `lmc.axis_index` stay as they are: the first
    three bufferize to their ops on buffers, which `convert-lmc-to-runtime`
    makes calls into the runtime with `lmc.axis_index` (flash attention and
    the chunked loss have no loop form, so a program with them must be
    linked with the runtime).

    With `runtime-row-reductions` (the GPU pipeline), the float32 norms,
    softmaxes and cross-entropies outside fusion groups (`lmc.layer_norm`,
    `lmc.layer_norm_grad`, `lmc.rms_norm`, `lmc.rms_norm_grad`,
    `lmc.softmax`, `lmc.softmax_grad`, `lmc.cross_entropy`,
    `lmc.cross_entropy_grad` with int32 targets) stay
    too: they bufferize to `lmc.buffer_row_reduction`, which
    `convert-lmc-to-runtime{device=gpu}` makes calls of the GPU runtime's
    row kernels (a warp or a block per row) instead of a generated kernel
    with a thread per row. Those inside a fusion group (an `lmc.fused`, or
    the kernel function `lmc-outline-kernels` made of one) are lowered as
    usual.

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
  let options = [
    Option<"runtimeRowReductions", "runtime-row-reductions", "bool",
           /*default=*/"false",
           "Leave the float32 norms, softmaxes and cross-entropies outside "
           "fusion groups to the GPU runtime's row kernels">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"
  ];
}

def ConvertLMCToRuntime : Pass<"convert-lmc-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Makes the ops that the runtime implements calls into it";
  let description = [{
    The one lowering to the runtime (`include/lmc/Runtime/lmcrt.h`). After
    bufferization, every op that stands for a runtime function becomes a
    `func.call` of it, the function declared once (private) in the module.
    Symbols, arguments and results come from one table of the runtime ABI
    (`lib/Conversion/LMCToRuntime/RuntimeABI.cpp`), for the runtime of
    `device`: the CPU runtime (`lib/Runtime`: oneDNN, MPI) or the GPU
    runtime (`lib/Runtime/Cuda`: cuBLASLt, NCCL, kernels of its own), whose
    buffers are in GPU memory. Buffers are passed as unranked memrefs, through the
    C interface (`llvm.emit_c_interface`). On the GPU, declarations of the
    functions the table says are ordered on the rank's compute stream are
    marked `lmc.stream_ordered` (what `lmc-gpu-async-launches` relies on).

    What becomes a call:

    - a `linalg.generic` that `convert-lmc-to-linalg` marked
      `lmc.library_call` with `kernel = "gemm"` (an `lmc.matmul`, float32):
      the GEMM `(a, b, c, transpose_a, transpose_b, precision)`; with
      `epilogue = "bias"` (an `lmc.matmul_bias`, inputs a, b and the bias)
      the biased GEMM `(a, b, bias, c, c, transpose_a, transpose_b, 0,
      precision)`, with `epilogue = "bias_gelu_tanh"` (outputs the
      activation c and the pre-activation aux) `(a, b, bias, c, aux, ...,
      1, precision)`: the bias add and GELU run in the GEMM call.
      `precision` (`i32`) is 0 for fp32, 1 for tf32, 2 for bf16 (`lmcrt.h`'s
      `LMCRT_PRECISION_*`), from the `precision` option;
    - a marked generic with `kernel = "embedding_grad"` (float32 gradients,
      int32 ids): the embedding gradient `(grad, ids, table_grad, offset)`,
      a scatter-add instead of the reference's dense loop over the
      vocabulary; `offset` (`i64`) is the op's third, scalar input, or 0;
    - with `device=gpu`, a marked generic with `kernel = "sum"` (one
      float32 input, a 0-d float32 output; `lmc-fuse-kernel-loops
      {runtime-sums}` marks them): the GPU runtime's sum `(in, out,
      square)` (`square` `i32`: 1 sums the squares), one parallel kernel
      in a fixed order that overwrites `out`. As for the GEMM, the marker
      says that the output starts at zero (`lmc-fuse-kernel-loops` marks
      only such sums), so the zero fill before the call, or a copy of a
      shared zero into its output, goes. On the CPU (no sum kernel) the
      generic stays loops;
    - `lmc.buffer_collective` and `lmc.buffer_collective_start` (what the
      collectives become in bufferization): the runtime's all-reduce,
      all-gather or reduce-scatter, or its start form returning a handle
      (`i64`), with `(input, output, axes[, dim])`; `lmc.buffer_wait`: one
      wait per handle;
    - `lmc.buffer_send` and `lmc.buffer_recv_start` (what the point-to-point
      ops become in bufferization): the runtime's send, or the start of its
      receive returning a handle (`i64`) that `lmc.buffer_wait` waits for
      like a collective's, of the buffer's element type (`_f32`, `_i64`),
      with `(buffer, axes, peer, tag)` (`peer` and `tag` `i64`);
    - `lmc.buffer_attention` and `lmc.buffer_attention_grad`: the attention
      kernels `(q, k, v, out, lse, heads, kv_heads)` and `(q, k, v, out, lse,
      dout, dq, dk, dv, heads, kv_heads)`; on the GPU with `precision=bf16`
      their tensor-core forms (`lmcrt_gpu_attention_fwd_bf16`, `_bwd_bf16`,
      same arguments), otherwise the float32 ones (tf32 too);
    - `lmc.buffer_head_loss` (what `lmc.chunked_head_loss` becomes in
      bufferization): the LM head's chunked loss `(x, w, targets, seed,
      loss, dx, dw, transpose_b, classes, rows, precision)`, `transpose_b`
      and `precision` `i32`, `classes` (0 for all columns) and `rows` `i64`;
      the CPU runtime only;
    - `lmc.axis_index`: the runtime's axis index `(axes)` (`i64`), cast to
      `index`.

    The group of a collective, a send, a receive or an axis index is an
    `i32` mask over the axes of the mesh in scope (`MeshAttr::getAxisMask`):
    bit i set when axis i is in the group (on `dp x tp`: dp 1, tp 2, both
    3). An op without a mesh in scope is an error.

    Marked generics of other element types stay loops, and so do all marked
    generics when `library-calls` is false and the kernels `kernels` leaves
    out. Both library kernels overwrite their whole output (the GEMM writes
    it, the embedding gradient zeroes the table first), while the generic
    accumulates into it, hence the zero fill that convert-lmc-to-linalg
    puts before it: when that `linalg.fill` of the same buffer comes before
    the generic with only ops without memory effects and deallocations of
    other buffers in between, it is removed with the generic (on the GPU it
    would be one kernel per call, on the CPU one pass over the output).

    An unknown `device` or `precision` is an error; so is a function the
    table gives no symbol on the device.

    Input:

    ```mlir
    module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
      func.func @f(%a: memref<?x64xf32>, %b: memref<256x64xf32>, %c: memref<?x256xf32>) {
        linalg.generic {... lmc.library_call = {kernel = "gemm", transpose_a = false, transpose_b = true}}
            ins(%a, %b : memref<?x64xf32>, memref<256x64xf32>) outs(%c : memref<?x256xf32>) {...}
        lmc.buffer_collective all_reduce %c into %c over ["tp"] : memref<?x256xf32>, memref<?x256xf32>
        return
      }
    }
    ```

    Output (`precision=tf32`):

    ```mlir
    func.func private @lmcrt_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32)
        attributes {llvm.emit_c_interface}
    func.func private @lmcrt_gemm(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32)
        attributes {llvm.emit_c_interface}
    ...
    %false = arith.constant 0 : i32
    %true = arith.constant 1 : i32
    %tf32 = arith.constant 1 : i32
    %ua = memref.cast %a : memref<?x64xf32> to memref<*xf32>
    %ub = memref.cast %b : memref<256x64xf32> to memref<*xf32>
    %uc = memref.cast %c : memref<?x256xf32> to memref<*xf32>
    call @lmcrt_gemm(%ua, %ub, %uc, %false, %true, %tf32)
        : (memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) -> ()
    %tp = arith.constant 2 : i32
    ...
    call @lmcrt_all_reduce_f32(%uc0, %uc1, %tp) : (memref<*xf32>, memref<*xf32>, i32) -> ()
    ```

    With `device=gpu` the same calls name `@lmcrt_gpu_gemm` and
    `@lmcrt_gpu_all_reduce_f32`, declared with `lmc.stream_ordered`.
  }];
  let options = [
    Option<"device", "device", "std::string", /*default=*/"\"cpu\"",
           "The runtime called: cpu (lib/Runtime) or gpu (lib/Runtime/Cuda, "
           "buffers in GPU memory)">,
    Option<"precision", "precision", "::mlir::lmc::Precision",
           /*default=*/"::mlir::lmc::defaults::precision",
           "Compute precision of the GEMMs, passed to each GEMM call: fp32, "
           "tf32 or bf16. Operands and results stay float32 buffers and the "
           "products are accumulated in float32; tf32 and bf16 round the "
           "operands to 10 and 7 mantissa bits first (tensor cores on the "
           "GPU)", [{::mlir::lmc::precisionValues()}]>,
    Option<"libraryCalls", "library-calls", "bool", /*default=*/"true",
           "Call the library kernels of the marked linalg ops (false: they "
           "stay loops); ops on buffers are always calls">,
    ListOption<"kernels", "kernels", "std::string",
               "The library kernels to call (gemm, embedding_grad, sum); all when "
               "empty. Marked ops of other kernels stay linalg ops">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
  let statistics = [
    Statistic<"numCalls", "runtime-calls", "Calls into the runtime emitted">,
    Statistic<"numDeadFills", "dead-fills",
              "Zero fills of library call outputs removed">,
    Statistic<"numEpilogues", "gemm-epilogues",
              "GEMMs called with a bias (and GELU) epilogue">,
    Statistic<"numSums", "sums", "Sums to a scalar called on the GPU">,
  ];
}

//===----------------------------------------------------------------------===//
// GPU kernels (lmc-gpu-pipeline)
//===----------------------------------------------------------------------===//

def LMCLinalgToGPU : Pass<"lmc-linalg-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Turns every linalg op on buffers into a gpu.launch";
  let description = [{
    After bufferization (and `convert-lmc-to-runtime`, which has replaced
    the GEMMs by library calls), makes each remaining loop nest of the
    program a GPU kernel: every linalg op on buffers, and every
    `memref.copy` between buffers (as a `linalg.copy`), becomes one
    `gpu.launch` at the op's place in its host function. Copies out of a
    `memref.global` (host data, such as the model description) stay host
    copies.

    Each op is generalised and its parallel loops are moved outermost; they
    are flattened into one index space of `N` iterations (the product of
    their extents, row-major, so that consecutive threads touch
    consecutive elements of the innermost dimension), split into blocks of
    `block-size` threads (fewer when `N` is a smaller constant), with a
    bounds check in the kernel. Each thread runs the op's reduction loops
    sequentially: a LayerNorm row, a softmax row or a bias gradient column
    per thread. An op without parallel loops (a sum to a scalar, an op on
    0-d buffers) is one thread of one block.

    The kernels are built as mapped `scf.parallel` loops (`block_x` over
    `thread_x`) and converted with upstream's parallel-loops-to-GPU
    patterns; `gpu-kernel-outlining` then moves them into `gpu.module`s.

    Input:

    ```mlir
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%x : memref<?x256xf32>) outs(%y : memref<?x256xf32>) {...}
    ```

    Output (`block-size` 256):

    ```mlir
    %n = arith.muli %rows, %c256 : index
    %blocks = arith.ceildivui %n, %c256 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %blocks, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
      %i = ... %bx * 256 + %tx ...
      %in = arith.cmpi ult, %i, %n : index
      scf.if %in {
        %row = arith.divui %i, %c256 : index
        %col = arith.remui %i, %c256 : index
        %v = memref.load %x[%row, %col] : memref<?x256xf32>
        ...
        memref.store %r, %y[%row, %col] : memref<?x256xf32>
      }
      gpu.terminator
    }
    ```
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">,
  ];
  let statistics = [
    Statistic<"numLaunches", "launches", "gpu.launch ops created">,
    Statistic<"numSerial", "serial-launches",
              "Launches of one thread (ops without parallel loops)">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def LMCFusedLoopsToGPU : Pass<"lmc-fused-loops-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Makes the loop nest of each fusion group one GPU kernel";
  let description = [{
    After `lmc-fuse-kernel-loops` and bufferization, the kernel of a fusion
    group (`lmc-fuse`) holds one `scf.forall` over blocks of rows whose body
    computes every op of the group on its block. This pass makes each such
    loop one kernel: the loop's iterations are flattened (row-major) into
    one index space, split into blocks of `block-size` threads, one thread
    per iteration, with a bounds check; the linalg ops and copies of the
    body become sequential loops in that thread. Buffers that the body
    allocates with a static shape (a block's row statistics) become private
    to the thread (`memref.alloca`).

    The loop is built as mapped `scf.parallel` loops (`block_x` over
    `thread_x`), which `lmc-linalg-to-gpu` converts with the other kernels;
    what the group computes outside the loop (fills of partial sums, the
    sum of the partials after it, scalars) stays linalg ops, each its own
    kernel. A loop whose body allocates a buffer of dynamic shape stays as
    it is (`lmc-linalg-to-gpu` then launches its ops one by one) and is
    counted in `unmapped-loops`.

    Input (after bufferization):

    ```mlir
    scf.forall (%b, %t) in (%B, %nt) {
      %x = memref.subview %in[%b, %t * 16, 0] [1, 16, 768] [1, 1, 1] : ...
      linalg.generic ... ins(%x : ...) outs(%y : ...) {...}
      ...
    }
    ```

    Output:

    ```mlir
    scf.parallel (%blk) = (%c0) to (%nblocks) step (%c1) {
      scf.parallel (%thr) = (%c0) to (%c128) step (%c1) {
        %i = ... %blk * 128 + %thr ...
        scf.if (%i < %B * %nt) {
          %b = ... %t = ...   // delinearised
          scf.for ... { ... } // the body's ops as loops
        }
      } {mapping = [#gpu.loop_dim_map<processor = thread_x, ...>]}
    } {mapping = [#gpu.loop_dim_map<processor = block_x, ...>]}
    ```
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Threads per block (one thread per iteration of the loop)">,
  ];
  let statistics = [
    Statistic<"numMapped", "mapped-loops", "Fused loops made one kernel">,
    Statistic<"numUnmapped", "unmapped-loops",
              "Fused loops left to lmc-linalg-to-gpu">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def LMCMergeGPUModules : Pass<"lmc-merge-gpu-modules", "::mlir::ModuleOp"> {
  let summary = "Moves every outlined kernel into one gpu.module";
  let description = [{
    Upstream `gpu-kernel-outlining` puts each kernel in a `gpu.module` of its
    own. This pass moves all kernels into one `gpu.module` named `name`, so
    that the training step's device code is one compilation unit: one
    PTX file, libdevice linked once, one module for the runtime to load. A
    kernel takes the name of the module it came from (outlining makes those
    unique: `<function>_kernel`, `<function>_kernel_0`, ...), and every
    `gpu.launch_func` is updated. Modules with anything but kernels, or with
    a target already attached, are an error.

    Input:

    ```mlir
    gpu.module @k_kernel { gpu.func @k_kernel(...) kernel {...} }
    gpu.module @k_kernel_0 { gpu.func @k_kernel(...) kernel {...} }
    gpu.launch_func @k_kernel_0::@k_kernel blocks in (...) threads in (...) args(...)
    ```

    Output:

    ```mlir
    gpu.module @lmc_kernels {
      gpu.func @k_kernel(...) kernel {...}
      gpu.func @k_kernel_0(...) kernel {...}
    }
    gpu.launch_func @lmc_kernels::@k_kernel_0 blocks in (...) threads in (...) args(...)
    ```
  }];
  let options = [
    Option<"moduleName", "name", "std::string", /*default=*/"\"lmc_kernels\"",
           "Name of the merged gpu.module">,
  ];
  let statistics = [
    Statistic<"numKernels", "kernels", "Kernels in the merged module">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def LMCCheckDeviceCalls : Pass<"lmc-check-device-calls", "::mlir::ModuleOp"> {
  let summary = "Checks that device code calls only what the device has";
  let description = [{
    Runs on the kernels in the LLVM dialect (after `convert-gpu-to-nvvm`),
    before `gpu-module-to-binary`. Every function a `gpu.module` declares
    without defining must be a libdevice function (`__nv_*`, math the
    lowering of `math` ops calls) or one of PTX's system calls (`vprintf`,
    `malloc`, `free`, `__assertfail`); anything else (a host library
    function, a runtime call) is an error at its declaration.

    When the kernels call libdevice, the CUDA toolkit `toolkit` must hold
    `nvvm/libdevice/libdevice.10.bc`, or this pass fails. Upstream
    `gpu-module-to-binary` links libdevice only when it is given a toolkit
    path, and without one it silently leaves the calls unresolved in the
    PTX (`test/upstream/gpu-module-to-binary-no-libdevice.mlir`): the PTX
    then looks fine and fails only when it is loaded. This check is lmc's
    one guard against that, and the GPU pipeline passes the same `toolkit`
    to both passes.

    Input (error):

    ```mlir
    gpu.module @lmc_kernels {
      llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)
      ...
    }
    ```
  }];
  let options = [
    Option<"toolkit", "toolkit", "std::string", /*default=*/"\"\"",
           "The CUDA toolkit whose libdevice gpu-module-to-binary links">,
  ];
  let statistics = [
    Statistic<"numLibdevice", "libdevice-functions",
              "libdevice functions the kernels call">,
  ];
}

def LMCHostSharedBuffers : Pass<"lmc-host-shared-buffers", "::mlir::ModuleOp"> {
  let summary = "Allocates the buffers the host code touches as host-shared "
                "GPU memory";
  let description = [{
    The GPU runtime gives `memref.alloc` device memory (`cuMemAlloc`), which
    the host cannot address. The host code of a GPU program still reads a
    few buffers itself: the scalars it loads after the kernels that compute
    them (the loss, the squared norms of the gradients for clipping), and
    what it copies on the host (the model description). This pass, on the
    host functions (the `func.func` ops outside `gpu.module`), replaces each
    `memref.alloc` whose buffer (or a view or cast of it) a `memref.load`,
    `memref.store` or `memref.copy` uses by a synchronous
    `gpu.alloc host_shared` of the same type and sizes: `gpu-to-llvm`
    lowers it to `mgpuMemAlloc(size, null, true)`, for which the runtime
    gives managed memory from a small pool of its own, so that those
    scalars share no pages with the activations. Their `memref.dealloc`
    stays (the runtime frees either kind by address). Kernels read and
    write the shared buffers as any other. A buffer that a stream-ordered
    host function (`lmc-gpu-stream-functions`) allocates and returns, and
    a caller reads, is allocated shared in that function.

    Run after `lmc-gpu-async-launches`, which moves host reads of buffers
    the function allocated (`memref.alloc`) down to their first use.

    Input:

    ```mlir
    %n = memref.alloc() {alignment = 64 : i64} : memref<f32>
    gpu.launch_func @lmc_kernels::@norm ... args(%g : memref<64xf32>, %n : memref<f32>)
    %a = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    %0 = memref.load %n[] : memref<f32>
    memref.dealloc %n : memref<f32>
    ```

    Output:

    ```mlir
    %n = gpu.alloc  host_shared () : memref<f32>
    gpu.launch_func @lmc_kernels::@norm ... args(%g : memref<64xf32>, %n : memref<f32>)
    %a = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    %0 = memref.load %n[] : memref<f32>
    memref.dealloc %n : memref<f32>
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def LMCGpuStreamFunctions : Pass<"lmc-gpu-stream-functions",
                                  "::mlir::ModuleOp"> {
  let summary = "Keeps the host functions that only queue GPU work out of "
                "line, stream-ordered";
  let description = [{
    After `lmc-outline-kernels` and the GPU lowering, each op kernel is a
    private host function (shared by the layers) that allocates its
    outputs, launches its kernels and calls the GPU runtime.
    `lmc-gpu-async-launches` chains the launches of a function on one token
    and waits where the host touches memory, so the entry points used to
    inline every such function: the entry points became straight-line
    launch sequences that grow with the depth of the model, and their code
    generation on the host was the largest part of a deep model's compile.

    This pass, before `inline`, marks `lmc.stream_ordered` and `no_inline`
    every private host function with one block whose ops only queue work
    on the rank's compute stream or need no memory on the host: kernel
    launches (synchronous so far), calls of stream-ordered functions (the
    GPU runtime's, and the functions this pass keeps), `memref.alloc`,
    `memref.dealloc`, `cf.assert`, and pure ops without regions; and whose
    returned buffers every caller uses only on the GPU (launches,
    stream-ordered calls, deallocations, and pure ops such as views, whose
    buffers are followed in turn). A function whose result the host reads
    (a squared norm for clipping, the loss) is inlined as before, so that
    `lmc-gpu-async-launches` can delay the read and
    `lmc-host-shared-buffers` can see the allocation. The kept functions
    are chosen by a fixed point: dropping one can make a caller's use of
    another's result a host use.

    A call of a kept function is then like a call of the GPU runtime: the
    host does not wait before it, and its launches (chained inside it by
    `lmc-gpu-async-launches` on a token of their own, which lowers to
    `mgpuStreamCreate`, the runtime's one compute stream) run in program
    order with everything else on that stream. The entry points of a
    48-layer model are then calls, as on the CPU target, and the host code
    grows with the kinds of ops rather than their number.

    Input:

    ```mlir
    func.func private @m_gelu_0(%x: memref<?xf32>) -> memref<?xf32> {
      %y = memref.alloc(%n) : memref<?xf32>
      gpu.launch_func @lmc_kernels::@m_gelu_0_kernel ... args(%x : memref<?xf32>, %y : memref<?xf32>)
      return %y : memref<?xf32>
    }
    func.func @lmc_train_step(...) {
      %y = call @m_gelu_0(%x) : (memref<?xf32>) -> memref<?xf32>
      gpu.launch_func @lmc_kernels::@k ... args(%y : memref<?xf32>)
    ```

    Output:

    ```mlir
    func.func private @m_gelu_0(%x: memref<?xf32>) -> memref<?xf32>
        attributes {lmc.stream_ordered, no_inline} {
      ...
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numStreamFunctions", "stream-functions",
              "host functions kept out of line as stream-ordered">,
  ];
}

def LMCGpuAsyncLaunches : Pass<"lmc-gpu-async-launches", "::mlir::ModuleOp"> {
  let summary = "Launches kernels without synchronising; waits only where "
                "the host touches memory";
  let description = [{
    A `gpu.launch_func` without async token is synchronous: `gpu-to-llvm`
    and the LLVM translation give it its own stream, launch, synchronise
    the stream and destroy it, so the host waits for every kernel. This
    pass makes the host code of a GPU program asynchronous, in each block
    of each host function:

    - every synchronous `gpu.launch_func` becomes `async`, chained on one
      token per stretch of GPU work (started by `gpu.wait async`, which
      lowers to `mgpuStreamCreate`), so the launches queue on one stream;
    - the host waits (`gpu.wait [%token]`: `mgpuStreamSynchronize`) only
      right before an op that may read or write memory on the host
      (`memref.load`, `memref.store`, `memref.copy`, a call of anything but
      a stream-ordered function, an op with regions) and before the block's
      terminator, so an entry point returns with its results in place.

    What needs no wait: pure ops, buffer allocation and deallocation (the
    runtime recycles a freed buffer only for work queued after the free on
    the same stream, and frees memory outside the step arena after
    synchronising), and calls of functions marked `lmc.stream_ordered`:
    the GPU runtime's functions (GEMMs, attention, collectives;
    `convert-lmc-to-runtime{device=gpu}` marks them), which run after
    everything queued on the rank's compute stream and before everything
    queued after them, because the GPU runtime gives every stream of a
    rank's generated code (`mgpuStreamCreate`) as that one compute stream.

    Before that, scalar reads are delayed: a `memref.load` of a buffer
    allocated in the function, and the pure ops computing from what it
    read, move down to just before their first user, as long as nothing in
    between uses the buffer (its deallocation moves along). The squared
    norms of the gradients, each read on the host as soon as its kernel
    has run, are then read together after the last of them: one wait
    instead of one per parameter.

    A call of a stream-ordered host function of the module queues kernels
    as a launch does: with no token pending, the pass starts one before it
    (`gpu.wait async`), so that the next host access waits for that work
    too. (The GPU runtime's own stream-ordered functions synchronise
    themselves where the host reads what they wrote, as
    `lmcrt_gpu_collective_wait` does for a received size.) A host function
    that is itself stream-ordered (`lmc-gpu-stream-functions` keeps those
    that only queue GPU work out of line) chains its launches on a token of
    its own and returns without waiting: its callers wait where they touch
    memory.

    Upstream's `gpu-async-region` treats every op with side effects
    (deallocations, library calls) as a host access and would wait before
    each of them. Run after `lmc-gpu-stream-functions` and `inline`: a call
    of a host function that launches kernels and is not stream-ordered
    would make the host wait before it and before the callee returns.

    Input:

    ```mlir
    gpu.launch_func @lmc_kernels::@a blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<64xf32>)
    call @lmcrt_gpu_gemm(%u, %v, %w, %f, %f, %p) : (...) -> ()
    gpu.launch_func @lmc_kernels::@b blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>, %s : memref<f32>)
    %0 = memref.load %s[] : memref<f32>
    ```

    Output:

    ```mlir
    %t0 = gpu.wait async
    %t1 = gpu.launch_func async [%t0] @lmc_kernels::@a ...
    call @lmcrt_gpu_gemm(%u, %v, %w, %f, %f, %p) : (...) -> ()
    %t2 = gpu.launch_func async [%t1] @lmc_kernels::@b ...
    gpu.wait [%t2]
    %0 = memref.load %s[] : memref<f32>
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numAsyncLaunches", "async-launches",
              "kernel launches made asynchronous">,
    Statistic<"numWaits", "waits", "host waits inserted">,
    Statistic<"numDelayedReads", "delayed-reads",
              "host reads of a buffer moved later">,
  ];
}

#endif // LMC_CONVERSION_PASSES_TD
