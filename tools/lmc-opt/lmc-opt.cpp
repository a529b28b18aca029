//===- lmc-opt.cpp - The lmc optimizer driver -----------------------------===//
//
// mlir-opt with the lmc dialect, its passes and pipelines, and the upstream
// dialects and passes the pipelines use.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"
#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/Transforms/BufferizableOpInterfaceImpl.h"
#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Support/ParseDepth.h"
#include "lmc/Support/ToolVersion.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/MemoryBuffer.h"

int main(int argc, char **argv) {
  // --version: lmc's version line, then LLVM's.
  mlir::lmc::printVersionLineIfAsked(argc, argv);
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates GPU modules to LLVM IR in process.
  mlir::registerAllGPUToLLVMIRTranslations(registry);
  registry.insert<mlir::lmc::LMCDialect>();
  mlir::lmc::registerBufferizableOpInterfaceExternalModels(registry);

  mlir::registerAllPasses();
  mlir::lmc::registerLMCTransformsPasses();
  mlir::lmc::registerLMCConversionPasses();
  mlir::lmc::registerLMCPipelines();

  auto [input, output] = mlir::registerAndParseCLIOptions(
      argc, argv, "lmc optimizer driver\n", registry);
  // Deeply nested input: refused past a nesting limit with a located error
  // (a file; standard input is read once, by MlirOptMain), and parsed and
  // processed on a thread with a large stack (ParseDepth.h).
  if (input != "-") {
    if (auto buffer = llvm::MemoryBuffer::getFile(input, /*IsText=*/true))
      if (!mlir::lmc::checkNesting(input, (*buffer)->getBuffer(),
                                   llvm::errs()))
        return 1;
  }
  mlir::LogicalResult result = mlir::failure();
  mlir::lmc::runWithLargeStack([&, input = input, output = output] {
    result = mlir::MlirOptMain(argc, argv, input, output, registry);
  });
  return mlir::asMainReturnCode(result);
}
