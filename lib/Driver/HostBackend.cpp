//===- HostBackend.cpp - LLVM IR to host objects, in parallel -------------===//
//
// LLVM optimises and compiles one module on one thread. A training step's
// module is many independent functions: the kernels, each with the OpenMP
// bodies outlined from it, called only from the entry points (which are
// compiled at -O0, see below). So the module is cut into partitions that
// share nothing but declarations, and each is optimised and compiled on a
// thread of its own, in an LLVM context of its own (a context is not
// thread-safe), like LLVM's own parallel code generation for LTO.
//
// What a partition holds: its share of the module's definitions that other
// objects can name (every non-local function and variable), and a copy of
// every local symbol those use, directly or through other local symbols (the
// OpenMP bodies, the private wrappers of the runtime's C functions,
// constants). A local variable that is not constant would be state that the
// copies must share, so it is made a hidden global first and belongs to one
// partition. The kernels' partitions are balanced greedily by instruction
// count, largest first, into a fixed number of partitions: the objects are
// the same whatever the number of threads.
//
// What the optimiser loses: interprocedural facts across partitions. The
// kernels are public functions whose only callers are the entry points,
// which are `optnone` and never inlined into, so that is nothing here.
//
//===----------------------------------------------------------------------===//

#include "HostBackend.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassInstrumentation.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/ValueMapper.h"

#include <mutex>

using namespace mlir;
using namespace mlir::lmc;

std::unique_ptr<llvm::TargetMachine> host::targetMachine(unsigned optLevel) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    llvm::errs() << "lmc compile: no target for " << triple.str() << ": "
                 << error << "\n";
    return nullptr;
  }
  llvm::SubtargetFeatures features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.AddFeature(feature.first(), feature.second);
  llvm::TargetOptions targetOptions;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features.getString(), targetOptions,
      llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOpt::getLevel(static_cast<int>(optLevel))
          .value_or(llvm::CodeGenOptLevel::Default)));
}

/// The pass instrumentation is what makes the pipeline skip `optnone`
/// functions (StandardInstrumentations' OptNoneInstrumentation); MLIR's
/// makeOptimizingTransformer builds its PassBuilder without it, so there
/// `optnone` entry points were optimised anyway.
void host::optimize(llvm::Module &module, llvm::TargetMachine &machine,
                    unsigned optLevel) {
  static const llvm::OptimizationLevel levels[] = {
      llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
      llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassInstrumentationCallbacks callbacks;
  llvm::StandardInstrumentations instrumentations(module.getContext(),
                                                  /*DebugLogging=*/false);
  instrumentations.registerCallbacks(callbacks, &modules);
  llvm::PassBuilder builder(&machine, llvm::PipelineTuningOptions(),
                            std::nullopt, &callbacks);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  llvm::OptimizationLevel level = levels[std::min(optLevel, 3u)];
  llvm::ModulePassManager pipeline =
      level == llvm::OptimizationLevel::O0
          ? builder.buildO0DefaultPipeline(level)
          : builder.buildPerModuleDefaultPipeline(level);
  pipeline.run(module, modules);
}

/// Object emission with its errors written to `errors`.
static bool emitObjectTo(llvm::Module &module, llvm::TargetMachine &machine,
                         StringRef path, raw_ostream &errors) {
  std::error_code ec;
  llvm::ToolOutputFile file(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    errors << "lmc compile: cannot write '" << path << "': " << ec.message()
           << "\n";
    return false;
  }
  llvm::legacy::PassManager pm;
  if (machine.addPassesToEmitFile(pm, file.os(), nullptr,
                                  llvm::CodeGenFileType::ObjectFile)) {
    errors << "lmc compile: the target cannot emit object files\n";
    return false;
  }
  pm.run(module);
  file.keep();
  return true;
}

LogicalResult host::emitObject(llvm::Module &module,
                               llvm::TargetMachine &machine, StringRef path) {
  return success(emitObjectTo(module, machine, path, llvm::errs()));
}

/// The longest block of the entry points given to the code generator.
static constexpr size_t kEntryBlockLimit = 512;

/// Cuts every basic block of `module` longer than `limit` instructions into
/// blocks of at most `limit`, joined by unconditional branches. The code
/// generator's SelectionDAG works block by block, in time that grows faster
/// than the block: an entry point's single block of straight-line glue
/// (139 K lines of LLVM IR with 48 layers) took 1.7 s of instruction
/// selection at -O0 in one piece. Only for the -O0 entry points, where
/// values that live across the cuts are spilled anyway.
static void cutLongBlocks(llvm::Module &module, size_t limit) {
  for (llvm::Function &fn : module) {
    SmallVector<llvm::BasicBlock *> blocks;
    for (llvm::BasicBlock &block : fn)
      blocks.push_back(&block);
    for (llvm::BasicBlock *block : blocks) {
      while (block->size() > limit) {
        auto cut = block->getFirstNonPHIIt();
        for (size_t i = 0; i < limit && !cut->isTerminator(); ++i)
          ++cut;
        if (cut->isTerminator())
          break;
        block = block->splitBasicBlock(cut);
      }
    }
  }
}

namespace {

/// The global values `root` refers to, through constant expressions and
/// aggregates too.
void collectReferences(const llvm::GlobalValue &root,
                       llvm::SetVector<const llvm::GlobalValue *> &out) {
  SmallVector<const llvm::Value *> work;
  llvm::SmallPtrSet<const llvm::Value *, 32> seen;
  auto visit = [&](const llvm::Value *value) {
    if (isa<llvm::GlobalValue>(value))
      out.insert(cast<llvm::GlobalValue>(value));
    else if (isa<llvm::Constant>(value) && seen.insert(value).second)
      work.push_back(value);
  };
  if (const auto *fn = dyn_cast<llvm::Function>(&root)) {
    for (const llvm::BasicBlock &block : *fn)
      for (const llvm::Instruction &inst : block)
        for (const llvm::Value *operand : inst.operands())
          visit(operand);
    if (fn->hasPersonalityFn())
      visit(fn->getPersonalityFn());
  } else if (const auto *var = dyn_cast<llvm::GlobalVariable>(&root)) {
    if (var->hasInitializer())
      visit(var->getInitializer());
  }
  while (!work.empty()) {
    const auto *constant = cast<llvm::Constant>(work.pop_back_val());
    for (const llvm::Value *operand : constant->operands())
      visit(operand);
  }
}

size_t instructionCount(const llvm::GlobalValue &value) {
  if (const auto *fn = dyn_cast<llvm::Function>(&value))
    return fn->getInstructionCount();
  return 1;
}

/// One partition: the definitions it holds.
struct Partition {
  llvm::DenseSet<const llvm::GlobalValue *> definitions;
  size_t size = 0;
  bool entries = false;
};

/// A partition ready for a thread: bitcode, its target machine, its object.
struct Job {
  SmallVector<char, 0> bitcode;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::string object;
  bool optimize = true;
};

} // namespace

/// Gives the module's unnamed and mutable local globals names and external
/// hidden linkage, so that partitions can refer to one definition; false
/// where the module holds what this partitioning does not handle.
static bool prepare(llvm::Module &module) {
  if (!module.aliases().empty() || !module.ifuncs().empty() ||
      !module.getComdatSymbolTable().empty())
    return false;
  unsigned anonymous = 0;
  for (llvm::GlobalValue &value : module.global_values()) {
    if (value.isDeclaration())
      continue;
    if (!value.hasName())
      value.setName(llvm::formatv("lmc.anon.{0}", anonymous++).str());
    auto *var = dyn_cast<llvm::GlobalVariable>(&value);
    if (var && var->hasLocalLinkage() && !var->isConstant()) {
      var->setLinkage(llvm::GlobalValue::ExternalLinkage);
      var->setVisibility(llvm::GlobalValue::HiddenVisibility);
    }
  }
  return true;
}

/// Splits the module's definitions into the entry partition and
/// kKernelPartitions others (empty ones dropped).
static SmallVector<Partition, 0> partition(llvm::Module &module,
                                        ArrayRef<StringRef> entryNames) {
  // The local definitions each global value reaches, itself included.
  llvm::DenseMap<const llvm::GlobalValue *,
                 SmallVector<const llvm::GlobalValue *>>
      closures;
  auto closureOf = [&](const llvm::GlobalValue &root) {
    SmallVector<const llvm::GlobalValue *> closure = {&root};
    llvm::SmallPtrSet<const llvm::GlobalValue *, 16> inClosure = {&root};
    for (size_t i = 0; i < closure.size(); ++i) {
      llvm::SetVector<const llvm::GlobalValue *> references;
      collectReferences(*closure[i], references);
      for (const llvm::GlobalValue *reference : references)
        if (reference->hasLocalLinkage() && !reference->isDeclaration() &&
            inClosure.insert(reference).second)
          closure.push_back(reference);
    }
    return closure;
  };

  Partition entryPartition;
  entryPartition.entries = true;
  SmallVector<std::pair<size_t, const llvm::GlobalValue *>> roots;
  for (const llvm::GlobalValue &value : module.global_values()) {
    if (value.isDeclaration() || value.hasLocalLinkage())
      continue;
    SmallVector<const llvm::GlobalValue *> closure = closureOf(value);
    size_t size = 0;
    for (const llvm::GlobalValue *member : closure)
      size += instructionCount(*member);
    if (isa<llvm::Function>(value) &&
        llvm::is_contained(entryNames, value.getName())) {
      entryPartition.definitions.insert(closure.begin(), closure.end());
      entryPartition.size += size;
      continue;
    }
    closures[&value] = std::move(closure);
    roots.push_back({size, &value});
  }
  // Largest first, ties in module order (stable), each to the partition
  // with the fewest instructions so far (the first of equals).
  llvm::stable_sort(roots, [](const auto &a, const auto &b) {
    return a.first > b.first;
  });
  SmallVector<Partition, 0> kernels(host::kKernelPartitions);
  for (auto [size, root] : roots) {
    Partition *least = llvm::min_element(kernels, [](const Partition &a,
                                                     const Partition &b) {
      return a.size < b.size;
    });
    least->definitions.insert(closures[root].begin(), closures[root].end());
    least->size += size;
  }
  SmallVector<Partition, 0> partitions;
  if (!entryPartition.definitions.empty())
    partitions.push_back(std::move(entryPartition));
  for (Partition &kernel : kernels)
    if (!kernel.definitions.empty())
      partitions.push_back(std::move(kernel));
  return partitions;
}

LogicalResult host::compileToObjects(llvm::Module &module,
                                     ArrayRef<StringRef> entries,
                                     unsigned optLevel, unsigned jobs,
                                     SmallVectorImpl<std::string> &objects) {
  SmallVector<Job, 0> work;
  if (prepare(module)) {
    for (const Partition &part : partition(module, entries)) {
      llvm::ValueToValueMapTy map;
      std::unique_ptr<llvm::Module> clone =
          llvm::CloneModule(module, map, [&](const llvm::GlobalValue *value) {
            return part.definitions.contains(value);
          });
      Job &job = work.emplace_back();
      llvm::raw_svector_ostream os(job.bitcode);
      llvm::WriteBitcodeToFile(*clone, os);
      job.optimize = !part.entries;
      job.machine = targetMachine(part.entries ? 0 : optLevel);
      if (!job.machine)
        return failure();
    }
  } else {
    // Aliases, ifuncs or comdats: one partition, as LLVM's own driver does.
    Job &job = work.emplace_back();
    llvm::raw_svector_ostream os(job.bitcode);
    llvm::WriteBitcodeToFile(module, os);
    job.machine = targetMachine(optLevel);
    if (!job.machine)
      return failure();
  }
  for (Job &job : work) {
    SmallString<128> path;
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("lmc-model", "o", path)) {
      llvm::errs() << "lmc compile: cannot create a temporary file: "
                   << ec.message() << "\n";
      return failure();
    }
    job.object = std::string(path);
    objects.push_back(job.object);
  }

  std::mutex errorsLock;
  std::string errors;
  bool failed = false;
  {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(jobs));
    for (Job &job : work)
      pool.async([&, jobPtr = &job] {
        Job &job = *jobPtr;
        std::string message;
        llvm::raw_string_ostream messages(message);
        llvm::LLVMContext context;
        llvm::Expected<std::unique_ptr<llvm::Module>> part =
            llvm::parseBitcodeFile(
                llvm::MemoryBufferRef(
                    StringRef(job.bitcode.data(), job.bitcode.size()),
                    job.object),
                context);
        bool ok = false;
        if (!part) {
          messages << "lmc compile: a partition of the module cannot be "
                      "read back: "
                   << llvm::toString(part.takeError()) << "\n";
        } else {
          if (job.optimize)
            optimize(**part, *job.machine, optLevel);
          else
            cutLongBlocks(**part, kEntryBlockLimit);
          ok = emitObjectTo(**part, *job.machine, job.object, messages);
        }
        if (!ok) {
          std::lock_guard<std::mutex> lock(errorsLock);
          errors += message;
          failed = true;
        }
      });
    pool.wait();
  }
  if (failed) {
    llvm::errs() << errors;
    return failure();
  }
  return success();
}
