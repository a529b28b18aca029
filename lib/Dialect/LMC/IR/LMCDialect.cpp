//===- LMCDialect.cpp - The lmc dialect -----------------------------------===//
//
// The dialect and the verifiers of its discardable attributes (declared in
// LMCDialect.td): each `lmc.*` attribute has one type and a place where it
// may appear, which the verifiers below enforce.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::lmc;

#include "lmc/Dialect/LMC/IR/LMCDialect.cpp.inc"

void LMCDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "lmc/Dialect/LMC/IR/LMCOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Discardable attributes
//===----------------------------------------------------------------------===//

namespace {

/// The optimizer states a parameter argument or result may hold.
constexpr StringLiteral kStates[] = {"exp_avg", "exp_avg_sq"};
/// The scalars a function result may hold.
constexpr StringLiteral kOutputs[] = {"loss", "grad_norm", "lr"};

/// "'NAME' must be a KIND attribute, got VALUE" unless `attr` holds an
/// `AttrTy`.
template <typename AttrTy>
LogicalResult checkType(function_ref<InFlightDiagnostic()> emitError,
                        NamedAttribute attr, StringRef kind) {
  if (isa<AttrTy>(attr.getValue()))
    return success();
  return emitError() << "'" << attr.getName().getValue() << "' must be " << kind
                     << ", got " << attr.getValue();
}

/// Checks a parameter reference (`lmc.param`, `lmc.grad_of`) on a function
/// argument or result: inside an lmc.model it names one of its parameters.
LogicalResult checkParamRef(function_ref<InFlightDiagnostic()> emitError,
                            Operation *func, NamedAttribute attr) {
  if (failed(checkType<FlatSymbolRefAttr>(emitError, attr,
                                          "a flat symbol reference")))
    return failure();
  auto model = func->getParentOfType<ModelOp>();
  if (!model)
    return success(); // Outside a model (after lowering) nothing to check.
  auto name = cast<FlatSymbolRefAttr>(attr.getValue());
  if (!isa_and_nonnull<ParamOp>(SymbolTable::lookupSymbolIn(model, name)))
    return emitError() << "'" << attr.getName().getValue() << "' names " << name
                       << ", which is not an lmc.param of @"
                       << model.getSymName();
  return success();
}

/// The verifier of the attributes allowed on both arguments and results of
/// functions (`lmc.param`, `lmc.state`); `dict` holds all attributes of
/// that argument or result.
LogicalResult verifyValueAttr(function_ref<InFlightDiagnostic()> emitError,
                              Operation *op, NamedAttribute attr,
                              DictionaryAttr dict, bool isResult) {
  StringRef name = attr.getName().getValue();
  if (name == LMCDialect::ParamAttrHelper::getNameStr())
    return checkParamRef(emitError, op, attr);
  if (name == LMCDialect::StateAttrHelper::getNameStr()) {
    if (failed(checkType<StringAttr>(emitError, attr, "a string")))
      return failure();
    StringRef state = cast<StringAttr>(attr.getValue()).getValue();
    if (!llvm::is_contained(kStates, state))
      return emitError() << "'" << name << "' must be \"exp_avg\" or "
                         << "\"exp_avg_sq\", got \"" << state << "\"";
    if (!dict || !dict.get(LMCDialect::ParamAttrHelper::getNameStr()))
      return emitError() << "'" << name << "' needs an 'lmc.param' beside it";
    return success();
  }
  if (name == LMCDialect::HparamAttrHelper::getNameStr()) {
    if (isResult)
      return emitError() << "'" << name
                         << "' is only allowed on a function argument";
    if (failed(checkType<StringAttr>(emitError, attr, "a string")))
      return failure();
    if (cast<StringAttr>(attr.getValue()).getValue().empty())
      return emitError() << "'" << name << "' must name a hyperparameter";
    return success();
  }
  if (name == LMCDialect::OutputAttrHelper::getNameStr() ||
      name == LMCDialect::GradOfAttrHelper::getNameStr()) {
    if (!isResult)
      return emitError() << "'" << name
                         << "' is only allowed on a function result";
    if (name == LMCDialect::GradOfAttrHelper::getNameStr())
      return checkParamRef(emitError, op, attr);
    if (failed(checkType<StringAttr>(emitError, attr, "a string")))
      return failure();
    StringRef output = cast<StringAttr>(attr.getValue()).getValue();
    if (!llvm::is_contained(kOutputs, output))
      return emitError() << "'" << name << "' must be \"loss\", "
                         << "\"grad_norm\" or \"lr\", got \"" << output << "\"";
    return success();
  }
  return emitError() << "'" << name << "' is not an lmc attribute of function "
                     << (isResult ? "results" : "arguments");
}

/// The attributes of argument or result `index` of `op`, if it is a
/// function.
DictionaryAttr valueAttrs(Operation *op, unsigned index, bool isResult) {
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func)
    return nullptr;
  return isResult ? func.getResultAttrDict(index) : func.getArgAttrDict(index);
}

} // namespace

LogicalResult LMCDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  auto emitError = [&]() { return op->emitError(); };
  if (name == MeshAttrHelper::getNameStr()) {
    if (failed(checkType<MeshAttr>(emitError, attr, "an #lmc.mesh attribute")))
      return failure();
    if (!isa<ModelOp, ModuleOp>(op))
      return op->emitError("'")
             << name << "' is only allowed on an lmc.model or a builtin.module";
    return success();
  }
  if (name == ShardingAttrHelper::getNameStr()) {
    if (failed(checkType<ShardingAttr>(emitError, attr,
                                       "an #lmc.sharding attribute")))
      return failure();
    auto sharding = cast<ShardingAttr>(attr.getValue());
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      return op->emitError("'") << name << "' is only allowed on an lmc.param";
    MeshAttr mesh = getMeshInScope(op);
    if (!mesh)
      return op->emitError("'")
             << name << "' needs an #lmc.mesh in scope (an 'lmc.mesh' "
             << "attribute on the enclosing lmc.model or module)";
    RankedTensorType type = param.getTensorType();
    if (!type)
      return success(); // The parameter's verifier reports it.
    if (std::optional<std::string> error = sharding.verifyFor(type, mesh))
      return op->emitError("'") << name << "' " << sharding << " does not fit "
                                << type << ": " << *error;
    return success();
  }
  if (name == ZeroDimAttrHelper::getNameStr()) {
    if (failed(checkType<IntegerAttr>(emitError, attr, "an integer")))
      return failure();
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      return op->emitError("'") << name << "' is only allowed on an lmc.param";
    int64_t dim = cast<IntegerAttr>(attr.getValue()).getInt();
    RankedTensorType type = param.getTensorType();
    if (type && (dim < 0 || dim >= type.getRank()))
      return op->emitError("'")
             << name << "' " << dim << " is not a dimension of " << type;
    return success();
  }
  if (name == ZeroAxisAttrHelper::getNameStr()) {
    if (failed(checkType<StringAttr>(emitError, attr, "a string")))
      return failure();
    if (!isa<ParamOp>(op))
      return op->emitError("'") << name << "' is only allowed on an lmc.param";
    if (!op->hasAttr(ZeroDimAttrHelper::getNameStr()))
      return op->emitError("'")
             << name << "' needs '" << ZeroDimAttrHelper::getNameStr()
             << "' beside it";
    MeshAttr mesh = getMeshInScope(op);
    StringRef axis = cast<StringAttr>(attr.getValue()).getValue();
    if (!mesh || !mesh.getAxisIndex(axis))
      return op->emitError("'")
             << name << "' names '" << axis
             << "', which is not an axis of the mesh in scope";
    return success();
  }
  if (name == BatchAxesAttrHelper::getNameStr() ||
      name == SequenceAxesAttrHelper::getNameStr()) {
    if (failed(checkType<ArrayAttr>(emitError, attr, "an array of strings")))
      return failure();
    if (!isa<ModelOp>(op))
      return op->emitError("'") << name << "' is only allowed on an lmc.model";
    MeshAttr mesh = getMeshInScope(op);
    for (Attribute a : cast<ArrayAttr>(attr.getValue())) {
      auto axis = dyn_cast<StringAttr>(a);
      if (!axis)
        return op->emitError("'") << name << "' must be an array of strings";
      if (!mesh || !mesh.getAxisIndex(axis.getValue()))
        return op->emitError("'")
               << name << "' names '" << axis.getValue()
               << "', which is not an axis of the mesh in scope";
    }
    return success();
  }
  if (name == DpSyncAttrHelper::getNameStr()) {
    if (failed(checkType<StringAttr>(emitError, attr, "a string")))
      return failure();
    if (!isa<ModelOp>(op))
      return op->emitError("'") << name << "' is only allowed on an lmc.model";
    StringRef mode = cast<StringAttr>(attr.getValue()).getValue();
    if (mode != "local" && mode != "allreduce")
      return op->emitError("'")
             << name << "' must be \"local\" or \"allreduce\", not \"" << mode
             << "\"";
    if (!op->hasAttr(BatchAxesAttrHelper::getNameStr()))
      return op->emitError("'")
             << name << "' needs '" << BatchAxesAttrHelper::getNameStr()
             << "' beside it";
    return success();
  }
  if (name == PipelineAttrHelper::getNameStr()) {
    if (failed(checkType<DictionaryAttr>(emitError, attr, "a dictionary")))
      return failure();
    if (!isa<ModelOp>(op))
      return op->emitError("'") << name << "' is only allowed on an lmc.model";
    auto dict = cast<DictionaryAttr>(attr.getValue());
    auto axis = dict.getAs<StringAttr>("axis");
    auto stages = dict.getAs<IntegerAttr>("stages");
    auto microbatches = dict.getAs<IntegerAttr>("microbatches");
    auto schedule = dict.getAs<StringAttr>("schedule");
    if (!axis || !stages || !microbatches || !schedule || dict.size() != 4)
      return op->emitError("'")
             << name << "' must hold exactly axis (a string), stages, "
             << "microbatches (integers) and schedule (a string)";
    MeshAttr mesh = getMeshInScope(op);
    std::optional<int64_t> size =
        mesh ? mesh.getAxisSize(axis.getValue()) : std::nullopt;
    if (!size || *size != stages.getInt())
      return op->emitError("'")
             << name << "' has " << stages.getInt() << " stages over '"
             << axis.getValue()
             << "', which is not an axis of that size in the mesh in scope";
    if (microbatches.getInt() < 1)
      return op->emitError("'") << name << "' needs at least one micro-batch";
    if (schedule.getValue() != "1f1b" && schedule.getValue() != "gpipe")
      return op->emitError("'") << name << "' schedule must be \"1f1b\" or "
                                << "\"gpipe\", not \"" << schedule.getValue()
                                << "\"";
    return success();
  }
  if (name == StagesAttrHelper::getNameStr()) {
    if (failed(
            checkType<DenseI64ArrayAttr>(emitError, attr, "an array of i64")))
      return failure();
    if (!isa<ParamOp>(op))
      return op->emitError("'") << name << "' is only allowed on an lmc.param";
    auto pipeline = op->getParentOp()
                        ? op->getParentOp()->getAttrOfType<DictionaryAttr>(
                              PipelineAttrHelper::getNameStr())
                        : DictionaryAttr();
    if (!pipeline)
      return op->emitError("'")
             << name << "' needs '" << PipelineAttrHelper::getNameStr()
             << "' on the enclosing lmc.model";
    auto stages = pipeline.getAs<IntegerAttr>("stages");
    ArrayRef<int64_t> held = cast<DenseI64ArrayAttr>(attr.getValue());
    llvm::SmallDenseSet<int64_t> seen;
    if (held.empty())
      return op->emitError("'") << name << "' must name at least one stage";
    for (int64_t s : held)
      if (!stages || s < 0 || s >= stages.getInt() || !seen.insert(s).second)
        return op->emitError("'")
               << name << "' must list distinct stages of the pipeline, "
               << "from 0 to " << (stages ? stages.getInt() - 1 : 0);
    return success();
  }
  if (name == ActivationBytesAttrHelper::getNameStr()) {
    if (failed(
            checkType<DenseI64ArrayAttr>(emitError, attr, "an array of i64")))
      return failure();
    if (!isa<ModelOp>(op))
      return op->emitError("'") << name << "' is only allowed on an lmc.model";
    if (llvm::any_of(cast<DenseI64ArrayAttr>(attr.getValue()).asArrayRef(),
                     [](int64_t c) { return c < 0; }))
      return op->emitError("'")
             << name << "' must have non-negative coefficients";
    return success();
  }
  if (name == FusionGroupAttrHelper::getNameStr()) {
    if (failed(checkType<StringAttr>(emitError, attr, "a string")))
      return failure();
    if (!isa<FunctionOpInterface>(op))
      return op->emitError("'") << name << "' is only allowed on a function";
    if (cast<StringAttr>(attr.getValue()).getValue().empty())
      return op->emitError("'") << name << "' must name a group kind";
    return success();
  }
  if (name == LibraryCallAttrHelper::getNameStr())
    return checkType<DictionaryAttr>(emitError, attr, "a dictionary");
  if (name == StreamOrderedAttrHelper::getNameStr()) {
    if (failed(checkType<UnitAttr>(emitError, attr, "a unit attribute")))
      return failure();
    if (!isa<FunctionOpInterface>(op))
      return op->emitError("'") << name << "' is only allowed on a function";
    return success();
  }
  if (name == ParamAttrHelper::getNameStr() ||
      name == StateAttrHelper::getNameStr() ||
      name == HparamAttrHelper::getNameStr() ||
      name == OutputAttrHelper::getNameStr() ||
      name == GradOfAttrHelper::getNameStr())
    return op->emitError("'")
           << name << "' is only allowed on function arguments or results";
  return op->emitError("'") << name << "' is not an lmc attribute";
}

LogicalResult LMCDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  auto emitError = [&]() { return op->emitError(); };
  return verifyValueAttr(emitError, op, attr,
                         valueAttrs(op, argIndex, /*isResult=*/false),
                         /*isResult=*/false);
}

LogicalResult LMCDialect::verifyRegionResultAttribute(Operation *op,
                                                      unsigned regionIndex,
                                                      unsigned resultIndex,
                                                      NamedAttribute attr) {
  auto emitError = [&]() { return op->emitError(); };
  return verifyValueAttr(emitError, op, attr,
                         valueAttrs(op, resultIndex, /*isResult=*/true),
                         /*isResult=*/true);
}
