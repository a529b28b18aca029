//===- LMCOps.cpp - Operations of the lmc dialect -------------------------===//
//
// Verifiers, result type inference, folders and custom assembly of the lmc
// ops. The rules checked here are the **Constraints** of LMCOps.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "VerifyUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::lmc::detail;

#include "lmc/Dialect/LMC/IR/LMCEnums.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// ModelOp
//===----------------------------------------------------------------------===//

void ModelOp::build(OpBuilder &builder, OperationState &state, StringRef name) {
  state.addAttribute(::mlir::SymbolTable::getSymbolAttrName(),
                     builder.getStringAttr(name));
  Region *body = state.addRegion();
  body->emplaceBlock();
}

func::FuncOp ModelOp::getFunction(StringRef name) {
  return dyn_cast_or_null<func::FuncOp>(
      ::mlir::SymbolTable::lookupSymbolIn(getOperation(), name));
}

ArrayRef<StringRef> ModelOp::getEntryFunctionNames() {
  static const StringRef names[] = {getTrainStepName(), getEvalStepName(),
                                    getLogitsName()};
  return names;
}

StringRef ModelOp::getExportedName(StringRef entry) {
  if (entry == getTrainStepName())
    return "lmc_train_step";
  if (entry == getEvalStepName())
    return "lmc_eval_step";
  if (entry == getLogitsName())
    return "lmc_logits";
  return "";
}

static bool isIdMatrix(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getRank() == 2 &&
         tensor.getElementType().isSignlessInteger();
}

int64_t ModelOp::getContextSize() {
  if (std::optional<uint64_t> length = getContextLength())
    return static_cast<int64_t>(*length);
  int64_t context = 0;
  if (func::FuncOp forward = getForward())
    forward.walk([&](PositionEmbeddingOp op) {
      context = op.getTable().getType().getDimSize(0);
    });
  return context;
}

LogicalResult ModelOp::verify() {
  for (Operation &op : getBody().front()) {
    if (!isa<ParamOp, func::FuncOp>(op))
      return op.emitOpError("is not allowed in an lmc.model; only lmc.param "
                            "and func.func are");
  }
  std::optional<uint64_t> length = getContextLength();
  if (length && static_cast<int64_t>(*length) < 1)
    return emitOpError("context_length must be at least 1, got ")
           << static_cast<int64_t>(*length);
  func::FuncOp forward = getForward();
  if (!forward)
    return success();
  if (length) {
    auto walked = forward.walk([&](PositionEmbeddingOp op) {
      int64_t rows = op.getTable().getType().getDimSize(0);
      if (rows == static_cast<int64_t>(*length))
        return WalkResult::advance();
      op.emitOpError("has a position table of ")
          << rows << " rows but the model's context_length is " << *length;
      return WalkResult::interrupt();
    });
    if (walked.wasInterrupted())
      return failure();
  }
  FunctionType type = forward.getFunctionType();
  if (type.getNumInputs() != 2 || !isIdMatrix(type.getInput(0)) ||
      !isIdMatrix(type.getInput(1)))
    return forward.emitOpError("'forward' must take (tokens, targets) as two "
                               "rank-2 tensors of signless integers, got ")
           << type;
  if (type.getNumResults() != 1 ||
      !isa<FloatType>(getElementTypeOrSelf(type.getResult(0))) ||
      !isa<RankedTensorType>(type.getResult(0)) ||
      cast<RankedTensorType>(type.getResult(0)).getRank() != 0)
    return forward.emitOpError("'forward' must return the loss as one 0-d "
                               "float tensor, got ")
           << type;
  return success();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

// lmc.param @name : tensor<...> init(normal, std = 0.02)
ParseResult ParamOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  Type type;
  if (parser.parseSymbolName(name, SymbolTable::getSymbolAttrName(),
                             result.attributes) ||
      parser.parseColonType(type) || parser.parseKeyword("init") ||
      parser.parseLParen())
    return failure();
  StringRef kindName;
  SMLoc kindLoc = parser.getCurrentLocation();
  if (parser.parseKeyword(&kindName))
    return failure();
  std::optional<InitKind> kind = symbolizeInitKind(kindName);
  if (!kind)
    return parser.emitError(kindLoc, "unknown initialiser '")
           << kindName << "'; expected zeros, ones or normal";
  Builder &b = parser.getBuilder();
  if (succeeded(parser.parseOptionalComma())) {
    double stdev = 0;
    if (parser.parseKeyword("std") || parser.parseEqual() ||
        parser.parseFloat(stdev))
      return failure();
    result.getOrAddProperties<Properties>().std = b.getF64FloatAttr(stdev);
  }
  if (parser.parseRParen() || parser.parseOptionalAttrDict(result.attributes))
    return failure();
  auto &props = result.getOrAddProperties<Properties>();
  props.type = TypeAttr::get(type);
  props.init = InitKindAttr::get(b.getContext(), *kind);
  return success();
}

void ParamOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << " : " << getType() << " init(" << stringifyInitKind(getInit());
  if (FloatAttr stdev = getStdAttr())
    p << ", std = " << stdev.getValue();
  p << ')';
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {SymbolTable::getSymbolAttrName(), getTypeAttrName(),
                           getInitAttrName(), getStdAttrName()});
}

LogicalResult ParamOp::verify() {
  auto type = dyn_cast<RankedTensorType>(getType());
  if (!type || !type.hasStaticShape() ||
      !isa<Float32Type, Float64Type>(type.getElementType()))
    return emitOpError("type must be a statically shaped tensor of f32 or "
                       "f64, got ")
           << getType();
  // Bytes of the tensor: within the 128 TiB (2^47 bytes) a process can
  // address, so that no product of the sizes overflows int64 in the
  // compiler or the runtime.
  constexpr int64_t kMaxBytes = int64_t(1) << 47;
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  for (int64_t size : type.getShape())
    if (size > 0 && bytes > kMaxBytes / size)
      return emitOpError("type ")
             << getType() << " holds more than 2^47 bytes (128 TiB, what a "
                             "process can address)";
    else
      bytes *= size;
  FloatAttr stdev = getStdAttr();
  if (getInit() == InitKind::normal) {
    if (!stdev)
      return emitOpError("init(normal) requires a std");
    double value = stdev.getValueAsDouble();
    if (!std::isfinite(value) || value <= 0)
      return emitOpError("std must be finite and greater than zero, got ")
             << value;
  } else if (stdev) {
    return emitOpError("init(")
           << stringifyInitKind(getInit()) << ") takes no std";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ParamRefOp
//===----------------------------------------------------------------------===//

LogicalResult ParamRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto model = (*this)->getParentOfType<ModelOp>();
  if (!model)
    return emitOpError("must be nested in an lmc.model");
  auto param = symbolTable.lookupSymbolIn<ParamOp>(model, getNameAttr());
  if (!param)
    return emitOpError("'")
           << getName() << "' does not name an lmc.param of model @"
           << model.getSymName();
  if (param.getType() != getType())
    return emitOpError("type ")
           << getType() << " does not match the type " << param.getType()
           << " of parameter '" << getName() << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

/// Shared by both embedding ops: [V|ctx, C] table, [B, T] ids -> [B, T, C].
static LogicalResult inferEmbedding(std::optional<Location> loc, Value table,
                                    Value ids,
                                    SmallVectorImpl<Type> &inferred) {
  RankedTensorType tableType = rankedOrError(loc, table, "table");
  RankedTensorType idsType = rankedOrError(loc, ids, "ids");
  if (!tableType || !idsType)
    return failure();
  if (tableType.getRank() != 2)
    return emitOptionalError(loc, "table must be rank 2, got rank ",
                             tableType.getRank());
  if (idsType.getRank() != 2)
    return emitOptionalError(loc,
                             "ids must be rank 2 (batch, sequence), got rank ",
                             idsType.getRank());
  inferred.push_back(RankedTensorType::get(
      {idsType.getDimSize(0), idsType.getDimSize(1), tableType.getDimSize(1)},
      tableType.getElementType()));
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  return inferEmbedding(loc, adaptor.getTable(), adaptor.getIds(), inferred);
}

LogicalResult PositionEmbeddingOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  return inferEmbedding(loc, adaptor.getTable(), adaptor.getIds(), inferred);
}

LogicalResult PositionEmbeddingOp::verify() {
  // Ranks are checked (with their own messages) by type inference.
  if (getTable().getType().getRank() != 2 || getIds().getType().getRank() != 2)
    return success();
  int64_t context = getTable().getType().getDimSize(0);
  int64_t seq = getIds().getType().getDimSize(1);
  if (!ShapedType::isDynamic(context) && !ShapedType::isDynamic(seq) &&
      seq > context)
    return emitOpError("sequence length ")
           << seq << " exceeds the context " << context
           << " of the position table";
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 3)
    return emitOpError("input must have rank 3 (batch, sequence, channels), "
                       "got rank ")
           << type.getRank();
  int64_t channels = type.getDimSize(2);
  if (ShapedType::isDynamic(channels))
    return emitOpError("the channel dimension of the input must be static");
  int64_t headDim = getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError("head_dim must be even and greater than zero, got ")
           << headDim;
  if (channels % headDim != 0)
    return emitOpError("head_dim ")
           << headDim << " does not divide the " << channels << " channels";
  double theta = getTheta().convertToDouble();
  if (!(theta > 0.0) || !std::isfinite(theta))
    return emitOpError("theta must be finite and greater than zero, got ")
           << theta;
  return success();
}

//===----------------------------------------------------------------------===//
// LayerNormOp, RMSNormOp, BiasAddOp
//===----------------------------------------------------------------------===//

/// A norm's result: the input's type, or its shape in bfloat16 for a
/// float32 input (lmc-bf16-storage).
static LogicalResult verifyNormResult(Operation *op, RankedTensorType input,
                                      RankedTensorType result) {
  if (result == input ||
      (input.getElementType().isF32() && result.getElementType().isBF16() &&
       result.getShape() == input.getShape()))
    return success();
  return op->emitOpError("result must have the input's type ")
         << input << " (or its shape with bf16 elements), got " << result;
}

LogicalResult LayerNormOp::verify() {
  if (failed(verifyChannelVector(*this, getInput().getType(),
                                 getWeight().getType(), "weight")) ||
      failed(verifyNormResult(*this, getInput().getType(), getType())))
    return failure();
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be greater than zero, got ")
           << getEps().convertToDouble();
  return success();
}

LogicalResult RMSNormOp::verify() {
  if (failed(verifyChannelVector(*this, getInput().getType(),
                                 getWeight().getType(), "weight")) ||
      failed(verifyNormResult(*this, getInput().getType(), getType())))
    return failure();
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be greater than zero, got ")
           << getEps().convertToDouble();
  return success();
}

LogicalResult BiasAddOp::verify() {
  return verifyChannelVector(*this, getInput().getType(), getBias().getType(),
                             "bias");
}

//===----------------------------------------------------------------------===//
// MatmulOp
//===----------------------------------------------------------------------===//

/// The result type of lmc.matmul on `lhs` and `rhs` (transposed with `ta`,
/// `tb`), or failure, explained at `loc` when it is given.
static FailureOr<RankedTensorType> inferMatmulType(std::optional<Location> loc,
                                                   RankedTensorType lhs,
                                                   RankedTensorType rhs,
                                                   bool ta, bool tb) {
  if (!lhs || !rhs)
    return failure();
  int64_t rank = lhs.getRank();
  if (rank < 2)
    return emitOptionalError(loc, "lhs must have rank at least 2, got rank ",
                             rank);
  if (rhs.getRank() != 2 && rhs.getRank() != rank)
    return emitOptionalError(loc, "rhs must have rank 2 or the rank of lhs (",
                             rank, "), got rank ", rhs.getRank());
  if (lhs.getElementType() != rhs.getElementType())
    return emitOptionalError(loc,
                             "element types differ: ", lhs.getElementType(),
                             " and ", rhs.getElementType());
  // bfloat16 operands (lmc-bf16-storage): products summed in float32.
  Type resultElement = lhs.getElementType().isBF16()
                           ? Type(Float32Type::get(lhs.getContext()))
                           : lhs.getElementType();
  int64_t r = rhs.getRank();
  int64_t m = lhs.getDimSize(rank - (ta ? 1 : 2));
  int64_t kl = lhs.getDimSize(rank - (ta ? 2 : 1));
  int64_t kr = rhs.getDimSize(r - (tb ? 1 : 2));
  int64_t n = rhs.getDimSize(r - (tb ? 2 : 1));
  if (!dimsCompatible(kl, kr))
    return emitOptionalError(loc, "contraction dimensions differ: lhs has ",
                             dimStr(kl), ", rhs has ", dimStr(kr));
  SmallVector<int64_t> shape(lhs.getShape().drop_back(2));
  if (r == rank) {
    for (int64_t i = 0; i < rank - 2; ++i) {
      if (!dimsCompatible(lhs.getDimSize(i), rhs.getDimSize(i)))
        return emitOptionalError(loc, "batch dimension ", i, " differs: lhs ",
                                 "has ", dimStr(lhs.getDimSize(i)),
                                 ", rhs has ", dimStr(rhs.getDimSize(i)));
      if (ShapedType::isDynamic(shape[i]))
        shape[i] = rhs.getDimSize(i);
    }
  }
  shape.push_back(m);
  shape.push_back(n);
  return RankedTensorType::get(shape, resultElement);
}

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  RankedTensorType lhs = rankedOrError(loc, adaptor.getLhs(), "lhs");
  RankedTensorType rhs = rankedOrError(loc, adaptor.getRhs(), "rhs");
  FailureOr<RankedTensorType> type = inferMatmulType(
      loc, lhs, rhs, adaptor.getTransposeA(), adaptor.getTransposeB());
  if (failed(type))
    return failure();
  inferred.push_back(*type);
  return success();
}

/// The inferred type, or with bfloat16 operands its bfloat16 form
/// (lmc-bf16-storage stores the result so); MatmulOp::verify checks the
/// operands.
bool MatmulOp::isCompatibleReturnTypes(TypeRange inferred, TypeRange actual) {
  if (inferred == actual)
    return true;
  if (inferred.size() != 1 || actual.size() != 1)
    return false;
  auto want = dyn_cast<RankedTensorType>(inferred.front());
  auto got = dyn_cast<RankedTensorType>(actual.front());
  return want && got && want.getElementType().isF32() &&
         got.getElementType().isBF16() && want.getShape() == got.getShape();
}

LogicalResult MatmulOp::verify() {
  if (getType().getElementType().isBF16() &&
      !getLhs().getType().getElementType().isBF16())
    return emitOpError("writes a bfloat16 result from ")
           << getLhs().getType().getElementType()
           << " operands: only bfloat16 operands' float32 sums are stored as "
              "bfloat16";
  return success();
}

/// lmc.matmul's assembly: `%lhs, %rhs (transpose_a)? (transpose_b)?
/// attr-dict : lhs-type, rhs-type (-> result-type)?`. The result type is
/// printed only when it is not the inferred one (a bfloat16 result of
/// bfloat16 operands, lmc-bf16-storage); without it the type is inferred
/// (operands that infer none are an error).
ParseResult MatmulOp::parse(OpAsmParser &parser, OperationState &result) {
  OpAsmParser::UnresolvedOperand lhs, rhs;
  Type lhsType, rhsType, resultType;
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseOperand(lhs) || parser.parseComma() ||
      parser.parseOperand(rhs))
    return failure();
  Properties &props = result.getOrAddProperties<Properties>();
  if (succeeded(parser.parseOptionalKeyword("transpose_a")))
    props.transpose_a = parser.getBuilder().getUnitAttr();
  if (succeeded(parser.parseOptionalKeyword("transpose_b")))
    props.transpose_b = parser.getBuilder().getUnitAttr();
  if (parser.parseOptionalAttrDict(result.attributes) || parser.parseColon() ||
      parser.parseType(lhsType) || parser.parseComma() ||
      parser.parseType(rhsType))
    return failure();
  if (succeeded(parser.parseOptionalArrow())) {
    if (parser.parseType(resultType))
      return failure();
  } else {
    auto lhsTensor = dyn_cast<RankedTensorType>(lhsType);
    auto rhsTensor = dyn_cast<RankedTensorType>(rhsType);
    if (!lhsTensor || !rhsTensor)
      return parser.emitError(loc, "expected ranked tensor operands");
    FailureOr<RankedTensorType> inferred =
        inferMatmulType(result.location, lhsTensor, rhsTensor,
                        bool(props.transpose_a), bool(props.transpose_b));
    if (failed(inferred))
      return failure();
    resultType = *inferred;
  }
  result.addTypes(resultType);
  return parser.resolveOperands({lhs, rhs}, {lhsType, rhsType}, loc,
                                result.operands);
}

void MatmulOp::print(OpAsmPrinter &p) {
  p << ' ' << getLhs() << ", " << getRhs();
  if (getTransposeA())
    p << " transpose_a";
  if (getTransposeB())
    p << " transpose_b";
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {getTransposeAAttrName(), getTransposeBAttrName()});
  p << " : " << getLhs().getType() << ", " << getRhs().getType();
  FailureOr<RankedTensorType> inferred =
      inferMatmulType(std::nullopt, getLhs().getType(), getRhs().getType(),
                      getTransposeA(), getTransposeB());
  if (failed(inferred) || Type(*inferred) != getType())
    p << " -> " << getType();
}

bool MatmulOp::canReadBF16(unsigned i) { return i < 2; }
bool MatmulOp::canWriteBF16(unsigned) { return true; }
bool MatmulOp::computesInBF16() { return true; }
bool MatmulOp::writesBF16Together() { return false; }
bool MatmulOp::isBF16PassThrough() { return false; }
void MatmulOp::adaptToBF16Storage() {}

//===----------------------------------------------------------------------===//
// SplitOp
//===----------------------------------------------------------------------===//

LogicalResult SplitOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedOrError(loc, adaptor.getInput(), "input");
  if (!input)
    return failure();
  int64_t parts = adaptor.getParts();
  if (input.getRank() < 1)
    return emitOptionalError(loc, "input must have rank at least 1");
  int64_t last = input.getDimSize(input.getRank() - 1);
  if (ShapedType::isDynamic(last))
    return emitOptionalError(loc, "last dimension of the input must be static");
  if (parts < 1 || last % parts != 0)
    return emitOptionalError(loc, "cannot split a last dimension of ", last,
                             " into ", parts, " equal parts");
  SmallVector<int64_t> shape(input.getShape());
  shape.back() = last / parts;
  inferred.assign(parts, RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult SplitOp::verify() {
  if (static_cast<int64_t>(getNumResults()) != getParts())
    return emitOpError("has ") << getNumResults() << " results but splits into "
                               << getParts() << " parts";
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// Why `type` is not [B, T, C] with a static C that `heads` divides, if so.
static std::optional<std::string> headsError(RankedTensorType type,
                                             int64_t heads) {
  if (type.getRank() != 3) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << "expected a rank-3 (batch, sequence, channels) tensor, got '" << type
       << "'";
    return s;
  }
  int64_t channels = type.getDimSize(2);
  if (ShapedType::isDynamic(channels))
    return std::string("the channel dimension must be static");
  if (heads < 1 || channels % heads != 0)
    return "heads (" + std::to_string(heads) +
           ") must be at least 1 and divide the channels (" +
           std::to_string(channels) + ")";
  return std::nullopt;
}

LogicalResult CausalAttentionOp::verify() {
  if (std::optional<std::string> error =
          headsError(getQuery().getType(), getHeads()))
    return emitOpError(*error);
  return verifyKvHeads(*this, getQuery().getType(), getKey().getType(),
                       getHeads(), getKvHeads());
}

/// `lmc.adamw`'s `(, grad-scale-type)?` after its step type: printed only
/// when the scale is not a scalar of the learning rate's type (a 0-d tensor).
static ParseResult parseGradScaleType(OpAsmParser &parser, Type &gradScale,
                                      Type lr) {
  gradScale = lr;
  if (succeeded(parser.parseOptionalComma()))
    return parser.parseType(gradScale);
  return success();
}

static void printGradScaleType(OpAsmPrinter &p, Operation *, Type gradScale,
                               Type lr) {
  if (gradScale != lr)
    p << ", " << gradScale;
}

/// `(-> result-type)?` after an op's operand types: printed only when the
/// result is not of the type `like` (lmc.cross_entropy_grad's gradient
/// stored as bfloat16).
static ParseResult parseStoredType(OpAsmParser &parser, Type &result,
                                   Type like) {
  result = like;
  if (succeeded(parser.parseOptionalArrow()))
    return parser.parseType(result);
  return success();
}

static void printStoredType(OpAsmPrinter &p, Operation *, Type result,
                            Type like) {
  if (result != like)
    p << "-> " << result;
}

/// `: query-type (, key-type)?`: the key/value type is printed only when it
/// differs from the query's.
static ParseResult parseAttentionTypes(OpAsmParser &parser, Type &query,
                                       Type &key) {
  if (parser.parseType(query))
    return failure();
  key = query;
  if (succeeded(parser.parseOptionalComma()))
    return parser.parseType(key);
  return success();
}

static void printAttentionTypes(OpAsmPrinter &p, Operation *, Type query,
                                Type key) {
  p << query;
  if (key != query)
    p << ", " << key;
}

/// flash_attention's `-> (result-type ,)? lse-type`: the result type only
/// when it is not the query's (bfloat16 queries, a float32 result).
static ParseResult parseAttentionResultTypes(OpAsmParser &parser, Type &result,
                                             Type &lse, Type query) {
  Type first;
  if (parser.parseType(first))
    return failure();
  if (succeeded(parser.parseOptionalComma())) {
    result = first;
    return parser.parseType(lse);
  }
  result = query;
  lse = first;
  return success();
}

static void printAttentionResultTypes(OpAsmPrinter &p, Operation *, Type result,
                                      Type lse, Type query) {
  if (result != query)
    p << result << ", ";
  p << lse;
}

/// `: query-type (, key-type)? , lse-type (-> query-grad-type)?`: the
/// gradients' type only when it is not the query's (bfloat16 operands,
/// float32 gradients); the key and value gradients have the key's shape
/// and the query gradient's element type.
static ParseResult parseAttentionGradTypes(OpAsmParser &parser, Type &query,
                                           Type &key, Type &lse,
                                           Type &queryGrad, Type &keyGrad) {
  Type second;
  if (parser.parseType(query) || parser.parseComma() ||
      parser.parseType(second))
    return failure();
  key = query;
  lse = second;
  if (succeeded(parser.parseOptionalComma())) {
    key = second;
    if (parser.parseType(lse))
      return failure();
  }
  queryGrad = query;
  keyGrad = key;
  if (failed(parser.parseOptionalArrow()))
    return success();
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseType(queryGrad))
    return failure();
  auto grad = dyn_cast<RankedTensorType>(queryGrad);
  auto keyType = dyn_cast<RankedTensorType>(key);
  if (!grad || !keyType)
    return parser.emitError(loc, "expected ranked tensor types");
  keyGrad = keyType.clone(grad.getElementType());
  return success();
}

static void printAttentionGradTypes(OpAsmPrinter &p, Operation *op, Type query,
                                    Type key, Type lse, Type queryGrad, Type) {
  printAttentionTypes(p, op, query, key);
  p << ", " << lse;
  if (queryGrad != query)
    p << " -> " << queryGrad;
}

/// Checks `lse` against queries `[B, T, C]` split into `heads` heads: a
/// `[B, heads, T]` tensor (float32 by its type constraint).
static LogicalResult verifyLse(Operation *op, RankedTensorType query,
                               RankedTensorType lse, int64_t heads) {
  using mlir::lmc::detail::dimsCompatible;
  if (lse.getRank() != 3)
    return op->emitOpError("lse must have rank 3 ([B, heads, T]), got rank ")
           << lse.getRank();
  if (!dimsCompatible(lse.getDimSize(0), query.getDimSize(0)) ||
      lse.getDimSize(1) != heads ||
      !dimsCompatible(lse.getDimSize(2), query.getDimSize(1)))
    return op->emitOpError("lse must be [B, heads, T] = [")
           << mlir::lmc::detail::dimStr(query.getDimSize(0)) << ", " << heads
           << ", " << mlir::lmc::detail::dimStr(query.getDimSize(1))
           << "], got " << lse;
  return success();
}

void FlashAttentionOp::build(OpBuilder &builder, OperationState &state,
                             Value query, Value key, Value value, int64_t heads,
                             int64_t kvHeads) {
  auto type = cast<RankedTensorType>(query.getType());
  auto lse = RankedTensorType::get(
      {type.getDimSize(0), heads, type.getDimSize(1)}, builder.getF32Type());
  IntegerAttr kv = kvHeads > 0 && kvHeads != heads
                       ? builder.getI64IntegerAttr(kvHeads)
                       : IntegerAttr();
  build(builder, state, type, lse, query, key, value,
        builder.getI64IntegerAttr(heads), kv);
}

LogicalResult FlashAttentionOp::verify() {
  if (std::optional<std::string> error =
          headsError(getQuery().getType(), getHeads()))
    return emitOpError(*error);
  if (failed(verifyKvHeads(*this, getQuery().getType(), getKey().getType(),
                           getHeads(), getKvHeads())))
    return failure();
  if (getResult().getType().getShape() != getQuery().getType().getShape())
    return emitOpError("the result must have the query's shape, got ")
           << getResult().getType() << " for " << getQuery().getType();
  if (failed(verifyAttentionElementTypes(*this, getOperands(), getResult())))
    return failure();
  return verifyLse(*this, getQuery().getType(), getLse().getType(), getHeads());
}

void FlashAttentionGradOp::build(OpBuilder &builder, OperationState &state,
                                 Value query, Value key, Value value,
                                 Value output, Value lse, Value outputGrad,
                                 IntegerAttr heads, IntegerAttr kvHeads) {
  build(builder, state, query.getType(), key.getType(), key.getType(), query,
        key, value, output, lse, outputGrad, heads, kvHeads);
}

LogicalResult FlashAttentionGradOp::verify() {
  if (std::optional<std::string> error =
          headsError(getQuery().getType(), getHeads()))
    return emitOpError(*error);
  if (failed(verifyKvHeads(*this, getQuery().getType(), getKey().getType(),
                           getHeads(), getKvHeads())))
    return failure();
  if (getQueryGrad().getType().getShape() != getQuery().getType().getShape() ||
      getKeyGrad().getType().getShape() != getKey().getType().getShape())
    return emitOpError("the gradients must have the shapes of the query and "
                       "the key, got ")
           << getQueryGrad().getType() << " and " << getKeyGrad().getType();
  if (failed(verifyAttentionElementTypes(
          *this,
          {getQuery(), getKey(), getValue(), getOutput(), getOutputGrad()},
          getResults())))
    return failure();
  return verifyLse(*this, getQuery().getType(), getLse().getType(),
                   getHeads());
}

// Under bfloat16 storage attention reads its activations as bfloat16 and
// rounds the products to it on the GPU's tensor cores anyway: it computes in
// bfloat16 like a GEMM, so lmc-bf16-storage converts an operand still
// float32 rather than keep the kernel's reads float32; its results are
// stored as bfloat16 where the readers allow (the gradients all or none),
// lse never.
bool FlashAttentionOp::canReadBF16(unsigned) { return true; }
bool FlashAttentionOp::canWriteBF16(unsigned i) { return i == 0; }
bool FlashAttentionOp::computesInBF16() { return true; }
bool FlashAttentionOp::writesBF16Together() { return false; }
bool FlashAttentionOp::isBF16PassThrough() { return false; }
void FlashAttentionOp::adaptToBF16Storage() {}

bool FlashAttentionGradOp::canReadBF16(unsigned i) {
  return i != getLseMutable().getOperandNumber();
}
bool FlashAttentionGradOp::canWriteBF16(unsigned) { return true; }
bool FlashAttentionGradOp::computesInBF16() { return true; }
bool FlashAttentionGradOp::writesBF16Together() { return true; }
bool FlashAttentionGradOp::isBF16PassThrough() { return false; }
void FlashAttentionGradOp::adaptToBF16Storage() {}

//===----------------------------------------------------------------------===//
// RepeatHeadsOp, RepeatHeadsGradOp
//===----------------------------------------------------------------------===//

/// The [B, H, T, D] input of a head repetition, or null with an error.
static RankedTensorType headsInput(std::optional<Location> loc, Value input) {
  RankedTensorType type = rankedOrError(loc, input, "input");
  if (!type)
    return {};
  if (type.getRank() != 4 || ShapedType::isDynamic(type.getDimSize(1))) {
    (void)emitOptionalError(loc,
                            "expected a rank-4 (batch, heads, sequence, head "
                            "channels) tensor with static heads, got ",
                            type);
    return {};
  }
  return type;
}

LogicalResult RepeatHeadsOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = headsInput(loc, adaptor.getInput());
  if (!input)
    return failure();
  int64_t times = adaptor.getTimes();
  if (times < 1)
    return emitOptionalError(loc, "times (", times, ") must be at least 1");
  SmallVector<int64_t> shape(input.getShape());
  shape[1] *= times;
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

OpFoldResult RepeatHeadsOp::fold(FoldAdaptor) {
  if (getTimes() == 1)
    return getInput();
  return {};
}

LogicalResult
RepeatHeadsGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                    Adaptor adaptor,
                                    SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = headsInput(loc, adaptor.getInput());
  if (!input)
    return failure();
  int64_t times = adaptor.getTimes(), heads = input.getDimSize(1);
  if (times < 1 || heads % times != 0)
    return emitOptionalError(loc, "times (", times,
                             ") must be at least 1 and divide the heads (",
                             heads, ")");
  SmallVector<int64_t> shape(input.getShape());
  shape[1] /= times;
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

OpFoldResult RepeatHeadsGradOp::fold(FoldAdaptor) {
  if (getTimes() == 1)
    return getInput();
  return {};
}

LogicalResult SplitHeadsOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedOrError(loc, adaptor.getInput(), "input");
  if (!input)
    return failure();
  int64_t heads = adaptor.getHeads();
  if (std::optional<std::string> error = headsError(input, heads))
    return emitOptionalError(loc, *error);
  inferred.push_back(
      RankedTensorType::get({input.getDimSize(0), heads, input.getDimSize(1),
                             input.getDimSize(2) / heads},
                            input.getElementType()));
  return success();
}

OpFoldResult SplitHeadsOp::fold(FoldAdaptor) {
  // split_heads(merge_heads(x)) == x when the head count round-trips.
  if (auto merge = getInput().getDefiningOp<MergeHeadsOp>())
    if (merge.getInput().getType() == getType())
      return merge.getInput();
  return {};
}

LogicalResult MergeHeadsOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedOrError(loc, adaptor.getInput(), "input");
  if (!input)
    return failure();
  if (input.getRank() != 4)
    return emitOptionalError(loc,
                             "expected a rank-4 (batch, heads, sequence, "
                             "head channels) tensor, got ",
                             input);
  int64_t heads = input.getDimSize(1), headDim = input.getDimSize(3);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(headDim))
    return emitOptionalError(loc,
                             "head and head-channel dimensions must be "
                             "static, got ",
                             input);
  inferred.push_back(RankedTensorType::get(
      {input.getDimSize(0), input.getDimSize(2), heads * headDim},
      input.getElementType()));
  return success();
}

OpFoldResult MergeHeadsOp::fold(FoldAdaptor) {
  // merge_heads(split_heads(x)) == x.
  if (auto split = getInput().getDefiningOp<SplitHeadsOp>())
    if (split.getInput().getType() == getType())
      return split.getInput();
  return {};
}

LogicalResult ScaleOp::verify() {
  if (!std::isfinite(getFactor().convertToDouble()))
    return emitOpError("factor must be finite");
  return success();
}

OpFoldResult ScaleOp::fold(FoldAdaptor) {
  if (getFactor().convertToDouble() == 1.0)
    return getInput();
  return {};
}

namespace {
/// scale(scale(x, a), b) -> scale(x, a * b).
struct CombineScales : OpRewritePattern<ScaleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ScaleOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<ScaleOp>();
    if (!inner)
      return failure();
    double factor =
        inner.getFactor().convertToDouble() * op.getFactor().convertToDouble();
    if (!std::isfinite(factor))
      return failure();
    rewriter.replaceOpWithNewOp<ScaleOp>(op, inner.getInput(),
                                         rewriter.getF64FloatAttr(factor));
    return success();
  }
};
} // namespace

void ScaleOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                          MLIRContext *context) {
  results.add<CombineScales>(context);
}

LogicalResult CausalMaskOp::verify() {
  RankedTensorType type = getInput().getType();
  int64_t rank = type.getRank();
  if (rank < 2)
    return emitOpError("input must have rank at least 2, got rank ") << rank;
  if (!dimsCompatible(type.getDimSize(rank - 2), type.getDimSize(rank - 1)))
    return emitOpError("query and key positions differ: ")
           << type.getDimSize(rank - 2) << " vs " << type.getDimSize(rank - 1);
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (getInput().getType().getRank() < 1)
    return emitOpError("input must have rank at least 1");
  return success();
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

LogicalResult
CrossEntropyOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                 Adaptor adaptor,
                                 SmallVectorImpl<Type> &inferred) {
  RankedTensorType logits = rankedOrError(loc, adaptor.getLogits(), "logits");
  RankedTensorType targets =
      rankedOrError(loc, adaptor.getTargets(), "targets");
  if (!logits || !targets)
    return failure();
  if (failed(verifyLogitsAndTargets(loc, logits, targets)))
    return failure();
  inferred.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

LogicalResult CrossEntropyOp::verify() {
  return verifyClasses(*this, getClasses(), getLogits().getType());
}

#define GET_OP_CLASSES
#include "lmc/Dialect/LMC/IR/LMCOps.cpp.inc"
