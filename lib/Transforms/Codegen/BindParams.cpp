//===- BindParams.cpp - Parameter values from a safetensors file ----------===//
//
// Replaces lmc.param_ref by arith.constant values read from a safetensors
// file, after checking each stored tensor against its declaration.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Support/SafeTensors.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

#define DEBUG_TYPE "lmc-bind-params"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCBINDPARAMS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

StringRef dtypeOf(Type elementType) {
  if (elementType.isF32())
    return "F32";
  if (elementType.isF64())
    return "F64";
  return "";
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + std::to_string(d);
  return s + "]";
}

struct LMCBindParamsPass
    : mlir::lmc::impl::LMCBindParamsBase<LMCBindParamsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (from.empty()) {
      module.emitError("lmc-bind-params needs the option from=FILE");
      return signalPassFailure();
    }
    llvm::Expected<SafeTensorsFile> file = SafeTensorsFile::open(from);
    if (!file) {
      module.emitError(llvm::toString(file.takeError()));
      return signalPassFailure();
    }

    for (ModelOp model : module.getOps<ModelOp>()) {
      llvm::DenseMap<StringAttr, DenseElementsAttr> values;
      llvm::StringSet<> declared;
      for (ParamOp param : model.getParams()) {
        declared.insert(param.getSymName());
        FailureOr<DenseElementsAttr> value = valueOf(param, *file);
        if (failed(value))
          return signalPassFailure();
        values[param.getSymNameAttr()] = *value;
      }
      for (StringRef name : file->names())
        if (!declared.contains(name)) {
          model.emitError("'")
              << from << "' holds '" << name << "', which model @"
              << model.getSymName() << " does not declare";
          return signalPassFailure();
        }
      model.walk([&](ParamRefOp ref) {
        OpBuilder b(ref);
        DenseElementsAttr value = values.lookup(ref.getNameAttr().getAttr());
        auto cst = arith::ConstantOp::create(b, ref.getLoc(), value);
        ref.replaceAllUsesWith(cst.getResult());
        ref.erase();
      });
    }
  }

  FailureOr<DenseElementsAttr> valueOf(ParamOp param,
                                       const SafeTensorsFile &file) {
    RankedTensorType type = param.getTensorType();
    auto it = file.tensors().find(param.getSymName());
    if (it == file.tensors().end())
      return param.emitError("parameter '")
             << param.getSymName() << "' is missing from '" << from << "'";
    const SafeTensor &stored = it->second;
    StringRef dtype = dtypeOf(type.getElementType());
    if (stored.dtype != dtype)
      return param.emitError("parameter '")
             << param.getSymName() << "' is " << type.getElementType()
             << " but '" << from << "' stores it as " << stored.dtype;
    if (ArrayRef<int64_t>(stored.shape) != type.getShape())
      return param.emitError("parameter '")
             << param.getSymName() << "' has shape "
             << shapeStr(type.getShape()) << " but '" << from
             << "' stores shape " << shapeStr(stored.shape);
    // safetensors is little-endian, as are the hosts lmc runs on.
    return DenseElementsAttr::getFromRawBuffer(type, stored.data);
  }
};

} // namespace
