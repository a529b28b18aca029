//===- Passes.td - lmc code generation passes --------------*- tablegen -*-===//
//
// Stage: from the training step to buffers and loops: the
// runtime's entry points, kernel outlining, loop shaping, bufferization and
// deallocation.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_CODEGEN_PASSES_TD
#define LMC_TRANSFORMS_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

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

def LMCExportEntryPoints : Pass<"lmc-export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Fixed-signature entry points and model description for the "
                "runtime";
  let description = [{
    The runtime calls compiled code through one C ABI whose signatures do not
    depend on the model. For the single model of the module that has
    `@train_step`, `@eval_step` and `@logits` (`lmc-optimizer`), this pass adds
    to the enclosing module:

    - `@lmc_train_step(params, exp_avg, exp_avg_sq, step, lr, min_lr, warmup,
      decay_steps, beta1, beta2, eps, weight_decay, grad_clip, tokens,
      targets, max_loss) -> (loss, grad_norm, lr, nonfinite)`, where
      `params`, `exp_avg` and
      `exp_avg_sq` are each ONE flat `memref<N x f32>` holding every
      parameter in declaration order (row-major, no padding), updated in
      place: each parameter's view (`memref.subview`, `memref.expand_shape`)
      is read as a tensor (`bufferization.to_tensor restrict writable`), the
      body of `@train_step` runs on these (inlined, so that no function
      returns hundreds of values), and the new values are materialised into
      the same views. As the AdamW update writes into its operands
      (`convert-lmc-to-linalg`), bufferization updates the buffers where they
      are and the materialisations fold away. The update (the ops that only
      the new parameters and moments need) runs in an `scf.if` taken when
      `loss <= max_loss` (the trainer's loss-spike guard; +inf applies every
      update); otherwise the state stays as it was (not for
      `target=cuda`, whose asynchronous launches cover the top level only:
      there every update is applied and `max_loss` is ignored). `nonfinite` is 0, or 1
      when some element of this rank's new parameters and moments is NaN
      or infinite: one sum per tensor, `(sum of sums) * 0` is NaN exactly
      then (or when the sum overflows); rank-local, no collective;
    - with `lmc-grad-accumulation`, `@lmc_grad_step` and `@lmc_apply_step`
      (whose results gain the same `nonfinite`);
    - `@lmc_eval_step(params, tokens, targets) -> loss` and
      `@lmc_logits(params, tokens) -> tensor<?xVxf32>`, reading the same
      views of `params` (a `memref<N x f32>`) without writing them;
    - `@lmc_model_info() -> memref<?xi8>`: a text description of the model
      that the runtime reads (name, element type, vocabulary, context, and
      per parameter its name, shape, offset in the flat buffer, initialiser
      and whether weight decay applies, as `lmc-optimizer` decided; the
      line `dp_sync local` when `lmc-shard` left the gradients local to
      each replica, `lmc.dp_sync`);
    - when the model's batch axes (`lmc.batch_axes`) span more than one
      rank, whatever its `dp-sync`: `@lmc_dp_average(buffer)`,
      `@lmc_dp_average_start(buffer) -> i64` and
      `@lmc_dp_average_finish(handle, buffer)`, the mean over those ranks
      (the replicas) of a flat buffer of the parameters' layout, in place:
      an `lmc.buffer_collective all_reduce` of the buffer into itself over
      the batch axes (or its start form, whose handle the function returns
      and the finish waits for), then an `lmc.scale` by 1/P of the buffer
      read as a tensor and materialised back into it. The trainer averages
      parameters (local SGD) with them.

    All of them carry `llvm.emit_c_interface`, so the runtime reaches them as
    `_mlir_ciface_lmc_*` with memref descriptors. The model's other functions
    become private, so that `symbol-dce` removes those the entry points do
    not call.

    Input: a model after `lmc-autodiff` and `lmc-optimizer`. Output (abridged):

    ```mlir
    func.func @lmc_eval_step(%flat: memref<120576xf32>, %tokens: tensor<?x?xi32>,
        %targets: tensor<?x?xi32>) -> f32 attributes {llvm.emit_c_interface} {
      %s0 = memref.subview %flat[0] [16384] [1] : memref<120576xf32> to memref<16384xf32, strided<[1]>>
      %v0 = memref.expand_shape %s0 [[0, 1]] output_shape [256, 64] : memref<16384xf32, strided<[1]>> into memref<256x64xf32>
      %wte = bufferization.to_tensor %v0 restrict : memref<256x64xf32> to tensor<256x64xf32>
      ...
      ... the body of @eval_step on these views ...
    }
    ```
  }];
  let options = [
    Option<"target", "target", "::mlir::lmc::Target",
           /*default=*/"::mlir::lmc::defaults::target",
           "The target the program is compiled for (cpu or cuda), written "
           "to the model description as `target TARGET`: the runtime "
           "refuses to run a cuda program without its GPU runtime",
           [{::mlir::lmc::targetValues()}]>,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCDeviceScalars : Pass<"lmc-device-scalars", "::mlir::ModuleOp"> {
  let summary = "Computes the scalars that fusion groups read from kernel "
                "results on the device, and the host's reads at the end (GPU)";
  let description = [{
    On the GPU the host reads a kernel's result only after waiting for the
    stream. A training step's clipping coefficient is computed from the
    gradients' squared norms (kernel results) and read by the AdamW updates,
    so computing it on the host puts a wait in the middle of the step, and a
    step with such a wait cannot be captured as one CUDA graph. This pass
    runs first in the GPU pipeline, on the lmc-level entry points:

    1. A fusion group whose scalar results are scalar code at the top of its
       body (`tensor.extract` of 0-d tensors, `arith` and `math`) yields the
       0-d tensors instead; the scalar code moves after the group (what
       `lmc-outline-kernels` does with the code between a group's parts).
    2. The scalar code on reads of 0-d tensors that an operand taking a 0-d
       tensor needs (an `lmc.adamw`'s `grad_scale`, directly or through a
       group's argument used only there; a `tensor.from_elements` to a 0-d
       tensor, which goes: the partial squared norms all-reduced under tp or
       ZeRO) becomes `linalg.generic`s without
       loops on 0-d tensors (one GPU thread each), each reading at most
       `max-inputs` tensors (a kernel's parameters take at most 4 KiB, a 0-d
       buffer three words: the default 128 keeps gpt2-124M's 148 squared
       norms to two kernels, the 28 of tiny to one), with the same
       operations in the same order (so the numbers
       are the same bits). Each is a private kernel function of its own,
       `<model>_clip_<n>` (the optimizer's class in the GPU profile), called
       where the code stood, so that the entry points launch nothing
       themselves (`lmc-gpu-stream-functions`); host scalars (the
       `grad_clip` argument) are its arguments. The operand gets the 0-d
       result, which the update reads in its loop. The other uses of a value
       computed there (the logged norm) read the 0-d result back.
    3. Reads of 0-d tensors that only the return needs (the loss, the norm,
       the non-finite flag), with the scalar code between them and the
       return, move to just before the return.

    The code is straight-line: the function's body and the branches of its
    `scf.if`s (the CPU's guard around the update). The CPU computes the same
    numbers with or without the pass
    (`test/e2e/trainer/trainer-device-scalars.test`, `-mesh.test`).

    Input:

    ```mlir
    %n:2 = lmc.fused "grad_norm" (%a = %g0, %b = %g1) : (...) -> (tensor<64xf32>, f32) {
      ...
      %e0 = tensor.extract %s0[] : tensor<f32>
      %e1 = tensor.extract %s1[] : tensor<f32>
      %sum = arith.addf %e0, %e1 : f32
      lmc.yield %x, %sum : tensor<64xf32>, f32
    }
    %norm = math.sqrt %n#1 : f32
    ...
    %scale = arith.select %on, %coef, %one : f32
    %u:3 = lmc.fused "adamw" (..., %s = %scale, ...) {
      ... lmc.adamw ... grad_scale(%s) ... : tensor<64xf32>, f32, i64
    }
    return %loss, %norm, ...
    ```

    Output:

    ```mlir
    %n:3 = lmc.fused "grad_norm" (...) -> (tensor<64xf32>, tensor<f32>, tensor<f32>) {...}
    %d:2 = call @tiny_clip_0(%n#1, %n#2, %clip, %on)
        : (tensor<f32>, tensor<f32>, f32, i1) -> (tensor<f32>, tensor<f32>)
    %u:3 = lmc.fused "adamw" (..., %s = %d#1, ...) {
      ... lmc.adamw ... grad_scale(%s) ... : tensor<64xf32>, f32, i64, tensor<f32>
    }
    ...
    %norm = tensor.extract %d#0[] : tensor<f32>
    return %loss, %norm, ...

    func.func private @tiny_clip_0(%s0: tensor<f32>, %s1: tensor<f32>,
        %clip: f32, %on: i1) -> (tensor<f32>, tensor<f32>) {
      %d:2 = linalg.generic {indexing_maps = [affine_map<() -> ()>, ...],
                             iterator_types = []}
          ins(%s0, %s1 : tensor<f32>, tensor<f32>) outs(...) {
      ^bb0(%e0: f32, %e1: f32, %o0: f32, %o1: f32):
        %sum = arith.addf %e0, %e1 : f32
        %norm = math.sqrt %sum : f32
        ...
        linalg.yield %norm, %scale : f32, f32
      } -> (tensor<f32>, tensor<f32>)
      return %d#0, %d#1 : tensor<f32>, tensor<f32>
    }
    ```
  }];
  let options = [
    Option<"maxInputs", "max-inputs", "unsigned", /*default=*/"128",
           "Most 0-d tensors one device computation reads">,
  ];
  let statistics = [
    Statistic<"numHoisted", "hoisted-groups",
              "Fusion groups whose scalar results moved out">,
    Statistic<"numUses", "tensor-uses",
              "Operands given a scalar computed on the device">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCOutlineKernels : Pass<"lmc-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Outlines each lmc compute op into a shared kernel function";
  let description = [{
    Moves every lmc compute op of a model's functions into a private function
    of its own (a kernel) and calls it, reusing one kernel for all ops that
    are identical up to their operands: same op, attributes, operand and
    result types. The layers of a Transformer then share their kernels, so
    the code lowered to LLVM grows with the number of distinct ops, not with
    the depth of the model, and no function grows to the size of a whole
    training step. Kernels are named `<model>_<op>_<n>`. The reshapes
    `lmc.flatten` and `lmc.unflatten` stay inline: where they are, the
    layout of their input is known and they become views; behind a kernel's
    boundary (any strided layout) they would copy.

    A fusion group (`lmc.fused`, from `lmc-fuse`) is one kernel: its body,
    the `lmc.yield` becoming the return, in a function named
    `<model>_fused_<kind>_<n>` and marked `lmc.fusion_group = "<kind>"` for
    the lowering that makes it one loop nest (`lmc-fuse-kernel-loops`);
    groups with the same body (up to the names of values) and types share
    it. A group whose body falls apart into independent parts (its lmc ops
    connected through no tensor: the AdamW update of every parameter, the
    squared norm of every gradient) is instead replaced, in place, by one
    call per part to a kernel per distinct part (`<model>_fused_<kind>_part_<n>`),
    with the group's scalar ops between the calls: one loop nest over all
    parameters would need them in one buffer, and one function with a loop
    nest per parameter would grow with the depth of the model.

    Input:

    ```mlir
    %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
    ...
    %7 = lmc.gelu %6 tanh : tensor<?x?x256xf32>
    ```

    Output:

    ```mlir
    %1 = call @tiny_gelu_0(%0) : (tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
    ...
    %7 = call @tiny_gelu_0(%6) : (tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
    func.func private @tiny_gelu_0(%x: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
      %y = lmc.gelu %x tanh : tensor<?x?x256xf32>
      return %y : tensor<?x?x256xf32>
    }
    ```
  }];
  let statistics = [
    Statistic<"numOutlined", "outlined-ops", "lmc ops replaced by calls">,
    Statistic<"numKernels", "kernels", "Kernel functions created">,
  ];
}

def LMCFuseKernelLoops : Pass<"lmc-fuse-kernel-loops", "::mlir::ModuleOp"> {
  let summary = "Makes each fusion-group kernel one loop nest (CPU)";
  let description = [{
    The CPU lowering of the groups that `lmc-fuse` forms. It runs after
    `convert-lmc-to-linalg`, on the kernel functions that
    `lmc-outline-kernels` made of groups (they carry `lmc.fusion_group`),
    while they are linalg on tensors:

    1. common subexpressions are removed (`cross_entropy` and its gradient
       share the row maximum and sum of exponentials);
    2. upstream elementwise fusion merges an elementwise producer with one
       use into its consumer (a producer read by several consumers stays
       one generic in the loop: recomputing it in each was slower);
    3. the remaining `linalg.generic` ops of the kernel, which share the
       leading "row" dimensions (all but the last dimension of the largest
       tensor: batch and sequence, or batch, head and query), become one
       `scf.forall` over blocks of rows (one index of each row dimension,
       `rows-per-block` of the last). Each generic whose result leaves the
       kernel is tiled to the block and written into its slice of the
       result; the generics it reads are fused into the loop where their
       blocks are read (upstream `scf::tileAndFuseProducerOfSlice`). A sum
       over the rows (a bias or LayerNorm parameter gradient, the loss, a
       squared norm), which upstream tiling cannot put in a parallel loop,
       is computed per block into a tensor of partial sums, and a generic
       after the loop adds the partials in block order: the result does not
       depend on the number of threads.
    4. the additions of the sums inside the loop (a row's sum of
       exponentials, a block's partial sum) are marked
       `fastmath<reassoc>`, which lets LLVM vectorise them (running sums
       across the vector lanes); the order is still fixed by the kernel's
       code, so the result still does not depend on the number of threads.

    With `elements-as-rows` (the GPU), the elements of a vector are rows
    too, so that a vector's sum (a bias gradient's squared norm) is one
    parallel loop of partials instead of one thread's loop.

    With `runtime-sums` (the GPU), a float32 sum to a scalar that starts
    at zero is left to the runtime's sum kernel, a `linalg.generic` marked
    `lmc.library_call = {kernel = "sum", square = true|false}` that
    `convert-lmc-to-runtime{device=gpu}` makes a call of
    `lmcrt_gpu_sum_f32` (one parallel kernel, a fixed order; elsewhere the
    generic runs as loops): a group that is only the sum of a whole tensor
    (`out += x` or `out += x * x`: a gradient's squared norm) is marked as
    it is, with no loop; a loop's scalar sum writes one partial per block,
    which the block zeroes itself (no fill kernel), unchunked, and a marked
    generic after the loop adds them:

    ```mlir
    %p = scf.forall (%i) in (%n) shared_outs(%o = %empty) -> (tensor<?xf32>) {
      %slot = tensor.extract_slice %o[%i] [1] [1]
      %z = linalg.fill ins(%c0 : f32) outs(%slot : tensor<1xf32>)
      %s = linalg.generic ... outs(%z)      // the block's partial
      ...
    }
    %sum = linalg.generic {..., lmc.library_call = {kernel = "sum",
        square = false}} ins(%p : tensor<?xf32>) outs(%zero : tensor<f32>)
    ```

    The pass removes `lmc.fusion_group` from the kernels it has handled.
    Generics that read no row dimension (scalars) stay before or after the
    loop. Generics that do not share one row space (the AdamW update of all
    parameters: one generic per parameter) keep a loop nest each, in the one
    kernel; so does a kernel that is already one generic (bias + GELU after
    elementwise fusion).

    Input (a LayerNorm group after `convert-lmc-to-linalg`, abridged):

    ```mlir
    func.func private @k(...) attributes {lmc.fusion_group = "layer_norm"} {
      %x = linalg.generic ... ins(%a, %bias, %r ...) outs(%e0 ...)   // bias add + residual
      %sum = linalg.generic ... ins(%x ...) outs(%zero ...)          // row sums
      %sq = linalg.generic ... ins(%x, %sum ...) outs(%zero ...)     // squared deviations
      %y = linalg.generic ... ins(%x, %sum, %sq, %w, %b ...) outs(%e1 ...)
      return %x, %y
    }
    ```

    Output:

    ```mlir
    %r:2 = scf.forall (%i, %j) in (%B, %nb) shared_outs(%ox = %e0, %oy = %e1) -> (...) {
      %xt = linalg.generic ... outs(<block of %ox>)
      %st = linalg.generic ins(%xt ...) ...
      %qt = linalg.generic ins(%xt, %st ...) ...
      %yt = linalg.generic ins(%xt, %st, %qt, %w, %b ...) outs(<block of %oy>)
      scf.forall.in_parallel {
        tensor.parallel_insert_slice %xt into %ox[...]
        tensor.parallel_insert_slice %yt into %oy[...]
      }
    }
    return %r#0, %r#1
    ```
  }];
  let options = [
    Option<"rowsPerBlock", "rows-per-block", "int64_t", /*default=*/"16",
           "Rows of the last row dimension in one iteration of the loop">,
    Option<"elementsAsRows", "elements-as-rows", "bool", /*default=*/"false",
           "Loop an elementwise group (every generic parallel, no sum) over "
           "all its dimensions, the innermost blocked by rows-per-block, "
           "instead of over rows: on the GPU a thread per element, so that "
           "neighbouring threads read neighbouring elements">,
    Option<"partialsChunk", "partials-chunk", "int64_t", /*default=*/"0",
           "Add a sum's per-block partials in two steps, first in chunks of "
           "this many blocks (0: in one step, in block order); on the GPU "
           "each step is parallel over the chunks">,
    Option<"runtimeSums", "runtime-sums", "bool", /*default=*/"false",
           "Leave the float32 sums to a scalar from zero to the runtime's "
           "sum kernel (lmc.library_call {kernel = \"sum\"}): a group that "
           "is one sum of a whole tensor is marked as it is, and a loop's "
           "scalar sum writes unchunked partials, each block zeroing its own "
           "slot, summed by a marked generic (the GPU: one parallel "
           "kernel instead of a thread per chunk and one thread at the end)">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCBufferize : Pass<"lmc-bufferize", "::mlir::ModuleOp"> {
  let summary = "One-Shot Bufferize of the whole module with lmc's layout "
                "policy at function boundaries";
  let description = [{
    Runs upstream One-Shot Module Bufferize (function boundaries included)
    with one difference in the buffer types of function signatures:

    - functions with `llvm.emit_c_interface` (the runtime's entry points)
      take and return memrefs with the identity layout, as the C ABI fixes;
    - every other function (the kernels of `lmc-outline-kernels`) takes and
      returns memrefs with row-major strides and a dynamic offset, so that a
      caller can pass a view into a larger buffer (a parameter inside the
      flat parameter buffer, say) without copying it, while the innermost
      stride stays a known 1 for the code generator.

    With upstream's `identity-layout-map` each such view would be copied into
    a fresh buffer at every call, which defeats the in-place AdamW update of
    the flat buffers (`lmc-export-entry-points`); with
    `fully-dynamic-layout-map` the kernels lose their known strides.

    The module's global buffers (constants) and external function
    declarations come first afterwards, ordered by name: upstream visits the
    functions in an order that depends on pointer values, so its output
    order alone is not the same from one run to the next.

    Input:

    ```mlir
    func.func private @k(%p: tensor<4x4xf32>) -> tensor<4x4xf32>
    ```

    Output:

    ```mlir
    func.func private @k(%p: memref<4x4xf32, strided<[4, 1], offset: ?>>)
        -> memref<4x4xf32, strided<[4, 1], offset: ?>>
    ```
  }];
  let options = [
    Option<"allowReturnAllocsFromLoops", "allow-return-allocs-from-loops",
           "bool", /*default=*/"true",
           "Loops may yield newly allocated buffers (training-step drivers "
           "carry tensors through loops)">,
  ];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def LMCApproximateMath : Pass<"lmc-approximate-math"> {
  let summary = "Polynomial approximations of float32 transcendental functions";
  let description = [{
    Rewrites `math.exp`, `math.expm1`, `math.log`, `math.log1p`, `math.tanh`
    and `math.erf` on `f32` (scalars and vectors) into arithmetic with
    upstream MLIR's polynomial approximations (errors of a few ulp). Calls
    into libm would otherwise stop LLVM from vectorising the loops of
    softmax, cross-entropy and GELU. `f64` stays exact (the finite-difference
    tests run in `f64`).

    Input:

    ```mlir
    %y = math.tanh %x : f32
    ```

    Output: a clamp, a rational polynomial in `%x` and selects, all `arith`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def LMCFreeBuffers : Pass<"lmc-free-buffers", "::mlir::ModuleOp"> {
  let summary = "Frees each buffer right after its last use (straight-line "
                "functions)";
  let description = [{
    Deallocation for what `lmc compile` has after bufferization: functions
    of one block (entry points calling kernels, kernels of linalg ops on
    memrefs). Every function hands over the buffers it returns: one that is
    not an allocation of the function (through views and casts) returned
    once, such as a view of an argument or a global, is first copied into a
    new buffer. A function then owns its `memref.alloc` results and the
    buffer results of its calls to functions of the module. Each owned
    buffer gets a `memref.dealloc` right after the last op that uses any
    value that may alias it (views, casts, results of other ops that take
    it), and none when an alias is returned: the caller then owns it. A
    collective started on a buffer (a start form of the collective op
    interface, such as `lmc.buffer_collective_start`), or a receive started
    into it (`lmc.buffer_recv_start`), uses it until the ops that take its
    handle (its `lmc.buffer_wait`); a send (`lmc.buffer_send`) uses its
    buffer only while it runs (the runtime copies the data).

    Upstream's ownership-based deallocation handles any control flow, but
    frees a block's buffers at the end of the block: in a training step of
    one block, every activation would live until the step ends, and the
    runtime's step arena (`lib/Runtime/Core/StepMemory.h`) could reuse nothing.
    Functions of several blocks are an error here.

    Input:

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    %b = call @k(%a) : (memref<4xf32>) -> memref<4xf32>
    %c = call @k(%b) : (memref<4xf32>) -> memref<4xf32>
    return %c : memref<4xf32>
    ```

    Output (`@k` returning a buffer it allocates):

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    %b = call @k(%a) : (memref<4xf32>) -> memref<4xf32>
    memref.dealloc %a : memref<4xf32>
    %c = call @k(%b) : (memref<4xf32>) -> memref<4xf32>
    memref.dealloc %b : memref<4xf32>
    return %c : memref<4xf32>
    ```
  }];
  let statistics = [
    Statistic<"numFrees", "frees", "Number of memref.dealloc ops inserted">,
    Statistic<"numCopies", "copies",
              "Number of returned buffers copied to be handed over">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def LMCShapeParallelLoops : Pass<"lmc-shape-parallel-loops"> {
  let summary = "Keeps the outer dimensions of parallel loops parallel, the "
                "rest sequential";
  let description = [{
    After `convert-linalg-to-parallel-loops`, each parallel dimension of a
    linalg op is a dimension of one `scf.parallel`; `convert-scf-to-openmp`
    would then hand every dimension to the threads. Threads should split the
    outer dimensions only: the innermost loop is what LLVM vectorises, and
    loops of one dimension (biases, norm parameters) are too small to pay
    for waking the pool. For each outermost `scf.parallel` without
    reductions this pass keeps its first dimensions parallel (at most
    `max-dims`, and never the innermost loop of the nest) and turns the
    others, and every nested `scf.parallel`, into `scf.for` loops.

    Input:

    ```mlir
    scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%b, %t, %c64) step (%c1, %c1, %c1) {
      ...
    }
    ```

    Output:

    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%b, %t) step (%c1, %c1) {
      scf.for %k = %c0 to %c64 step %c1 {
        ...
      }
    }
    ```
  }];
  let options = [
    Option<"maxDims", "max-dims", "unsigned", /*default=*/"2",
           "Most dimensions kept parallel">,
  ];
  let statistics = [
    Statistic<"numReshaped", "reshaped", "Number of scf.parallel ops changed">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

#endif // LMC_TRANSFORMS_CODEGEN_PASSES_TD
