//===- LMCFusionOps.cpp - Fusion groups -----------------------------------===//
//
// Assembly and verifiers of lmc.fused and lmc.yield (LMCFusionOps.td).
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::lmc;

//===----------------------------------------------------------------------===//
// FusedOp
//===----------------------------------------------------------------------===//

YieldOp FusedOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

Value FusedOp::lookThrough(Value v) {
  while (auto arg = dyn_cast<BlockArgument>(v)) {
    auto fused = dyn_cast_or_null<FusedOp>(arg.getOwner()->getParentOp());
    if (!fused)
      break;
    v = fused.getInputFor(arg);
  }
  return v;
}

// lmc.fused "kind" (%a = %x, %b = %y) attributes {...} : (T, U) -> (R) {
//   ...
// }
ParseResult FusedOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr kind;
  if (parser.parseAttribute(kind, parser.getBuilder().getNoneType(),
                            getKindAttrName(result.name), result.attributes))
    return failure();
  SmallVector<OpAsmParser::Argument> args;
  SmallVector<OpAsmParser::UnresolvedOperand> operands;
  if (parser.parseCommaSeparatedList(
          OpAsmParser::Delimiter::Paren, [&]() -> ParseResult {
            if (parser.parseArgument(args.emplace_back()) ||
                parser.parseEqual() ||
                parser.parseOperand(operands.emplace_back()))
              return failure();
            return success();
          }))
    return failure();
  FunctionType type;
  SMLoc typeLoc = parser.getCurrentLocation();
  if (parser.parseOptionalAttrDictWithKeyword(result.attributes) ||
      parser.parseColonType(type))
    return failure();
  if (type.getNumInputs() != operands.size())
    return parser.emitError(typeLoc, "expected ")
           << operands.size() << " operand types, got " << type.getNumInputs();
  for (auto [arg, t] : llvm::zip(args, type.getInputs()))
    arg.type = t;
  if (parser.resolveOperands(operands, type.getInputs(), typeLoc,
                             result.operands))
    return failure();
  result.addTypes(type.getResults());
  Region *body = result.addRegion();
  return parser.parseRegion(*body, args, /*enableNameShadowing=*/false);
}

void FusedOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printAttributeWithoutType(getKindAttr());
  p << " (";
  Block &block = getBody().front();
  llvm::interleaveComma(
      llvm::zip(block.getArguments(), getInputs()), p,
      [&](auto pair) { p << std::get<0>(pair) << " = " << std::get<1>(pair); });
  p << ')';
  p.printOptionalAttrDictWithKeyword((*this)->getAttrs(), {getKindAttrName()});
  p << " : ";
  p.printFunctionalType(getInputs().getTypes(), getResultTypes());
  p << ' ';
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false,
                /*printBlockTerminators=*/true);
}

LogicalResult FusedOp::verify() {
  StringRef kind = getKind();
  if (kind.empty() || !llvm::all_of(kind, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      }))
    return emitOpError("kind must be a non-empty string of lower-case "
                       "letters, digits and underscores, got \"")
           << kind << "\"";
  if (getNumResults() == 0)
    return emitOpError("must have at least one result");
  Block &block = getBody().front();
  if (block.getNumArguments() != getNumOperands())
    return emitOpError("body has ")
           << block.getNumArguments() << " arguments but the op has "
           << getNumOperands() << " operands";
  for (auto [i, arg, operand] :
       llvm::enumerate(block.getArguments(), getInputs()))
    if (arg.getType() != operand.getType())
      return emitOpError("body argument ")
             << i << " has type " << arg.getType() << " but operand " << i
             << " has type " << operand.getType();
  if (block.empty() || !isa<YieldOp>(block.back()))
    return emitOpError("body must end with lmc.yield");
  return success();
}

/// Why `op` may not be in the body of a fusion group, if so.
static std::optional<std::string> notAllowedInGroup(Operation *op) {
  if (op->getNumRegions() != 0)
    return std::string("has a region");
  if (isa<LMCDialect>(op->getDialect())) {
    if (isCollective(op))
      return std::string("is a collective");
    if (isa<FusedOp, ModelOp, ParamOp, ParamRefOp>(op))
      return std::string("is not a compute op");
    // A runtime call on the host; a group reads the coordinate as an operand.
    if (isa<AxisIndexOp>(op))
      return std::string("reads the rank's mesh coordinate (a runtime call)");
  } else if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) &&
             !isa<tensor::ExtractOp>(op)) {
    return std::string("is not an lmc compute op, an arith or math op, or "
                       "tensor.extract");
  }
  if (!isMemoryEffectFree(op))
    return std::string("has memory effects");
  return std::nullopt;
}

LogicalResult FusedOp::verifyRegions() {
  bool hasLMCOp = false;
  for (Operation &op : getBodyOps()) {
    if (std::optional<std::string> why = notAllowedInGroup(&op))
      return op.emitOpError("is not allowed in a fusion group: it ") << *why;
    hasLMCOp |= isa<LMCDialect>(op.getDialect());
  }
  if (!hasLMCOp)
    return emitOpError("body must hold at least one lmc op");
  return success();
}

//===----------------------------------------------------------------------===//
// YieldOp
//===----------------------------------------------------------------------===//

LogicalResult YieldOp::verify() {
  auto parent = cast<FusedOp>((*this)->getParentOp());
  if (getValues().getTypes() != parent.getResultTypes())
    return emitOpError("yields ")
           << getValues().getTypes() << " but the enclosing lmc.fused returns "
           << parent.getResultTypes();
  return success();
}

//===----------------------------------------------------------------------===//
// MatmulBiasOp
//===----------------------------------------------------------------------===//

LogicalResult MatmulBiasOp::verify() {
  RankedTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  RankedTensorType bias = getBias().getType(), result = getResult().getType();
  int64_t rank = lhs.getRank();
  if (rank < 2)
    return emitOpError("lhs must have rank at least 2, got rank ") << rank;
  if (rhs.getRank() != 2)
    return emitOpError("rhs must be one matrix (rank 2), got rank ")
           << rhs.getRank();
  Type et = lhs.getElementType();
  if (et.isBF16()) {
    // Operands stored as bfloat16 (lmc-bf16-storage): a float32 epilogue
    // whose vectors (bias, pre-activation) have the result's type.
    Type out = result.getElementType();
    if (rhs.getElementType() != et)
      return emitOpError("bfloat16 lhs needs a bfloat16 rhs, got ") << rhs;
    if (!out.isF32() && !out.isBF16())
      return emitOpError("with bfloat16 operands the result must be float32 "
                         "or bfloat16, got ")
             << result;
    if (bias.getElementType() != out)
      return emitOpError("with bfloat16 operands the bias must have the "
                         "result's element type ")
             << out << ", got " << bias;
    if (getPreActivation() &&
        cast<RankedTensorType>(getPreActivation().getType())
                .getElementType() != out)
      return emitOpError("with bfloat16 operands the pre-activation must "
                         "have the result's element type ")
             << out << ", got " << getPreActivation().getType();
    et = out;
  } else if (rhs.getElementType() != et || bias.getElementType() != et ||
             result.getElementType() != et) {
    return emitOpError("operands and result must have one element type");
  }
  bool tb = getTransposeB();
  int64_t k = lhs.getDimSize(rank - 1), rk = rhs.getDimSize(tb ? 1 : 0);
  int64_t n = rhs.getDimSize(tb ? 0 : 1);
  if (!ShapedType::isDynamic(k) && !ShapedType::isDynamic(rk) && k != rk)
    return emitOpError("contraction dimensions differ: ")
           << k << " (lhs) and " << rk << " (rhs)";
  if (ShapedType::isDynamic(n))
    return emitOpError("the N dimension of rhs must be static");
  if (bias.getRank() != 1 || bias.getDimSize(0) != n)
    return emitOpError("bias must be a vector of ")
           << n << " elements (N), got " << bias;
  SmallVector<int64_t> expected(lhs.getShape().drop_back());
  expected.push_back(n);
  if (result.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result must be ")
           << RankedTensorType::get(expected, et) << ", got " << result;
  std::optional<GeluApproximation> gelu = getGelu();
  if (gelu && *gelu != GeluApproximation::tanh)
    return emitOpError("has no epilogue for GELU '")
           << stringifyGeluApproximation(*gelu)
           << "': only the tanh approximation";
  if (gelu.has_value() != (getPreActivation() != nullptr))
    return emitOpError(gelu ? "with gelu must return the pre-activation"
                            : "returns a pre-activation only with gelu");
  if (getPreActivation() && !lhs.getElementType().isBF16() &&
      getPreActivation().getType() != result)
    return emitOpError("pre-activation must have the type of the result");
  if (getPreActivation() && lhs.getElementType().isBF16() &&
      cast<RankedTensorType>(getPreActivation().getType()).getShape() !=
          result.getShape())
    return emitOpError("pre-activation must have the shape of the result");
  return success();
}

//===----------------------------------------------------------------------===//
// bfloat16 storage
//===----------------------------------------------------------------------===//

LogicalResult ConvertOp::verify() {
  Type from = getInput().getType().getElementType();
  Type to = getResult().getType().getElementType();
  if (!((from.isF32() && to.isBF16()) || (from.isBF16() && to.isF32())))
    return emitOpError("converts f32 to bf16 or bf16 to f32, got ")
           << from << " to " << to;
  return success();
}

bool MatmulBiasOp::canReadBF16(unsigned i) {
  // The bias once the results are stored as bfloat16: the epilogue's
  // vectors have its output's type (as cuBLASLt's do).
  if (i == getBiasMutable().getOperandNumber())
    return getResult().getType().getElementType().isBF16();
  return i == getLhsMutable().getOperandNumber() ||
         i == getRhsMutable().getOperandNumber();
}
bool MatmulBiasOp::canWriteBF16(unsigned) { return true; }
bool MatmulBiasOp::writesBF16Together() { return true; }
bool MatmulBiasOp::isBF16PassThrough() { return false; }
bool MatmulBiasOp::computesInBF16() { return true; }
void MatmulBiasOp::adaptToBF16Storage() {}

bool FusedOp::canReadBF16(unsigned i) {
  auto type = dyn_cast<RankedTensorType>(getInputs()[i].getType());
  return type &&
         (type.getElementType().isF32() || type.getElementType().isBF16());
}
bool FusedOp::canWriteBF16(unsigned i) {
  auto type = dyn_cast<RankedTensorType>(getResult(i).getType());
  return type &&
         (type.getElementType().isF32() || type.getElementType().isBF16());
}
bool FusedOp::computesInBF16() { return false; }
bool FusedOp::writesBF16Together() { return false; }
bool FusedOp::isBF16PassThrough() { return false; }

void FusedOp::adaptToBF16Storage() {
  Block &body = getBody().front();
  OpBuilder b = OpBuilder::atBlockBegin(&body);
  // Operands stored as bfloat16: the body extends them after the load.
  for (BlockArgument arg : body.getArguments()) {
    Type stored = getInputFor(arg).getType();
    if (arg.getType() == stored)
      continue;
    Type computed = arg.getType();
    arg.setType(stored);
    auto extended = ConvertOp::create(b, getLoc(), computed, arg);
    arg.replaceAllUsesExcept(extended.getResult(), extended.getOperation());
  }
  // Results stored as bfloat16: the body rounds them before the store.
  YieldOp yield = getYield();
  b.setInsertionPoint(yield);
  for (OpOperand &operand : yield->getOpOperands()) {
    Type stored = getResult(operand.getOperandNumber()).getType();
    if (operand.get().getType() == stored)
      continue;
    operand.set(ConvertOp::create(b, getLoc(), stored, operand.get()));
  }
}
