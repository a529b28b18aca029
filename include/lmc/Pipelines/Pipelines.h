//===- Pipelines.h - Named lmc pass pipelines -------------------*- C++ -*-===//
//
// Pipelines are a library: lmc-opt registers them by name, and `lmc compile`
// runs the stages getCompileStages chooses from typed options (Options.h:
// the enumerated options and their one set of defaults).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_PIPELINES_PIPELINES_H
#define LMC_PIPELINES_PIPELINES_H

#include "lmc/Support/Options.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <functional>
#include <string>

/// Where the CUDA toolkit is by default: what CMake found, else the usual
/// place.
#ifndef LMC_CUDA_TOOLKIT_DEFAULT
#define LMC_CUDA_TOOLKIT_DEFAULT "/usr/local/cuda"
#endif

namespace mlir::lmc {

/// Options of the reference pipeline (lmc -> LLVM dialect on CPU).
struct ReferencePipelineOptions
    : public PassPipelineOptions<ReferencePipelineOptions> {
  PassOptions::Option<std::string> params{
      *this, "params",
      llvm::cl::desc("safetensors file with the parameter values; when set, "
                     "lmc-bind-params runs first"),
      llvm::cl::init("")};
  PassOptions::Option<bool> libraryCalls{
      *this, "library-calls",
      llvm::cl::desc("Call the lmc runtime's library kernels (GEMM, "
                     "embedding gradient) instead of lowering them to loops; "
                     "the program must then be linked with the runtime"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> threads{
      *this, "threads",
      llvm::cl::desc("Run the outer parallel dimensions of the generated "
                     "loops on OpenMP threads (lmc-shape-parallel-loops, "
                     "convert-scf-to-openmp); the program then needs the "
                     "runtime's OpenMP entry points"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("Replace float32 exp, expm1, log, log1p, tanh and erf "
                     "with polynomial approximations (lmc-approximate-math), "
                     "so that loops over them vectorise"),
      llvm::cl::init(false)};
  PassOptions::Option<Precision> precision{
      *this, "precision",
      llvm::cl::desc("Compute precision of the GEMMs (convert-lmc-to-runtime): "
                     "fp32, tf32 or bf16; storage, accumulation, master "
                     "weights and optimizer state stay float32"),
      llvm::cl::init(defaults::precision), precisionValues()};
  PassOptions::Option<int64_t> rowsPerBlock{
      *this, "rows-per-block",
      llvm::cl::desc("Rows per iteration of a fusion group's loop "
                     "(lmc-fuse-kernel-loops)"),
      llvm::cl::init(16)};
  PassOptions::Option<bool> elementsAsRows{
      *this, "elements-as-rows",
      llvm::cl::desc("Loop an elementwise fusion group over its elements "
                     "(lmc-fuse-kernel-loops), as the GPU pipeline does"),
      llvm::cl::init(false)};
  PassOptions::Option<int64_t> partialsChunk{
      *this, "partials-chunk",
      llvm::cl::desc("Add a fusion group's per-block partial sums in chunks "
                     "of this many blocks first (lmc-fuse-kernel-loops), as "
                     "the GPU pipeline does; 0: in block order"),
      llvm::cl::init(0)};
  PassOptions::Option<bool> runtimeSums{
      *this, "runtime-sums",
      llvm::cl::desc("Mark the float32 sums to a scalar for the runtime's "
                     "sum kernel, with the GPU pipeline's partials "
                     "(lmc-fuse-kernel-loops{runtime-sums}); here they run "
                     "as the marked generics' loops"),
      llvm::cl::init(false)};
};

/// Builds the reference lowering of the lmc dialect to the LLVM dialect:
/// convert-lmc-to-linalg (fusion groups are inlined, unless outlined into
/// kernels first, which lmc-fuse-kernel-loops makes one loop nest each),
/// bufferization, loops, and the upstream conversions to LLVM. The result
/// runs under mlir-runner. This is the semantic reference, not the fast
/// path.
void buildReferencePipeline(OpPassManager &pm,
                            const ReferencePipelineOptions &options);

/// Options of the training pipeline (forward model -> training step).
struct TrainingPipelineOptions
    : public PassPipelineOptions<TrainingPipelineOptions> {
  PassOptions::Option<Recompute> recompute{
      *this, "recompute",
      llvm::cl::desc("What the backward pass recomputes: none, attention or "
                     "block"),
      llvm::cl::init(defaults::recompute), recomputeValues()};
  PassOptions::Option<Attention> attention{
      *this, "attention",
      llvm::cl::desc("How attention is differentiated (lmc-autodiff): flash "
                     "(runtime kernels, the default) or decomposed"),
      llvm::cl::init(defaults::attention), attentionValues()};
  PassOptions::Option<std::string> weightDecayOn{
      *this, "weight-decay-on",
      llvm::cl::desc("Parameters with weight decay: matrices, all or none"),
      llvm::cl::init("matrices")};
  PassOptions::Option<std::string> mesh{
      *this, "mesh",
      llvm::cl::desc("The mesh of ranks to partition for (lmc-shard): "
                     "comma-separated axis=size in order, e.g. dp=2,tp=2"),
      llvm::cl::init(defaults::mesh)};
  PassOptions::Option<unsigned> zero{*this, "zero",
                                     llvm::cl::desc("ZeRO stage (lmc-shard)"),
                                     llvm::cl::init(0)};
  PassOptions::Option<bool> sequenceParallel{
      *this, "sequence-parallel",
      llvm::cl::desc("Sequence parallelism with tp (lmc-shard): activations "
                     "outside the tensor-parallel regions split along the "
                     "sequence"),
      llvm::cl::init(false)};
  PassOptions::Option<int64_t> bucketBytes{
      *this, "bucket-bytes",
      llvm::cl::desc("Smallest gradient all-reduce bucket (lmc-shard)"),
      llvm::cl::init(25 * 1024 * 1024)};
  PassOptions::Option<bool> overlap{
      *this, "overlap",
      llvm::cl::desc("Asynchronous gradient all-reduces overlapping the "
                     "backward pass (lmc-shard)"),
      llvm::cl::init(true)};
  PassOptions::Option<DpSync> dpSync{
      *this, "dp-sync",
      llvm::cl::desc("How dp replicas synchronise (lmc-shard): allreduce "
                     "(gradients every step) or local (none in the step; "
                     "the trainer averages parameters)"),
      llvm::cl::init(defaults::dpSync), dpSyncValues()};
  PassOptions::Option<int64_t> reportSyncEvery{
      *this, "report-sync-every",
      llvm::cl::desc("Steps per averaging round for the report's dp-sync "
                     "local bytes per step (lmc-shard)"),
      llvm::cl::init(1)};
  PassOptions::Option<bool> report{
      *this, "report",
      llvm::cl::desc("Print the collectives and memory per rank (lmc-shard) "
                     "and the kernels per step before and after fusion "
                     "(lmc-fuse)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> fuse{
      *this, "fuse",
      llvm::cl::desc("Form fusion groups (lmc-fuse): each becomes one "
                     "kernel, one loop nest on the CPU"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> gemmEpilogues{
      *this, "gemm-epilogues",
      llvm::cl::desc("Fold a linear layer's bias add and tanh GELU into its "
                     "GEMM (lmc-gemm-epilogues, after lmc-fuse; only with "
                     "fuse)"),
      llvm::cl::init(true)};
  PassOptions::Option<Target> target{
      *this, "target",
      llvm::cl::desc("The target, cpu or cuda, named in the model description "
                     "(lmc-export-entry-points)"),
      llvm::cl::init(defaults::target), targetValues()};
  PassOptions::Option<bool> gradAccum{
      *this, "grad-accum",
      llvm::cl::desc("Also build grad_step and apply_step for gradient "
                     "accumulation (lmc-grad-accumulation, after lmc-shard)"),
      llvm::cl::init(false)};
  PassOptions::Option<int64_t> microbatches{
      *this, "microbatches",
      llvm::cl::desc("Micro-batches per step of a mesh with a pp axis "
                     "(lmc-pipeline)"),
      llvm::cl::init(1)};
  PassOptions::Option<std::string> pipelineSchedule{
      *this, "pipeline-schedule",
      llvm::cl::desc("Pipeline schedule: 1f1b or gpipe (lmc-pipeline)"),
      llvm::cl::init("1f1b")};
  PassOptions::Option<bool> chunkLossHead{
      *this, "chunk-loss-head",
      llvm::cl::desc("Compute the LM head and its loss in row chunks, never "
                     "storing the whole logits (lmc-chunk-loss-head, before "
                     "fusion; target cpu only)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> chunkLossRows{
      *this, "chunk-loss-rows",
      llvm::cl::desc("Rows per chunk of the LM head's loss "
                     "(lmc-chunk-loss-head)"),
      llvm::cl::init(128)};
  PassOptions::Option<bool> gpuRowKernels{
      *this, "gpu-row-kernels",
      llvm::cl::desc("With target=cuda: keep the float32 norms, softmaxes "
                     "and cross-entropies out of fusion groups, for the GPU "
                     "runtime's row kernels (lmc-fuse{runtime-row-"
                     "reductions})"),
      llvm::cl::init(true)};
  PassOptions::Option<Precision> precision{
      *this, "precision",
      llvm::cl::desc("Compute precision of the GEMMs; with bf16 (and "
                     "bf16-storage) lmc-bf16-storage stores their operands "
                     "as bfloat16"),
      llvm::cl::init(defaults::precision), precisionValues()};
  PassOptions::Option<bool> bf16Storage{
      *this, "bf16-storage",
      llvm::cl::desc("With precision=bf16 (and fuse): every GEMM reads "
                     "bfloat16 operands, each parameter converted once per "
                     "step, activations read only by GEMMs and groups "
                     "stored as bfloat16 (lmc-bf16-storage; opt-in)"),
      llvm::cl::init(false)};
};

/// Builds the training graph from a forward model: lmc-autodiff,
/// lmc-optimizer, lmc-shard (the SPMD program for the mesh),
/// lmc-grad-accumulation (with `grad-accum`, or a `pp` axis in the mesh),
/// lmc-pipeline (with a `pp` axis: no buckets then), lmc-chunk-loss-head
/// (target cpu, unless `chunk-loss-head` is off), lmc-fuse (fusion
/// groups, unless `fuse` is off) and lmc-gemm-epilogues (unless `fuse` or
/// `gemm-epilogues` is off), lmc-bf16-storage (precision bf16 with `fuse`
/// and `bf16-storage`), lmc-export-entry-points (the runtime's C
/// ABI) and symbol-dce. The result is still in the lmc dialect.
void buildTrainingPipeline(OpPassManager &pm,
                           const TrainingPipelineOptions &options);

/// Options of the GPU pipeline (training step -> GPU kernels in PTX).
struct GpuPipelineOptions : public PassPipelineOptions<GpuPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("The GPU architecture: sm_90 (H100, H200) or sm_80 "
                     "(A100)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("NVPTX features (the PTX ISA version)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What gpu-module-to-binary makes: isa (PTX text), bin "
                     "(cubin, through the toolkit's ptxas) or fatbin"),
      llvm::cl::init("isa")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("The CUDA toolkit whose libdevice (and ptxas, for bin "
                     "and fatbin) is used"),
      llvm::cl::init(LMC_CUDA_TOOLKIT_DEFAULT)};
  PassOptions::Option<int64_t> blockSize{
      *this, "block-size", llvm::cl::desc("Threads per block of a kernel"),
      llvm::cl::init(256)};
  PassOptions::Option<unsigned> optLevel{
      *this, "opt-level",
      llvm::cl::desc("Optimisation level of the NVPTX code generator"),
      llvm::cl::init(3)};
  PassOptions::Option<std::string> libraryCalls{
      *this, "library-calls",
      llvm::cl::desc("Comma-separated library kernels left to the runtime "
                     "(convert-lmc-to-runtime): gemm, embedding_grad, sum "
                     "(the float32 sums to a scalar: a gradient's squared "
                     "norm, the last step of a fusion group's sum; "
                     "lmc-fuse-kernel-loops{runtime-sums}); the others "
                     "become GPU kernels"),
      llvm::cl::init("gemm,embedding_grad,sum")};
  PassOptions::Option<bool> outline{
      *this, "outline",
      llvm::cl::desc("Outline lmc ops into shared functions first "
                     "(lmc-outline-kernels), so that the layers share their "
                     "kernels"),
      llvm::cl::init(true)};
  PassOptions::Option<Precision> precision{
      *this, "precision",
      llvm::cl::desc("Compute precision of the GEMMs (convert-lmc-to-runtime): "
                     "fp32, tf32 or bf16; storage, accumulation, master "
                     "weights and optimizer state stay float32"),
      llvm::cl::init(defaults::precision), precisionValues()};
  PassOptions::Option<bool> runtimeCalls{
      *this, "runtime-calls",
      llvm::cl::desc("Call the GPU runtime's library functions "
                     "(convert-lmc-to-runtime{device=gpu}: cuBLASLt GEMMs, "
                     "NCCL collectives, ...) instead of the CPU runtime's"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> asyncLaunches{
      *this, "async-launches",
      llvm::cl::desc("Inline the host functions and launch kernels without "
                     "waiting for them; the host waits only before it "
                     "touches memory (lmc-gpu-async-launches)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> streamFunctions{
      *this, "stream-functions",
      llvm::cl::desc("With async-launches: keep the host functions that only "
                     "queue GPU work out of line, called as stream-ordered "
                     "functions (lmc-gpu-stream-functions); false inlines "
                     "every host function into the entry points"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> rowReductions{
      *this, "row-reductions",
      llvm::cl::desc("Call the GPU runtime's row kernels for the float32 "
                     "norms, softmaxes and cross-entropies outside fusion "
                     "groups "
                     "(convert-lmc-to-linalg{runtime-row-reductions}; the "
                     "training pipeline's target=cuda keeps them out of the "
                     "groups); false generates them as kernels"),
      llvm::cl::init(true)};
};

/// Builds the GPU lowering of a training step (after the training
/// pipeline): convert-lmc-to-linalg, bufferization as in the reference
/// pipeline, GEMMs to runtime calls, every other loop nest a GPU kernel
/// (lmc-linalg-to-gpu), outlined into one gpu.module, lowered through NVVM
/// and serialised by gpu-module-to-binary with libdevice linked. The host
/// code stays in the func, memref and gpu dialects (gpu.launch_func).
void buildGpuPipeline(OpPassManager &pm, const GpuPipelineOptions &options);

/// Builds the lowering of a GPU program's host code (after the GPU pipeline)
/// to the LLVM dialect: gpu-to-llvm (kernel launches through the runtime's
/// `mgpu*` functions, the gpu.binary embedded), the standard conversions,
/// and buffers from the runtime's allocation functions.
void buildGpuHostPipeline(OpPassManager &pm);

/// What `lmc compile` runs, stage by stage: the options of every stage,
/// typed, with the one set of defaults (Options.h).
struct CompilePipelineOptions {
  Target target = defaults::target;
  /// Training (lmc-autodiff, lmc-optimizer, lmc-shard, lmc-fuse,
  /// lmc-gemm-epilogues, lmc-export-entry-points).
  Recompute recompute = defaults::recompute;
  Attention attention = defaults::attention;
  std::string weightDecayOn = "matrices";
  std::string mesh = defaults::mesh;
  unsigned zero = 0;
  bool sequenceParallel = false;
  int64_t bucketBytes = 25 * 1024 * 1024;
  bool overlap = true;
  /// dp-sync (lmc-shard) and the round length its report assumes.
  DpSync dpSync = defaults::dpSync;
  int64_t reportSyncEvery = 1;
  bool report = false;
  bool fuse = true;
  bool gemmEpilogues = true;
  /// Gradient accumulation entry points (lmc-grad-accumulation).
  bool gradAccum = false;
  /// Pipeline parallelism over a `pp` mesh axis (lmc-pipeline).
  int64_t microbatches = 1;
  std::string pipelineSchedule = "1f1b";
  /// The LM head and its loss in row chunks (lmc-chunk-loss-head; CPU).
  bool chunkLossHead = true;
  int64_t chunkLossRows = 128;
  /// Lowering.
  Precision precision = defaults::precision;
  /// With bf16 precision: GEMM operands stored as bfloat16
  /// (lmc-bf16-storage; opt-in until it pays off, docs/Runtime.md).
  bool bf16Storage = false;
  /// The CPU: polynomial float32 exp/log/tanh/erf (lmc-approximate-math),
  /// outer loop dimensions on OpenMP threads.
  bool approximateMath = true;
  bool threads = true;
  /// --target cuda: the GPU architecture, the CUDA toolkit whose libdevice
  /// is linked (empty: the default), the NVPTX optimisation level, what
  /// gpu-module-to-binary makes (isa, bin or fatbin), asynchronous
  /// launches and out-of-line stream-ordered host functions.
  std::string cudaArch = "sm_90";
  std::string cudaToolkit;
  unsigned optLevel = 3;
  std::string gpuFormat = "fatbin";
  bool asyncLaunches = true;
  bool streamFunctions = true;
  /// --target cuda: the norms and cross-entropies as calls of the GPU
  /// runtime's row kernels, outside fusion groups (false: generated
  /// kernels, in their groups).
  bool gpuRowKernels = true;
};

/// One stage of `lmc compile`: its name (the name of its IR dump, and of
/// the point where extra passes may be added) and the passes it runs.
struct CompileStage {
  std::string name;
  std::function<void(OpPassManager &)> build;
};

/// Passes a researcher adds to `lmc compile` without editing it: a textual
/// pass pipeline (`canonicalize,lmc-model-summary`, the syntax of
/// `lmc-opt --pass-pipeline` inside `builtin.module(...)`) run at the end
/// of the stage `stage`, or, for the stage `input`, before the first one.
struct ExtraPasses {
  std::string stage;
  std::string pipeline;
};

/// The names of the points where extra passes may be added: `input` and the
/// stages of `lmc compile`.
llvm::ArrayRef<llvm::StringRef> getCompileStageNames();

/// The stages `lmc compile` runs for `options`, in order, up to the LLVM
/// dialect: `training` (buildTrainingPipeline), then for the CPU
/// `llvm-dialect` (lmc-outline-kernels and buildReferencePipeline with the
/// runtime's library calls), for CUDA `gpu` (buildGpuPipeline) and, unless
/// `gpuOnly`, `llvm-dialect` (buildGpuHostPipeline). `extra` passes are
/// parsed into their stages; a stage name or pipeline that does not parse
/// is an error written to `errors`.
llvm::FailureOr<llvm::SmallVector<CompileStage>>
getCompileStages(const CompilePipelineOptions &options,
                 llvm::ArrayRef<ExtraPasses> extra, llvm::raw_ostream &errors,
                 bool gpuOnly = false);

/// Registers the named pipelines (`lmc-reference-pipeline`,
/// `lmc-training-pipeline`, `lmc-gpu-pipeline`, `lmc-gpu-host-pipeline`).
void registerLMCPipelines();

} // namespace mlir::lmc

#endif // LMC_PIPELINES_PIPELINES_H
