//===- Compile.cpp - What `lmc compile` does ------------------------------===//
//
// Parse and verify; run the stages that lib/Pipelines chooses for the
// options (getCompileStages: training, then the lowering to the LLVM
// dialect, with --target cuda the GPU pipeline first), with the passes a
// researcher added (--passes-after), dumping the IR after each; translation
// to LLVM IR; optimisation and code generation for the host CPU in process;
// linking with the lmc runtime. With --target cuda --emit ptx|mlir: the
// kernels' PTX (or the module) after the GPU stage. The driver adds no pass
// itself.
//
//===----------------------------------------------------------------------===//

#include "lmc/Driver/Compile.h"
#include "HostBackend.h"
#include "lmc/Dialect/LMC/Transforms/BufferizableOpInterfaceImpl.h"

#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Support/ParseDepth.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// Runs one stage of passes, then writes the IR to the dump directory.
class Stages {
public:
  Stages(ModuleOp module, const CompileOptions &options)
      : module(module), options(options) {}

  LogicalResult run(StringRef name, function_ref<void(OpPassManager &)> build) {
    auto start = std::chrono::steady_clock::now();
    PassManager pm(module->getContext());
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    build(pm);
    if (failed(pm.run(module)))
      return failure();
    report(name, start);
    return dump(name);
  }

  /// Writes the module as the next numbered file of the dump directory.
  LogicalResult dump(StringRef name) {
    ++index;
    if (options.dumpDir.empty())
      return success();
    if (std::error_code ec = llvm::sys::fs::create_directories(options.dumpDir))
      return emitError(module.getLoc(), "cannot create '")
             << options.dumpDir << "': " << ec.message();
    SmallString<128> path(options.dumpDir);
    llvm::sys::path::append(path,
                            llvm::formatv("{0:2}-{1}.mlir", index, name).str());
    std::string error;
    auto file = openOutputFile(path, &error);
    if (!file)
      return emitError(module.getLoc(), error);
    module->print(file->os());
    file->keep();
    return success();
  }

  void report(StringRef name, std::chrono::steady_clock::time_point start) {
    if (!options.timing)
      return;
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    llvm::errs() << llvm::formatv("lmc compile: {0,-16} {1,8:f1} ms\n", name,
                                  ms);
  }

private:
  ModuleOp module;
  const CompileOptions &options;
  int index = 0;
};

LogicalResult writeText(StringRef path, function_ref<void(raw_ostream &)> fn) {
  std::string error;
  auto file = openOutputFile(path, &error);
  if (!file) {
    llvm::errs() << "lmc compile: " << error << "\n";
    return failure();
  }
  fn(file->os());
  file->keep();
  return success();
}

/// The runtime libraries an executable links: checked before any work.
LogicalResult checkRuntimeLibraries(const CompileOptions &options) {
  if (options.runtimeLibrary.empty() ||
      !llvm::sys::fs::exists(options.runtimeLibrary)) {
    llvm::errs() << "lmc compile: runtime library '" << options.runtimeLibrary
                 << "' not found (set --runtime-lib or LMC_RUNTIME_LIBRARY)\n";
    return failure();
  }
  const bool cuda = options.pipeline.target == Target::CUDA;
  if (cuda && (options.cudaRuntimeLibrary.empty() ||
               !llvm::sys::fs::exists(options.cudaRuntimeLibrary))) {
    llvm::errs() << "lmc compile: GPU runtime library '"
                 << options.cudaRuntimeLibrary
                 << "' not found (this lmc was built without the CUDA "
                    "headers, or set --cuda-runtime-lib or "
                    "LMC_CUDA_RUNTIME_LIBRARY)\n";
    return failure();
  }
  return success();
}

/// -o must not name an input: the model, a runtime library linked, or lmc
/// itself (compared by file identity; an output that does not exist yet is
/// no input). Checked before anything is written.
LogicalResult checkOutputIsNoInput(const CompileOptions &options) {
  static int anchor;
  std::string self = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  const std::pair<StringRef, StringRef> inputs[] = {
      {"the input model", options.input},
      {"the runtime library", options.runtimeLibrary},
      {"the GPU runtime library", options.cudaRuntimeLibrary},
      {"the lmc executable", self}};
  for (auto [what, path] : inputs) {
    bool same = false;
    if (path.empty() || path == "-" ||
        llvm::sys::fs::equivalent(options.output, path, same) || !same)
      continue;
    llvm::errs() << "lmc compile: -o " << options.output << " names " << what
                 << " " << path << ": refusing to overwrite an input\n";
    return failure();
  }
  return success();
}

LogicalResult link(const CompileOptions &options,
                   ArrayRef<StringRef> objects) {
  const bool cuda = options.pipeline.target == Target::CUDA;
  llvm::ErrorOr<std::string> linker =
      llvm::sys::findProgramByName(options.linker);
  if (!linker) {
    llvm::errs() << "lmc compile: linker '" << options.linker
                 << "' not found\n";
    return failure();
  }
  // The runtime's own dependencies: GCC's OpenMP runtime (the CPU kernels'
  // and oneDNN's thread pool, whose size the trainer sets), libm, and -ldl:
  // oneDNN (the CPU GEMMs) and OpenMPI (collectives under mpirun) are opened
  // with dlopen when first used (lib/Runtime/Core/SharedLibrary.h), so a
  // trainer that needs neither starts without them.
  // A GPU program: first the GPU runtime (its main, the mgpu* functions,
  // cuBLASLt and NCCL, all loaded with dlopen at run time too).
  SmallVector<StringRef> args = {*linker};
  args.append(objects.begin(), objects.end());
  if (cuda)
    args.push_back(options.cudaRuntimeLibrary);
  args.append({options.runtimeLibrary, "-lgomp", "-lm", "-ldl"});
  args.append({"-o", options.output});
  std::string error;
  int rc =
      llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0, &error);
  if (rc != 0) {
    llvm::errs() << "lmc compile: linking failed (" << *linker << ", exit "
                 << rc << ")" << (error.empty() ? "" : ": ") << error << "\n";
    return failure();
  }
  return success();
}

/// `--target cuda --emit mlir|ptx`: after the GPU stage, writes the module
/// (`--emit mlir`) or the kernels' PTX (`--emit ptx`): into `output`, or,
/// when `output` is a directory, one `<gpu.binary>.ptx` per binary there.
LogicalResult emitCuda(ModuleOp module, const CompileOptions &options) {
  if (options.emit == EmitKind::Mlir)
    return writeText(options.output,
                     [&](raw_ostream &os) { module->print(os); });

  SmallVector<std::pair<StringRef, StringRef>> ptx; // binary name, PTX
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr);
          object && object.getFormat() == gpu::CompilationTarget::Assembly)
        ptx.emplace_back(binary.getName(), object.getObject().getValue());
  if (ptx.empty()) {
    llvm::errs() << "lmc compile: the training step has no GPU kernels\n";
    return failure();
  }
  if (llvm::sys::fs::is_directory(options.output)) {
    for (auto [name, text] : ptx) {
      SmallString<128> path(options.output);
      llvm::sys::path::append(path, name + ".ptx");
      if (failed(writeText(path, [&](raw_ostream &os) { os << text; })))
        return failure();
    }
    return success();
  }
  if (ptx.size() != 1) {
    llvm::errs() << "lmc compile: " << ptx.size()
                 << " GPU binaries; -o must name a directory\n";
    return failure();
  }
  return writeText(options.output,
                   [&](raw_ostream &os) { os << ptx.front().second; });
}

} // namespace

LogicalResult mlir::lmc::compile(const CompileOptions &options) {
  const CompilePipelineOptions &pipeline = options.pipeline;
  const bool cuda = pipeline.target == Target::CUDA;
  if (cuda && pipeline.cudaArch != "sm_90" && pipeline.cudaArch != "sm_80") {
    llvm::errs() << "lmc compile: --cuda-arch " << pipeline.cudaArch
                 << ": expected sm_90 or sm_80\n";
    return failure();
  }
  if (failed(checkOutputIsNoInput(options)))
    return failure();
  if (options.emit == EmitKind::Exe && failed(checkRuntimeLibraries(options)))
    return failure();
  if (!cuda && options.emit == EmitKind::Ptx) {
    llvm::errs() << "lmc compile: --emit ptx needs --target cuda\n";
    return failure();
  }
  // The stages and their passes are the pipeline library's; the kernels of
  // --target cuda --emit mlir|ptx are the output of its GPU stage.
  const bool gpuOnly =
      cuda && (options.emit == EmitKind::Ptx || options.emit == EmitKind::Mlir);
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  FailureOr<SmallVector<CompileStage>> compileStages =
      getCompileStages(pipeline, options.extraPasses, errorStream, gpuOnly);
  if (failed(compileStages)) {
    llvm::errs() << "lmc compile: --passes-after: " << errors;
    return failure();
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  registry.insert<LMCDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  std::string error;
  auto input = openInputFile(options.input, &error);
  if (!input) {
    llvm::errs() << "lmc compile: " << error << "\n";
    return failure();
  }
  // Nesting the parser's recursion cannot take (ParseDepth.h; the driver
  // runs on a thread with a large stack for the rest).
  if (!checkNesting(options.input, input->getBuffer(), llvm::errs()))
    return failure();
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  auto start = std::chrono::steady_clock::now();
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return failure();

  // The trainer runs f32 models: an f64 model (which lmc-opt's reference
  // pipeline runs) is refused here, at its first parameter, rather than by
  // the trainer it would become.
  WalkResult dtypes = module->walk([](ParamOp param) {
    Type element = param.getTensorType().getElementType();
    if (element.isF32())
      return WalkResult::advance();
    param.emitError("parameter @")
        << param.getSymName() << " has element type " << element
        << ": lmc compile builds f32 trainers only (f64 models run through "
           "lmc-opt's reference pipeline)";
    return WalkResult::interrupt();
  });
  if (dtypes.wasInterrupted())
    return failure();

  Stages stages(*module, options);
  stages.report("parse", start);
  if (failed(stages.dump("input")))
    return failure();
  for (const CompileStage &stage : *compileStages)
    if (failed(stages.run(stage.name, stage.build)))
      return failure();
  if (gpuOnly)
    return emitCuda(*module, options);
  if (options.emit == EmitKind::Mlir)
    return writeText(options.output,
                     [&](raw_ostream &os) { module->print(os); });

  // lmc's own annotations of arguments and results (lmc.param, lmc.hparam,
  // ...) have no meaning in LLVM IR.
  module->walk([](FunctionOpInterface fn) {
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      for (NamedAttribute attr : fn.getArgAttrs(i))
        if (attr.getName().getValue().starts_with("lmc."))
          fn.removeArgAttr(i, attr.getName());
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i)
      for (NamedAttribute attr : fn.getResultAttrs(i))
        if (attr.getName().getValue().starts_with("lmc."))
          fn.removeResultAttr(i, attr.getName());
  });

  start = std::chrono::steady_clock::now();
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmContext);
  if (!llvmModule) {
    llvm::errs() << "lmc compile: translation to LLVM IR failed\n";
    return failure();
  }
  std::unique_ptr<llvm::TargetMachine> machine =
      host::targetMachine(pipeline.optLevel);
  if (!machine)
    return failure();
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  // The entry points are glue: calls into the shared kernels, buffer
  // bookkeeping and a few scalars, one pass per step, in straight-line
  // functions that grow with the depth of the model (tens of thousands of
  // instructions for gpt2-124M). Optimising them buys nothing measurable
  // and costs most of the code generation time, so they are left
  // unoptimised and compiled at -O0 (the greedy register allocator of -O3
  // spent about 2 s of smollm-135m's 5.3 s of code generation on them, 1.1 s
  // at -O0); the kernels get the full -O level.
  static constexpr StringRef entryNames[] = {
      "lmc_train_step", "lmc_eval_step", "lmc_logits", "lmc_grad_step",
      "lmc_apply_step"};
  for (StringRef name : entryNames)
    if (llvm::Function *fn = llvmModule->getFunction(name)) {
      fn->addFnAttr(llvm::Attribute::OptimizeNone);
      fn->addFnAttr(llvm::Attribute::NoInline);
    }
  if (options.emit == EmitKind::Llvm || options.emit == EmitKind::Obj) {
    // One module out: optimised and compiled on this thread.
    host::optimize(*llvmModule, *machine, pipeline.optLevel);
    stages.report("llvm-opt", start);
    if (options.emit == EmitKind::Llvm)
      return writeText(options.output, [&](raw_ostream &os) {
        llvmModule->print(os, nullptr);
      });
    start = std::chrono::steady_clock::now();
    LogicalResult written =
        host::emitObject(*llvmModule, *machine, options.output);
    stages.report("codegen", start);
    return written;
  }

  // An executable: the module's partitions optimised and compiled on
  // --jobs threads (HostBackend.cpp).
  SmallVector<std::string> objects;
  llvm::scope_exit removeObjects([&] {
    for (const std::string &object : objects)
      llvm::sys::fs::remove(object);
  });
  if (failed(host::compileToObjects(*llvmModule, entryNames,
                                    pipeline.optLevel, options.jobs, objects)))
    return failure();
  stages.report("llvm-opt+codegen", start);
  start = std::chrono::steady_clock::now();
  if (failed(link(options, SmallVector<StringRef>(objects.begin(),
                                                  objects.end()))))
    return failure();
  stages.report("link", start);
  return success();
}
