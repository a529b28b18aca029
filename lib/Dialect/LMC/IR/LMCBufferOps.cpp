//===- LMCBufferOps.cpp - Runtime kernels on buffers ----------------------===//
//
// Verifiers of the ops in LMCBufferOps.td. The rules checked here are the
// **Constraints** of their descriptions.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

using namespace mlir;
using namespace mlir::lmc;
using mlir::lmc::detail::dimsCompatible;
using mlir::lmc::detail::dimStr;
using mlir::lmc::detail::verifyAttentionElementTypes;
using mlir::lmc::detail::verifyKvHeads;

/// Checks the operands of an attention kernel on buffers: `tensors`
/// ([B, T, C], one shape) split into `heads` heads, `kvTensors` ([B, T, Ckv],
/// one shape) into `kvHeads` heads of the same size, and `lse`
/// [B, heads, T].
static LogicalResult verifyAttentionBuffers(Operation *op, ValueRange tensors,
                                            ValueRange kvTensors, Value lse,
                                            int64_t heads,
                                            std::optional<uint64_t> kvHeads) {
  auto query = cast<MemRefType>(tensors.front().getType());
  auto key = cast<MemRefType>(kvTensors.front().getType());
  // Batch and sequence of the query everywhere; channels of the query or,
  // for keys and values and their gradients, of the key.
  for (auto [group, first] :
       {std::make_pair(tensors, query), std::make_pair(kvTensors, key)})
    for (Value v : group) {
      auto type = cast<MemRefType>(v.getType());
      if (!dimsCompatible(type.getDimSize(0), query.getDimSize(0)) ||
          !dimsCompatible(type.getDimSize(1), query.getDimSize(1)) ||
          (first == query &&
           !dimsCompatible(type.getDimSize(2), query.getDimSize(2))))
        return op->emitOpError("operands and outputs must have the query's "
                               "shape, got ")
               << type << " for " << query;
      if (!dimsCompatible(type.getDimSize(2), first.getDimSize(2)))
        return op->emitOpError("keys, values and their gradients must have "
                               "one shape, got ")
               << type << " for " << first;
    }
  int64_t channels = query.getDimSize(2);
  if (ShapedType::isDynamic(channels))
    return op->emitOpError("the channel dimension must be static");
  if (heads < 1 || channels % heads != 0)
    return op->emitOpError("heads (")
           << heads << ") must be at least 1 and divide the channels ("
           << channels << ")";
  if (failed(verifyKvHeads(op, query, key, heads, kvHeads)))
    return failure();
  auto lseType = cast<MemRefType>(lse.getType());
  if (!dimsCompatible(lseType.getDimSize(0), query.getDimSize(0)) ||
      lseType.getDimSize(1) != heads ||
      !dimsCompatible(lseType.getDimSize(2), query.getDimSize(1)))
    return op->emitOpError("lse must be [B, heads, T] = [")
           << dimStr(query.getDimSize(0)) << ", " << heads << ", "
           << dimStr(query.getDimSize(1)) << "], got " << lseType;
  return success();
}

LogicalResult BufferAttentionOp::verify() {
  if (failed(verifyAttentionBuffers(*this, {getQuery(), getResult()},
                                    {getKey(), getValue()}, getLse(),
                                    getHeads(), getKvHeads())))
    return failure();
  return verifyAttentionElementTypes(*this, {getQuery(), getKey(), getValue()},
                                     getResult());
}

LogicalResult BufferAttentionGradOp::verify() {
  if (failed(verifyAttentionBuffers(
          *this, {getQuery(), getOutput(), getOutputGrad(), getQueryGrad()},
          {getKey(), getValue(), getKeyGrad(), getValueGrad()}, getLse(),
          getHeads(), getKvHeads())))
    return failure();
  return verifyAttentionElementTypes(
      *this, {getQuery(), getKey(), getValue(), getOutput(), getOutputGrad()},
      {getQueryGrad(), getKeyGrad(), getValueGrad()});
}

bool mlir::lmc::isRuntimeRowReduction(Operation *op) {
  auto rankedF32 = [](Value v, int64_t minRank) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    return type && type.getElementType().isF32() &&
           type.getRank() >= minRank && type.getRank() <= 4;
  };
  if (isa<LayerNormOp, LayerNormGradOp, RMSNormOp, RMSNormGradOp, SoftmaxOp,
          SoftmaxGradOp>(op))
    return rankedF32(op->getOperand(0), 1);
  if (isa<CrossEntropyOp, CrossEntropyGradOp>(op)) {
    auto targets = dyn_cast<RankedTensorType>(op->getOperand(1).getType());
    return rankedF32(op->getOperand(0), 2) && targets &&
           targets.getElementType().isSignlessInteger(32);
  }
  return false;
}

LogicalResult BufferRowReductionOp::verify() {
  // Inputs and outputs of each kernel.
  enum Family { Norm, CrossEntropy, Softmax };
  // `bf16Output`: the output may be stored as bfloat16 (lmc-bf16-storage,
  // the runtime's _bf16 kernel).
  static const struct {
    StringLiteral name;
    unsigned inputs, outputs;
    Family family;
    bool bf16Output;
  } kinds[] = {{"layer_norm", 3, 1, Norm, true},
               {"layer_norm_grad", 3, 3, Norm, false},
               {"rms_norm", 2, 1, Norm, true},
               {"rms_norm_grad", 3, 2, Norm, false},
               {"cross_entropy", 2, 1, CrossEntropy, false},
               {"cross_entropy_grad", 3, 1, CrossEntropy, true},
               {"softmax", 1, 1, Softmax, false},
               {"softmax_grad", 2, 1, Softmax, false}};
  const auto *kind = llvm::find_if(
      kinds, [&](const auto &k) { return k.name == getKernel(); });
  if (kind == std::end(kinds))
    return emitOpError("has an unknown kernel '") << getKernel() << "'";
  if (getInputs().size() != kind->inputs ||
      getOutputs().size() != kind->outputs)
    return emitOpError("kernel '")
           << getKernel() << "' takes " << kind->inputs << " inputs and "
           << kind->outputs << " outputs, got " << getInputs().size()
           << " and " << getOutputs().size();
  for (auto [i, v] : llvm::enumerate(getInputs())) {
    Type et = cast<MemRefType>(v.getType()).getElementType();
    bool targets = kind->family == CrossEntropy && i == 1;
    if (targets ? !et.isSignlessInteger(32) : !et.isF32())
      return emitOpError("input ")
             << i << " must be " << (targets ? "int32" : "float32") << ", got "
             << v.getType();
  }
  const bool bf16Output = kind->bf16Output;
  for (Value v : getOutputs()) {
    Type et = cast<MemRefType>(v.getType()).getElementType();
    if (!et.isF32() && !(bf16Output && et.isBF16()))
      return emitOpError("outputs must be float32")
             << (bf16Output ? " or bfloat16" : "") << ", got " << v.getType();
  }
  if (kind->family == Norm) {
    if (!getEps() || getEps()->convertToDouble() <= 0.0)
      return emitOpError("a norm needs eps greater than zero");
    if (getClasses())
      return emitOpError("a norm takes no classes");
    return success();
  }
  if (kind->family == Softmax) {
    if (getEps() || getClasses())
      return emitOpError("a softmax takes no eps and no classes");
    return success();
  }
  if (getEps())
    return emitOpError("the cross-entropy takes no eps");
  auto logits = cast<MemRefType>(getInputs()[0].getType());
  int64_t vocab = logits.getRank() ? logits.getDimSize(logits.getRank() - 1)
                                   : ShapedType::kDynamic;
  if (std::optional<uint64_t> classes = getClasses())
    if (*classes < 1 || ShapedType::isDynamic(vocab) ||
        static_cast<int64_t>(*classes) > vocab)
      return emitOpError("classes (")
             << *classes << ") must be in [1, V] for logits " << logits;
  return success();
}

LogicalResult BufferHeadLossOp::verify() {
  return mlir::lmc::detail::verifyHeadLoss(
      *this, getInput().getType(), getWeight().getType(),
      getTargets().getType(), getInputGrad().getType(),
      getWeightGrad().getType(), getTransposeB(), getClasses(), getRows());
}
