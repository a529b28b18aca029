//===- VerifyUtils.h - Shared checks of the lmc op verifiers ----*- C++ -*-===//

#ifndef LMC_LIB_DIALECT_LMC_IR_VERIFYUTILS_H
#define LMC_LIB_DIALECT_LMC_IR_VERIFYUTILS_H

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"

#include <optional>
#include <string>

namespace mlir::lmc::detail {

/// Checks that `axes` names distinct axes of the mesh in scope of `op` and
/// returns that mesh (LMCCollectiveOps.cpp; the collectives and the
/// point-to-point ops).
FailureOr<MeshAttr> verifyAxes(Operation *op, ArrayAttr axes);

/// Checks that `axes` lists its axes in the order of `mesh` (the runtime
/// numbers the ranks of a group row-major over the mesh's axes, so a group
/// index means the same on both sides).
LogicalResult verifyAxesInMeshOrder(Operation *op, ArrayAttr axes,
                                    MeshAttr mesh);

/// True when two dimension sizes may be equal at run time.
inline bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

inline std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// The ranked tensor type of `v`, or null with an error at `loc`.
inline RankedTensorType rankedOrError(std::optional<Location> loc, Value v,
                                      StringRef what) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type)
    (void)emitOptionalError(loc, what, " must be a ranked tensor, got ",
                            v.getType());
  return type;
}

/// Checks a per-channel vector against the last dimension of `input`.
inline LogicalResult verifyChannelVector(Operation *op, RankedTensorType input,
                                         RankedTensorType vec, StringRef what) {
  if (input.getRank() < 1)
    return op->emitOpError("input must have rank at least 1");
  int64_t channels = input.getDimSize(input.getRank() - 1);
  if (ShapedType::isDynamic(channels))
    return op->emitOpError("last dimension of the input must be static");
  if (vec.getRank() != 1 || vec.getDimSize(0) != channels)
    return op->emitOpError()
           << what << " must be a vector of " << channels
           << " elements (the last dimension of the input), got " << vec;
  if (vec.getElementType() != input.getElementType())
    return op->emitOpError()
           << what << " element type " << vec.getElementType()
           << " differs from the input's " << input.getElementType();
  return success();
}

/// Why `logits` (`[..., V]`) and integer `targets` (`[...]`) do not fit a
/// cross-entropy, if so: logits of rank at least 2 with a static last
/// dimension, targets of one rank less with the same leading dimensions
/// where static.
inline LogicalResult verifyLogitsAndTargets(std::optional<Location> loc,
                                            RankedTensorType logits,
                                            RankedTensorType targets) {
  int64_t rank = logits.getRank();
  if (rank < 2)
    return emitOptionalError(loc, "logits must have rank at least 2, got rank ",
                             rank);
  if (ShapedType::isDynamic(logits.getDimSize(rank - 1)))
    return emitOptionalError(loc, "the vocabulary dimension of the logits "
                                  "must be static");
  if (targets.getRank() != rank - 1)
    return emitOptionalError(loc, "targets must have rank ", rank - 1,
                             " (one less than the logits), got rank ",
                             targets.getRank());
  for (int64_t i = 0; i < rank - 1; ++i)
    if (!dimsCompatible(logits.getDimSize(i), targets.getDimSize(i)))
      return emitOptionalError(loc, "dimension ", i, " differs: logits have ",
                               dimStr(logits.getDimSize(i)), ", targets have ",
                               dimStr(targets.getDimSize(i)));
  return success();
}

/// Checks the `classes` attribute of a cross-entropy op (the number of real
/// classes of logits padded along the vocabulary): absent, or at least 1
/// and, when `logits` is given (the full logits, not one vocabulary block),
/// at most their static last dimension.
inline LogicalResult verifyClasses(Operation *op,
                                   std::optional<uint64_t> classes,
                                   RankedTensorType logits) {
  if (!classes)
    return success();
  auto n = static_cast<int64_t>(*classes);
  if (n < 1)
    return op->emitOpError("classes must be at least 1, got ") << n;
  if (!logits || logits.getRank() < 1)
    return success();
  int64_t width = logits.getDimSize(logits.getRank() - 1);
  if (!ShapedType::isDynamic(width) && n > width)
    return op->emitOpError("classes (")
           << n << ") exceeds the " << width << " columns of the logits";
  return success();
}

/// Checks the key/value heads of an attention op: `kvHeads` (the attribute,
/// absent meaning `heads`) at least 1 and dividing `heads`, and keys/values
/// `key` of `kvHeads * D` channels (D = query channels / heads) with the
/// batch and sequence dimensions of `query`. The query is known to be rank 3
/// with static channels that `heads` divides.
inline LogicalResult verifyKvHeads(Operation *op, ShapedType query,
                                   ShapedType key, int64_t heads,
                                   std::optional<uint64_t> kvHeads) {
  int64_t kv = kvHeads ? static_cast<int64_t>(*kvHeads) : heads;
  if (kv < 1 || heads % kv != 0)
    return op->emitOpError("kv_heads (")
           << kv << ") must be at least 1 and divide heads (" << heads << ")";
  if (key.getRank() != 3)
    return op->emitOpError("expected rank-3 (batch, sequence, channels) "
                           "keys and values, got ")
           << key;
  int64_t channels = kv * (query.getDimSize(2) / heads);
  if (key.getDimSize(2) != channels)
    return op->emitOpError("keys and values must have kv_heads * D = ")
           << kv << " * " << query.getDimSize(2) / heads << " = " << channels
           << " channels, got " << key;
  if (!dimsCompatible(key.getDimSize(0), query.getDimSize(0)) ||
      !dimsCompatible(key.getDimSize(1), query.getDimSize(1)))
    return op->emitOpError("keys and values must have the batch and "
                           "sequence dimensions of the queries, got ")
           << key << " for " << query;
  if (key.getElementType() != query.getElementType())
    return op->emitOpError("keys and values must have the element type of "
                           "the queries, got ")
           << key << " for " << query;
  return success();
}

/// Checks the element types of an attention op or its gradient, on tensors
/// or buffers: the activations it reads (`inputs`) have one element type,
/// and the ones it writes (`outputs`) another, which is the inputs' or
/// float32 when they are bfloat16 (lmc-bf16-storage).
inline LogicalResult verifyAttentionElementTypes(Operation *op,
                                                 ValueRange inputs,
                                                 ValueRange outputs) {
  auto elementOf = [](Value v) {
    return cast<ShapedType>(v.getType()).getElementType();
  };
  Type in = elementOf(inputs.front());
  for (Value v : inputs.drop_front())
    if (elementOf(v) != in)
      return op->emitOpError("the activations read must have one element "
                             "type, got ")
             << v.getType() << " beside " << inputs.front().getType();
  Type out = elementOf(outputs.front());
  for (Value v : outputs.drop_front())
    if (elementOf(v) != out)
      return op->emitOpError("the activations written must have one element "
                             "type, got ")
             << v.getType() << " beside " << outputs.front().getType();
  if (out != in && !(in.isBF16() && out.isF32()))
    return op->emitOpError("writes ")
           << out << " from " << in
           << " operands: the results have the operands' element type, or "
              "float32 when they are bfloat16";
  return success();
}

/// Checks the operands of the LM head's chunked loss (lmc.chunked_head_loss
/// and lmc.buffer_head_loss): `input` [..., C] with a static C, `weight` a
/// static [C, V] ([V, C] with `transposeB`), `targets` of one rank less with
/// the leading dimensions of `input`, the gradients of the types' shapes,
/// `classes` in [1, V] and `rows` at least 1.
inline LogicalResult verifyHeadLoss(Operation *op, ShapedType input,
                                    ShapedType weight, ShapedType targets,
                                    ShapedType inputGrad, ShapedType weightGrad,
                                    bool transposeB,
                                    std::optional<uint64_t> classes,
                                    int64_t rows) {
  int64_t rank = input.getRank();
  if (rank < 2 || input.isDynamicDim(rank - 1))
    return op->emitOpError("input must have rank at least 2 and a static "
                           "channel dimension, got ")
           << input;
  int64_t channels = input.getDimSize(rank - 1);
  if (weight.getRank() != 2 || !weight.hasStaticShape())
    return op->emitOpError("weight must be a static matrix, got ") << weight;
  int64_t k = weight.getDimSize(transposeB ? 1 : 0);
  int64_t vocab = weight.getDimSize(transposeB ? 0 : 1);
  if (k != channels)
    return op->emitOpError("weight ")
           << weight << (transposeB ? " read transposed" : "")
           << " does not take the " << channels << " channels of the input";
  if (targets.getRank() != rank - 1)
    return op->emitOpError("targets must have rank ")
           << rank - 1 << " (one less than the input), got " << targets;
  for (int64_t i = 0; i + 1 < rank; ++i)
    if (!dimsCompatible(input.getDimSize(i), targets.getDimSize(i)))
      return op->emitOpError("dimension ")
             << i << " differs: input has " << dimStr(input.getDimSize(i))
             << ", targets have " << dimStr(targets.getDimSize(i));
  if (inputGrad.getShape() != input.getShape() ||
      weightGrad.getShape() != weight.getShape())
    return op->emitOpError("the gradients must have the shapes of input and "
                           "weight, got ")
           << inputGrad << " and " << weightGrad;
  if (classes && (*classes < 1 || static_cast<int64_t>(*classes) > vocab))
    return op->emitOpError("classes (")
           << static_cast<int64_t>(*classes) << ") must be in [1, " << vocab
           << "]";
  if (rows < 1)
    return op->emitOpError("rows must be at least 1, got ") << rows;
  return success();
}

} // namespace mlir::lmc::detail

#endif // LMC_LIB_DIALECT_LMC_IR_VERIFYUTILS_H
