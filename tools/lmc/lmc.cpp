//===- lmc.cpp - The lmc command ------------------------------------------===//
//
// `lmc compile model.mlir -o train` compiles a model into a native trainer.
// A thin driver over lib/Driver.
//
// `lmc --help` lists lmc's commands and its generic options; LLVM's and
// MLIR's own options (registered for --passes-after and the IR printing
// options) still work but are listed only by --help-hidden. `lmc --version`
// prints lmc's version line and then LLVM's.
//
// The runtime libraries an executable links are found, in order, from
// --runtime-lib, $LMC_RUNTIME_LIBRARY, the installed copy beside this
// executable (<prefix>/bin/lmc -> <prefix>/lib/liblmcrt.a, as
// `cmake --install` lays them out), and the build tree lmc was built in.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"
#include "lmc/Driver/Compile.h"
#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Support/Mesh.h"
#include "lmc/Support/ParseDepth.h"
#include "lmc/Support/ToolVersion.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

#ifndef LMC_RUNTIME_LIBRARY
#define LMC_RUNTIME_LIBRARY ""
#endif
#ifndef LMC_CUDA_RUNTIME_LIBRARY
#define LMC_CUDA_RUNTIME_LIBRARY ""
#endif

namespace cl = llvm::cl;
using namespace mlir::lmc;

static cl::SubCommand compileCommand("compile",
                                     "Compile a model into a native trainer");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required, cl::sub(compileCommand));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("file"), cl::Required,
                                       cl::sub(compileCommand));
static cl::opt<Target>
    target("target",
           cl::desc("Target: cpu (the default), or cuda (NVIDIA GPUs: one "
                    "GPU per rank; needs lmc built with the CUDA toolkit)"),
           cl::init(defaults::target), targetValues(), cl::sub(compileCommand));
static cl::opt<EmitKind> emit(
    "emit", cl::desc("What to write"), cl::init(EmitKind::Exe),
    cl::values(clEnumValN(EmitKind::Mlir, "mlir",
                          "MLIR in the LLVM dialect (--target cuda: after "
                          "the GPU pipeline)"),
               clEnumValN(EmitKind::Llvm, "llvm", "LLVM IR"),
               clEnumValN(EmitKind::Obj, "obj", "an object file"),
               clEnumValN(EmitKind::Exe, "exe",
                          "an executable trainer (the default)"),
               clEnumValN(EmitKind::Ptx, "ptx",
                          "the PTX of the GPU kernels (--target cuda)")),
    cl::sub(compileCommand));
static cl::opt<std::string>
    dumpDir("dump-dir",
            cl::desc("Write the IR after every stage to numbered files here"),
            cl::value_desc("dir"), cl::sub(compileCommand));
static cl::opt<Recompute>
    recompute("recompute",
              cl::desc("What the backward pass recomputes: none, attention or "
                       "block"),
              cl::init(defaults::recompute), recomputeValues(),
              cl::sub(compileCommand));
static cl::opt<Attention> attention(
    "attention",
    cl::desc("How attention is trained: flash (the default: runtime "
             "kernels, no T x T matrix, on both targets) or decomposed "
             "(matmul, mask, softmax ops)"),
    cl::init(defaults::attention), attentionValues(), cl::sub(compileCommand));
static cl::opt<std::string>
    weightDecayOn("weight-decay-on",
                  cl::desc("Parameters with weight decay: matrices, all or "
                           "none"),
                  cl::init("matrices"), cl::sub(compileCommand));
static cl::opt<std::string>
    mesh("mesh",
         cl::desc("Partition for a mesh of ranks: comma-separated axis=size, "
                  "major to minor, e.g. dp=2, tp=2 or dp=2,tp=2 (run the "
                  "trainer with mpirun -np dp*tp)"),
         cl::init(defaults::mesh), cl::sub(compileCommand));
static cl::opt<unsigned>
    zero("zero",
         cl::desc("ZeRO stage over dp: 0; 1 or 2 (optimizer state and "
                  "gradients sharded, one program); 3 (parameters sharded "
                  "too, gathered layer by layer with prefetch)"),
         cl::init(0), cl::sub(compileCommand));
static cl::opt<bool> sequenceParallel(
    "sequence-parallel",
    cl::desc("Sequence parallelism with tp (Megatron-LM's): norms, residual "
             "adds and the embedding output split along the sequence over "
             "tp; needs tp > 1 and a sequence length tp divides"),
    cl::sub(compileCommand));
static cl::opt<double> bucketMiB(
    "bucket-mb",
    cl::desc("Smallest bucket in MiB (default 25) of the gradient "
             "all-reduces and of ZeRO's reduce-scatters and all-gathers "
             "(lmc-bucket-collectives); 0: one collective per tensor"),
    cl::init(25.0), cl::sub(compileCommand));
static cl::opt<bool> overlap(
    "overlap",
    cl::desc("Start gradient all-reduces asynchronously so that they overlap "
             "the backward pass (default; --overlap=false blocks instead)"),
    cl::init(true), cl::sub(compileCommand));
static cl::opt<DpSync> dpSync(
    "dp-sync",
    cl::desc("How dp replicas synchronise: allreduce (the default: gradients "
             "averaged over dp every step) or local (no dp collective in the "
             "training step; the trainer averages the parameters every "
             "--sync-every steps: local SGD, DiLoCo; needs dp > 1, no "
             "--zero)"),
    cl::init(defaults::dpSync), dpSyncValues(), cl::sub(compileCommand));
static cl::opt<int64_t> reportSyncEvery(
    "report-sync-every",
    cl::desc("Local steps per averaging round at which --report gives "
             "--dp-sync local's bytes moved per step (default 1)"),
    cl::init(1), cl::sub(compileCommand));
static cl::opt<bool>
    report("report",
           cl::desc("Print the collectives per training step and the memory "
                    "per rank for the mesh, and the kernels per step before "
                    "and after fusion"),
           cl::sub(compileCommand));
static cl::opt<bool>
    fuse("fuse",
         cl::desc("Fuse elementwise ops and the reductions they feed into one "
                  "loop nest per group (default; --fuse=false: one loop nest "
                  "per op)"),
         cl::init(true), cl::sub(compileCommand));
static cl::opt<bool> gradAccum(
    "grad-accum",
    cl::desc("Also compile the entry points of gradient accumulation, which "
             "the trainer's --grad-accum K > 1 needs (grad_step and "
             "apply_step; opt-in: they add to the compile time)"),
    cl::init(false), cl::sub(compileCommand));
static cl::opt<int64_t> microbatches(
    "microbatches",
    cl::desc("Pipeline parallelism (a pp axis in --mesh): micro-batches per "
             "step, each of --batch / M rows (default 1)"),
    cl::init(1), cl::sub(compileCommand));
static cl::opt<std::string> pipelineSchedule(
    "pipeline-schedule",
    cl::desc("Pipeline schedule: 1f1b (default: one forward, one backward; "
             "at most P micro-batches in flight) or gpipe (all forwards, "
             "then all backwards)"),
    cl::init("1f1b"), cl::sub(compileCommand));
static cl::opt<bool> gemmEpilogues(
    "gemm-epilogues",
    cl::desc("Fold a linear layer's bias add and tanh GELU into its GEMM "
             "call (default; only with --fuse)"),
    cl::init(true), cl::sub(compileCommand));
static cl::opt<bool> chunkLossHead(
    "chunk-loss-head",
    cl::desc("--target cpu: compute the LM head and its loss in chunks of "
             "rows, never storing the [B*T, V] logits whole (default; "
             "--chunk-loss-head=false keeps the unchunked ops; CUDA always "
             "does)"),
    cl::init(true), cl::sub(compileCommand));
static cl::opt<int64_t> chunkLossRows(
    "chunk-loss-rows",
    cl::desc("Rows per chunk of the LM head's loss (default 128: 128 x V "
             "logits held at a time)"),
    cl::init(128), cl::sub(compileCommand));
static cl::opt<bool> asyncLaunches(
    "async-launches",
    cl::desc("--target cuda: queue the kernels without waiting for each "
             "(default); --async-launches=false waits after every launch, "
             "to rule the asynchronous host code out when debugging"),
    cl::init(true), cl::sub(compileCommand));
static cl::opt<bool> streamFunctions(
    "gpu-stream-functions",
    cl::desc("--target cuda: the entry points call the host functions that "
             "only queue GPU work (default); =false inlines them all, as "
             "before (compile time grows faster than the depth; to rule "
             "them out when debugging)"),
    cl::init(true), cl::sub(compileCommand));
static cl::opt<bool> gpuRowKernels(
    "gpu-row-kernels",
    cl::desc("--target cuda: LayerNorm, RMSNorm, the softmax "
             "(--attention decomposed), the cross-entropy and their "
             "gradients as calls of the GPU runtime's row kernels, a "
             "warp or a block per row (default); =false generates them as "
             "kernels of their fusion groups, a thread per row"),
    cl::init(true), cl::sub(compileCommand));
static cl::opt<std::string>
    runtimeLibrary("runtime-lib",
                   cl::desc("The lmc runtime library to link (default: "
                            "$LMC_RUNTIME_LIBRARY, else <prefix>/lib/"
                            "liblmcrt.a beside an installed lmc, else the "
                            "one built with lmc)"),
                   cl::value_desc("path"), cl::sub(compileCommand));
static cl::opt<std::string> cudaRuntimeLibrary(
    "cuda-runtime-lib",
    cl::desc("--target cuda: the lmc GPU runtime library to link (default: "
             "$LMC_CUDA_RUNTIME_LIBRARY, else <prefix>/lib/liblmcrt_cuda.a "
             "beside an installed lmc, else the one built with lmc)"),
    cl::value_desc("path"), cl::sub(compileCommand));
static cl::opt<Precision> precision(
    "precision",
    cl::desc("Compute precision of the GEMMs: fp32 (default), tf32 or bf16 "
             "(operands rounded to 10 or 7 mantissa bits, tensor cores on "
             "the GPU, bf16 on the CPU's AVX512-BF16/AMX units where it has "
             "them; with --target cuda, bf16 also runs flash attention on "
             "tensor cores for head sizes 64 and 128); activations, "
             "gradients, master weights and AdamW "
             "state stay float32 and products are accumulated in float32 "
             "(see --bf16-storage)"),
    cl::init(defaults::precision), precisionValues(), cl::sub(compileCommand));
static cl::opt<bool> bf16Storage(
    "bf16-storage",
    cl::desc("With --precision bf16 (and --fuse): every GEMM reads bfloat16 "
             "operands from memory; each parameter is converted to a "
             "bfloat16 copy once per step, and activations read only by "
             "GEMMs and fusion groups are stored as bfloat16 (opt-in: "
             "without it the float32 operands are rounded at every GEMM "
             "call; on a CPU without AVX512-BF16 the conversions make the "
             "step slower, docs/Runtime.md; with --target cuda the GEMMs "
             "read bfloat16 through cuBLASLt and the norms and the "
             "cross-entropy gradient write it, unmeasured so far, "
             "docs/Gpu.md)"),
    cl::init(false), cl::sub(compileCommand));
static cl::opt<unsigned> optLevel("O",
                                  cl::desc("LLVM optimisation level (0-3, "
                                           "default 3)"),
                                  cl::Prefix, cl::init(3),
                                  cl::sub(compileCommand));
static cl::opt<bool> exactMath(
    "exact-math",
    cl::desc("Call libm for float32 exp, log, tanh and erf instead of the "
             "vectorisable polynomial approximations (a few ulp)"),
    cl::sub(compileCommand));
static cl::opt<bool> timing("time", cl::desc("Print the time of each stage"),
                            cl::sub(compileCommand));
static cl::opt<unsigned>
    jobs("j",
         cl::desc("Threads that optimise and compile the LLVM IR's "
                  "partitions (default 0: one per core); the executable "
                  "does not depend on it"),
         cl::value_desc("N"), cl::Prefix, cl::init(0),
         cl::sub(compileCommand));
static cl::alias jobsLong("jobs", cl::desc("Alias for -j"),
                          cl::aliasopt(jobs));
static cl::opt<std::string>
    cudaArch("cuda-arch",
             cl::desc("--target cuda: the GPU architecture, sm_90 (the "
                      "default) or sm_80"),
             cl::init("sm_90"), cl::sub(compileCommand));
static cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("--target cuda: the CUDA toolkit whose libdevice is linked "
             "(default: the one found at build time, or /usr/local/cuda)"),
    cl::value_desc("dir"), cl::sub(compileCommand));

static cl::list<std::string> passesAfter(
    "passes-after",
    cl::desc("Add passes to a stage: STAGE=PIPELINE runs the textual pass "
             "pipeline PIPELINE (as in lmc-opt --pass-pipeline="
             "'builtin.module(PIPELINE)') at the end of STAGE (training, gpu "
             "or llvm-dialect), or before the first stage for STAGE input; "
             "may be repeated"),
    cl::value_desc("stage=pipeline"), cl::sub(compileCommand));

/// Lists LLVM's and MLIR's options (everything at the top level but the
/// generic --help/--version family) under --help-hidden only.
static void hideForeignOptions() {
  for (auto &entry : cl::getRegisteredOptions(cl::SubCommand::getTopLevel())) {
    cl::Option *option = entry.second;
    bool generic = llvm::any_of(option->Categories, [](cl::OptionCategory *c) {
      return c->getName() == "Generic Options";
    });
    if (!generic && option->getOptionHiddenFlag() == cl::NotHidden)
      option->setHiddenFlag(cl::Hidden);
  }
}

/// `name` installed beside this executable (<prefix>/bin/lmc ->
/// <prefix>/lib/name), or "" when there is none.
static std::string installedLibrary(const char *argv0, llvm::StringRef name) {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable(argv0, &anchor);
  if (exe.empty())
    return "";
  llvm::SmallString<256> path(
      llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
  llvm::sys::path::append(path, "lib", name);
  return llvm::sys::fs::exists(path) ? std::string(path) : "";
}

/// The runtime library to link: the flag, else the environment variable,
/// else the installed copy, else the build tree's.
static std::string findRuntimeLibrary(const std::string &flag,
                                      const char *envVar, const char *argv0,
                                      llvm::StringRef fileName,
                                      const char *buildTreePath) {
  if (!flag.empty())
    return flag;
  if (std::optional<std::string> env = llvm::sys::Process::GetEnv(envVar))
    return *env;
  std::string installed = installedLibrary(argv0, fileName);
  return installed.empty() ? buildTreePath : installed;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  printVersionLineIfAsked(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  // Every pass and pipeline by name, for --passes-after.
  mlir::registerAllPasses();
  registerLMCTransformsPasses();
  registerLMCConversionPasses();
  registerLMCPipelines();
  hideForeignOptions();
  cl::ParseCommandLineOptions(
      argc, argv,
      "lmc: compile Transformer training graphs\n\n"
      "  lmc compile model.mlir -o train   writes a trainer; ./train --help\n"
      "  lmc compile --help                the compiler's options\n"
      "  lmc --help-hidden                 also LLVM's and MLIR's options\n");
  if (!compileCommand) {
    llvm::errs() << "lmc: expected a command; try 'lmc compile --help'\n";
    return 2;
  }
  CompileOptions options;
  options.input = inputFile;
  options.output = outputFile;
  options.emit = emit;
  options.dumpDir = dumpDir;
  options.timing = timing;
  options.jobs = jobs;
  CompilePipelineOptions &pipeline = options.pipeline;
  pipeline.target = target;
  pipeline.recompute = recompute;
  pipeline.attention = attention;
  pipeline.weightDecayOn = weightDecayOn;
  pipeline.precision = precision;
  pipeline.bf16Storage = bf16Storage;
  pipeline.cudaArch = cudaArch;
  pipeline.cudaToolkit = cudaToolkit;
  pipeline.mesh = mesh;
  if (zero > 3) {
    llvm::errs() << "lmc compile: --zero " << zero
                 << ": the ZeRO stages are 0, 1, 2 and 3\n";
    return 2;
  }
  pipeline.zero = zero;
  pipeline.sequenceParallel = sequenceParallel;
  if (bucketMiB < 0) {
    llvm::errs() << "lmc compile: --bucket-mb must not be negative\n";
    return 2;
  }
  pipeline.bucketBytes = static_cast<int64_t>(bucketMiB * 1024 * 1024);
  pipeline.overlap = overlap;
  if (reportSyncEvery < 1) {
    llvm::errs() << "lmc compile: --report-sync-every must be at least 1\n";
    return 2;
  }
  pipeline.dpSync = dpSync;
  pipeline.reportSyncEvery = reportSyncEvery;
  pipeline.report = report;
  pipeline.fuse = fuse;
  pipeline.gemmEpilogues = gemmEpilogues;
  pipeline.gradAccum = gradAccum;
  if (chunkLossRows < 1) {
    llvm::errs() << "lmc compile: --chunk-loss-rows must be at least 1\n";
    return 2;
  }
  // Unset, the pipeline library chooses (off with bf16).
  pipeline.chunkLossHead = chunkLossHead;
  pipeline.chunkLossRows = chunkLossRows;
  {
    ::lmc::MeshSpec requested;
    std::string error;
    bool pipelined =
        ::lmc::MeshSpec::parse(mesh, requested, error) &&
        llvm::any_of(requested.axes,
                     [](const ::lmc::MeshAxis &a) { return a.name == "pp"; });
    if (microbatches < 1) {
      llvm::errs() << "lmc compile: --microbatches must be at least 1\n";
      return 2;
    }
    if (pipelineSchedule != "1f1b" && pipelineSchedule != "gpipe") {
      llvm::errs() << "lmc compile: --pipeline-schedule " << pipelineSchedule
                   << ": expected 1f1b or gpipe\n";
      return 2;
    }
    if (!pipelined && (microbatches.getNumOccurrences() ||
                       pipelineSchedule.getNumOccurrences())) {
      llvm::errs() << "lmc compile: --microbatches and --pipeline-schedule "
                      "need a pp axis in --mesh (e.g. --mesh pp=2)\n";
      return 2;
    }
  }
  pipeline.microbatches = microbatches;
  pipeline.pipelineSchedule = pipelineSchedule;
  pipeline.asyncLaunches = asyncLaunches;
  pipeline.streamFunctions = streamFunctions;
  pipeline.gpuRowKernels = gpuRowKernels;
  pipeline.approximateMath = !exactMath;
  if (optLevel > 3) {
    llvm::errs() << "lmc compile: -O" << optLevel << ": expected -O0 to -O3\n";
    return 2;
  }
  pipeline.optLevel = optLevel;
  for (const std::string &item : passesAfter) {
    auto [stage, passes] = llvm::StringRef(item).split('=');
    if (passes.empty()) {
      llvm::errs() << "lmc compile: --passes-after " << item
                   << ": expected STAGE=PIPELINE\n";
      return 2;
    }
    options.extraPasses.push_back({stage.trim().str(), passes.str()});
  }
  options.runtimeLibrary =
      findRuntimeLibrary(runtimeLibrary, "LMC_RUNTIME_LIBRARY", argv[0],
                         "liblmcrt.a", LMC_RUNTIME_LIBRARY);
  options.cudaRuntimeLibrary =
      findRuntimeLibrary(cudaRuntimeLibrary, "LMC_CUDA_RUNTIME_LIBRARY",
                         argv[0], "liblmcrt_cuda.a", LMC_CUDA_RUNTIME_LIBRARY);
  // On a thread with a large stack: MLIR's parser, verifier and printer
  // recurse into nested regions (ParseDepth.h).
  mlir::LogicalResult result = mlir::failure();
  runWithLargeStack([&] { result = compile(options); });
  return mlir::failed(result) ? 1 : 0;
}
