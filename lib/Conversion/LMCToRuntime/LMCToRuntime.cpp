//===- LMCToRuntime.cpp - Calls into the runtime --------------------------===//
//
// convert-lmc-to-runtime: after bufferization, every op that stands for a
// function of the runtime (the GEMMs and embedding gradients that
// convert-lmc-to-linalg marked, the collectives, sends and receives,
// attention, the LM head's chunked loss and axis index on buffers) becomes a call, with the symbol, arguments and stream ordering
// the runtime ABI table (RuntimeABI.h) gives for the target device. See the
// pass description in include/lmc/Conversion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "RuntimeABI.h"
#include "lmc/Conversion/Passes.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

#define DEBUG_TYPE "convert-lmc-to-runtime"

namespace mlir::lmc {
#define GEN_PASS_DEF_CONVERTLMCTORUNTIME
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;
using runtime::Device;
using runtime::Function;

namespace {

/// The marker convert-lmc-to-linalg puts on the linalg ops that a library
/// kernel computes (LoweringUtils.h's kLibraryCallAttr).
constexpr StringLiteral kLibraryCall =
    LMCDialect::LibraryCallAttrHelper::getNameStr();
/// The attribute of declarations whose GPU functions are stream-ordered
/// (read by lmc-gpu-async-launches).
constexpr StringLiteral kStreamOrdered =
    LMCDialect::StreamOrderedAttrHelper::getNameStr();

Type elementTypeOf(Value v) {
  return cast<BaseMemRefType>(v.getType()).getElementType();
}

Function collectiveFunction(CollectiveKind kind, bool start) {
  switch (kind) {
  case CollectiveKind::all_reduce:
    return start ? Function::AllReduceStart : Function::AllReduce;
  case CollectiveKind::all_gather:
    return start ? Function::AllGatherStart : Function::AllGather;
  case CollectiveKind::reduce_scatter:
    return start ? Function::ReduceScatterStart : Function::ReduceScatter;
  }
  llvm_unreachable("unknown collective kind");
}

/// An argument of a runtime call: a value, or an integer that becomes a
/// constant of the type the ABI gives the argument.
struct Arg {
  Arg(Value value) : value(value) {}
  Arg(int64_t imm) : imm(imm) {}
  /// An `f64` constant.
  static Arg f64(double value) {
    Arg arg(int64_t(0));
    arg.fimm = value;
    return arg;
  }
  Value value;
  int64_t imm = 0;
  double fimm = 0.0;
};

struct ConvertLMCToRuntimePass
    : mlir::lmc::impl::ConvertLMCToRuntimeBase<ConvertLMCToRuntimePass> {
  using ConvertLMCToRuntimeBase::ConvertLMCToRuntimeBase;

  Device targetDevice = Device::CPU;
  runtime::Precision gemmPrecision = runtime::Precision::FP32;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<Device> dev = runtime::parseDevice(device);
    if (!dev) {
      emitError(module.getLoc(), "convert-lmc-to-runtime: unknown device '")
          << device << "' (expected cpu or gpu)";
      return signalPassFailure();
    }
    targetDevice = *dev;
    gemmPrecision = runtime::abiPrecision(precision);

    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
        if (libraryCalls && generic->hasAttr(kLibraryCall) &&
            generic.hasPureBufferSemantics())
          ops.push_back(op);
        return;
      }
      // Collectives on buffers (a collective on tensors has not been
      // bufferized: it is not a runtime call yet).
      if (auto collective = dyn_cast<CollectiveOpInterface>(op)) {
        ValueRange inputs = collective.getCollectiveInputs();
        if (inputs.size() == 1 && isa<BaseMemRefType>(inputs[0].getType()))
          ops.push_back(op);
        return;
      }
      if (isa<BufferWaitOp, BufferSendOp, BufferRecvStartOp,
              BufferAttentionOp, BufferAttentionGradOp, BufferRowReductionOp,
              AxisIndexOp, BufferHeadLossOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      LogicalResult lowered =
          llvm::TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](linalg::GenericOp o) { return lowerMarked(o); })
              .Case([&](CollectiveOpInterface o) { return lowerCollective(o); })
              .Case([&](BufferWaitOp o) { return lowerWait(o); })
              .Case([&](BufferSendOp o) { return lowerPointToPoint(o); })
              .Case([&](BufferRecvStartOp o) { return lowerPointToPoint(o); })
              .Case([&](BufferAttentionOp o) { return lowerAttention(o); })
              .Case([&](BufferAttentionGradOp o) { return lowerAttention(o); })
              .Case([&](BufferRowReductionOp o) {
                return lowerRowReduction(o);
              })
              .Case([&](AxisIndexOp o) { return lowerAxisIndex(o); })
              .Case([&](BufferHeadLossOp o) { return lowerHeadLoss(o); });
      if (failed(lowered))
        return signalPassFailure();
    }
  }

  //===--------------------------------------------------------------------===//
  // Calls
  //===--------------------------------------------------------------------===//

  /// Calls `function` with `args` (buffers as memrefs, which are passed as
  /// unranked memrefs; integers as constants) at `at`, declaring it on first
  /// use; returns the call's result, or null when it has none.
  FailureOr<Value> call(OpBuilder &b, Operation *at, Function function,
                        ArrayRef<Arg> args) {
    const runtime::Entry &entry = runtime::lookup(function);
    const char *name = entry.getName(targetDevice);
    Location loc = at->getLoc();
    if (!name && targetDevice == Device::GPU)
      return at->emitOpError("has no GPU implementation in the runtime: its "
                             "buffers would be in GPU memory");
    if (!name)
      return at->emitOpError("has no CPU implementation in the runtime (only "
                             "the GPU runtime has it: convert-lmc-to-runtime"
                             "{device=gpu})");
    StringRef kinds = entry.arguments;
    assert(kinds.size() == args.size() && "arguments do not match the ABI");
    SmallVector<Value> operands;
    // One unranked view per buffer (a bucket is reduced in place: the same
    // buffer is input and output).
    llvm::SmallDenseMap<Value, Value> unranked;
    for (auto [kind, arg] : llvm::zip(kinds, args)) {
      if (kind == 'm') {
        assert(arg.value && "a buffer argument without a value");
        Value &view = unranked[arg.value];
        if (!view)
          view = memref::CastOp::create(
              b, loc, UnrankedMemRefType::get(elementTypeOf(arg.value), 0),
              arg.value);
        operands.push_back(view);
        continue;
      }
      if (kind == 'd') {
        operands.push_back(arith::ConstantOp::create(
            b, loc, b.getF64FloatAttr(arg.fimm)));
        continue;
      }
      unsigned width = kind == 'i' ? 32 : 64;
      if (arg.value) {
        assert(arg.value.getType().isInteger(width) &&
               "argument type does not match the ABI");
        operands.push_back(arg.value);
      } else {
        operands.push_back(arith::ConstantOp::create(
            b, loc, b.getIntegerAttr(b.getIntegerType(width), arg.imm)));
      }
    }
    SmallVector<Type> results;
    if (entry.result == 'l')
      results.push_back(b.getI64Type());
    ModuleOp module = getOperation();
    auto callee = module.lookupSymbol<func::FuncOp>(name);
    auto type = b.getFunctionType(ValueRange(operands).getTypes(), results);
    if (!callee) {
      OpBuilder mb = OpBuilder::atBlockBegin(module.getBody());
      callee = func::FuncOp::create(mb, loc, name, type);
      callee.setPrivate();
      // Functions taking memrefs are reached through their C interface
      // (`_mlir_ciface_NAME`, descriptors by pointer); the others by name.
      if (entry.takesBuffers())
        callee->setAttr("llvm.emit_c_interface", mb.getUnitAttr());
      if (targetDevice == Device::GPU && entry.gpuStreamOrdered)
        callee->setAttr(kStreamOrdered, mb.getUnitAttr());
    } else if (callee.getFunctionType() != type) {
      return at->emitOpError("calls the runtime's '")
             << name << "' as " << type << ", but the module declares it as "
             << callee.getFunctionType();
    }
    ++numCalls;
    auto op = func::CallOp::create(b, loc, callee, operands);
    return op.getNumResults() ? op.getResult(0) : Value();
  }

  /// The runtime's name of the group of `axes` at `op`: the axis mask over
  /// the mesh in scope.
  FailureOr<int32_t> axisMask(Operation *op, ArrayRef<StringRef> axes) {
    MeshAttr mesh = getMeshInScope(op);
    if (!mesh)
      return op->emitOpError("has no mesh in scope: the runtime names a group "
                             "by a mask over the mesh's axes");
    std::optional<int32_t> mask = mesh.getAxisMask(axes);
    if (!mask)
      return op->emitOpError("names axes the runtime cannot mask on ") << mesh;
    return *mask;
  }

  //===--------------------------------------------------------------------===//
  // Library kernels marked by convert-lmc-to-linalg
  //===--------------------------------------------------------------------===//

  LogicalResult lowerMarked(linalg::GenericOp op) {
    auto attrs = op->getAttrOfType<DictionaryAttr>(kLibraryCall);
    StringAttr kernel = attrs ? attrs.getAs<StringAttr>("kernel") : nullptr;
    if (!kernel)
      return op.emitOpError("has a malformed ") << kLibraryCall;
    if (!kernels.empty() && !llvm::is_contained(kernels, kernel.getValue()))
      return success();
    OpBuilder b(op);
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    if (kernel.getValue() == "gemm") {
      // bfloat16 A and B (lmc-bf16-storage): the bfloat16 GEMMs, C
      // float32 or bfloat16, an epilogue's bias and pre-activation of C's
      // type.
      const bool bf16 = elementTypeOf(op.getDpsInputs()[0]).isBF16();
      const bool cBf16 = elementTypeOf(op.getDpsInits()[0]).isBF16();
      if (bf16) {
        if (!elementTypeOf(op.getDpsInputs()[1]).isBF16())
          return op.emitOpError("is a GEMM with a bfloat16 A and a ")
                 << elementTypeOf(op.getDpsInputs()[1]) << " B";
        if (!cBf16 && elementTypeOf(op.getDpsInits()[0]) != f32)
          return op.emitOpError("is a bfloat16 GEMM writing ")
                 << elementTypeOf(op.getDpsInits()[0]);
        Type cType = elementTypeOf(op.getDpsInits()[0]);
        if (op.getNumDpsInits() > 1 &&
            elementTypeOf(op.getDpsInits()[1]) != cType)
          return op.emitOpError("is a bfloat16 GEMM with a ")
                 << elementTypeOf(op.getDpsInits()[1])
                 << " pre-activation: the runtime writes it as C (" << cType
                 << ")";
        if (op.getNumDpsInputs() > 2 &&
            elementTypeOf(op.getDpsInputs()[2]) != cType)
          return op.emitOpError("is a bfloat16 GEMM with a ")
                 << elementTypeOf(op.getDpsInputs()[2])
                 << " bias: the runtime reads it as C (" << cType << ")";
      } else if (cBf16 || elementTypeOf(op.getDpsInits()[0]) != f32) {
        return success();
      }
      auto flag = [&](StringRef name) -> int64_t {
        auto value = attrs.getAs<BoolAttr>(name);
        return value && value.getValue() ? 1 : 0;
      };
      int64_t precisionArg = static_cast<int32_t>(gemmPrecision);
      if (StringAttr epilogue = attrs.getAs<StringAttr>("epilogue")) {
        // GEMM + bias (+ tanh GELU, whose pre-activation is the second
        // output): the biased GEMM (a, b, bias, c, aux, ta, tb, kind,
        // precision).
        std::optional<runtime::GemmEpilogue> kind =
            llvm::StringSwitch<std::optional<runtime::GemmEpilogue>>(
                epilogue.getValue())
                .Case("bias", runtime::GemmEpilogue::Bias)
                .Case("bias_gelu_tanh", runtime::GemmEpilogue::BiasGeluTanh)
                .Default(std::nullopt);
        unsigned numOutputs = kind == runtime::GemmEpilogue::Bias ? 1 : 2;
        if (!kind || op.getNumDpsInputs() != 3 ||
            op.getNumDpsInits() != numOutputs)
          return op.emitOpError("has a malformed GEMM epilogue '")
                 << epilogue.getValue() << "'";
        Value c = op.getDpsInits()[0];
        // Without GELU the runtime ignores aux: C.
        Value aux = numOutputs == 2 ? op.getDpsInits()[1] : c;
        SmallVector<Arg> args = {op.getDpsInputs()[0],
                                 op.getDpsInputs()[1],
                                 op.getDpsInputs()[2],
                                 c,
                                 aux,
                                 flag("transpose_a"),
                                 flag("transpose_b"),
                                 static_cast<int64_t>(*kind)};
        if (!bf16)
          args.push_back(precisionArg);
        Function function = !bf16   ? Function::GemmBias
                            : cBf16 ? Function::GemmBiasBf16OutBf16
                                    : Function::GemmBiasBf16;
        if (failed(call(b, op, function, args)))
          return failure();
        ++numEpilogues;
      } else {
        eraseDeadZeroFill(op);
        SmallVector<Arg> args = {op.getDpsInputs()[0], op.getDpsInputs()[1],
                                 op.getDpsInits()[0], flag("transpose_a"),
                                 flag("transpose_b")};
        if (!bf16)
          args.push_back(precisionArg);
        Function function = !bf16   ? Function::Gemm
                            : cBf16 ? Function::GemmBf16OutBf16
                                    : Function::GemmBf16;
        if (failed(call(b, op, function, args)))
          return failure();
      }
    } else if (kernel.getValue() == "embedding_grad") {
      if (elementTypeOf(op.getDpsInits()[0]) != f32 ||
          !elementTypeOf(op.getDpsInputs()[1]).isInteger(32))
        return success();
      // The first row of a block of the table: the third (scalar) input,
      // or 0.
      Value offset =
          op.getNumDpsInputs() > 2
              ? Value(arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                                 op.getDpsInputs()[2]))
              : Value(
                    arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
      // A zero fill just before is the runtime's to do (it zeroes the table
      // gradient before the scatter-add); any other init (lmc.embedding_grad
      // `into`, or a fill that stays) is added to.
      const bool zeroed = eraseDeadZeroFill(op);
      if (failed(call(b, op,
                      zeroed ? Function::EmbeddingGrad
                             : Function::EmbeddingGradAcc,
                      {op.getDpsInputs()[0], op.getDpsInputs()[1],
                       op.getDpsInits()[0], offset})))
        return failure();
    } else if (kernel.getValue() == "sum") {
      auto square = attrs.getAs<BoolAttr>("square");
      auto out = dyn_cast<MemRefType>(op.getDpsInits()[0].getType());
      if (!square || op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
          !out || out.getRank() != 0)
        return op.emitOpError("has a malformed sum (one input, a 0-d output "
                              "and `square` expected)");
      // The CPU runtime has no sum kernel: there the generic stays loops.
      if (targetDevice != Device::GPU ||
          elementTypeOf(op.getDpsInputs()[0]) != f32 ||
          !out.getElementType().isF32())
        return success();
      // The call overwrites the scalar: the zero it started from (a fill,
      // or a copy of a shared zero) is dead.
      eraseDeadZeroFill(op, /*orCopy=*/true);
      if (failed(call(b, op, Function::SumF32,
                      {op.getDpsInputs()[0], op.getDpsInits()[0],
                       static_cast<int64_t>(square.getValue() ? 1 : 0)})))
        return failure();
      ++numSums;
    } else {
      return op.emitOpError("names an unknown library kernel '")
             << kernel.getValue() << "'";
    }
    op.erase();
    return success();
  }

  /// Erases the linalg.fill that wrote the output buffer of `op` (a GEMM,
  /// an embedding gradient or a sum) before it (with `orCopy`, also a copy
  /// into it, which a sum's marker promises is of zeros): between the two
  /// only ops without memory effects (constants, sizes) and deallocations of
  /// other buffers, so that nothing can read the filled buffer or a view of
  /// it. The library call overwrites the whole output, so the fill is dead.
  /// Only a fill of zero is erased; returns whether a fill or copy was.
  bool eraseDeadZeroFill(linalg::GenericOp op, bool orCopy = false) {
    Value out = op.getDpsInits()[0];
    for (Operation *prev = op->getPrevNode(); prev;
         prev = prev->getPrevNode()) {
      if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
        if (fill.getDpsInits()[0] != out ||
            !matchPattern(fill.getDpsInputs()[0], m_AnyZeroFloat()))
          return false;
        fill.erase();
        ++numDeadFills;
        return true;
      }
      if (auto copy = dyn_cast<memref::CopyOp>(prev); copy && orCopy) {
        if (copy.getTarget() != out)
          return false;
        copy.erase();
        ++numDeadFills;
        return true;
      }
      if (auto dealloc = dyn_cast<memref::DeallocOp>(prev))
        if (dealloc.getMemref() != out)
          continue;
      if (!isMemoryEffectFree(prev))
        return false;
    }
    return false;
  }

  //===--------------------------------------------------------------------===//
  // Ops on buffers
  //===--------------------------------------------------------------------===//

  /// A collective on buffers (lmc.buffer_collective or its start form):
  /// the runtime's collective of its kind from its input into its output
  /// over the axis mask of its group (and along its dim).
  LogicalResult lowerCollective(CollectiveOpInterface op) {
    SmallVector<StringRef> axes;
    for (auto axis : op.getAxes().getAsRange<StringAttr>())
      axes.push_back(axis.getValue());
    FailureOr<int32_t> mask = axisMask(op, axes);
    if (failed(mask))
      return failure();
    OpBuilder b(op);
    SmallVector<Arg> args = {op.getCollectiveInputs()[0],
                             op.getCollectiveOutputs()[0],
                             static_cast<int64_t>(*mask)};
    if (std::optional<int64_t> dim = op.getCollectiveDim())
      args.push_back(*dim);
    FailureOr<Value> result = call(
        b, op, collectiveFunction(op.getCollectiveKind(), op.isStart()), args);
    if (failed(result))
      return failure();
    // The start form's handle goes to the lmc.buffer_wait, which is lowered
    // after it.
    if (op->getNumResults())
      op->getResult(0).replaceAllUsesWith(*result);
    op->erase();
    return success();
  }

  /// A send or the start of a receive on buffers: the runtime's function
  /// of its element type, with the buffer, the axis mask of its group, the
  /// peer's index in the group and the tag. A receive's handle goes to its
  /// lmc.buffer_wait (lowered after it), like a started collective's.
  template <typename OpTy> LogicalResult lowerPointToPoint(OpTy op) {
    constexpr bool send = std::is_same_v<OpTy, BufferSendOp>;
    SmallVector<StringRef> axes;
    for (auto axis : op.getAxes().template getAsRange<StringAttr>())
      axes.push_back(axis.getValue());
    FailureOr<int32_t> mask = axisMask(op, axes);
    if (failed(mask))
      return failure();
    Value buffer = op->getOperand(0);
    bool f32 = elementTypeOf(buffer).isF32();
    Function function = send ? (f32 ? Function::SendF32 : Function::SendI64)
                             : (f32 ? Function::RecvStartF32
                                    : Function::RecvStartI64);
    OpBuilder b(op);
    FailureOr<Value> result =
        call(b, op, function,
             {buffer, static_cast<int64_t>(*mask),
              static_cast<int64_t>(op.getPeer()),
              static_cast<int64_t>(op.getTag())});
    if (failed(result))
      return failure();
    if constexpr (!send)
      op.getHandle().replaceAllUsesWith(*result);
    op->erase();
    return success();
  }

  LogicalResult lowerWait(BufferWaitOp op) {
    OpBuilder b(op);
    for (Value handle : op.getHandles())
      if (failed(call(b, op, Function::CollectiveWait, {Arg(handle)})))
        return failure();
    op->erase();
    return success();
  }

  template <typename OpTy> LogicalResult lowerAttention(OpTy op) {
    OpBuilder b(op);
    SmallVector<Arg> args(op->getOperands().begin(), op->getOperands().end());
    args.push_back(static_cast<int64_t>(op.getHeads()));
    args.push_back(op.getNumKvHeads());
    constexpr bool forward = std::is_same_v<OpTy, BufferAttentionOp>;
    // Activations stored as bfloat16 (lmc-bf16-storage): the inputs, and
    // the outputs too or not.
    const bool bf16In = elementTypeOf(op.getQuery()).isBF16();
    const bool bf16Out =
        elementTypeOf(op->getOperand(forward ? 3 : 6)).isBF16();
    // On the GPU, a bf16 program's attention runs on tensor cores.
    const bool bf16 = targetDevice == Device::GPU &&
                      gemmPrecision == runtime::Precision::BF16;
    Function function = forward ? (bf16Out  ? Function::AttentionFwdBf16InOut
                                   : bf16In ? Function::AttentionFwdBf16In
                                   : bf16   ? Function::AttentionFwdBf16
                                            : Function::AttentionFwd)
                                : (bf16Out  ? Function::AttentionBwdBf16InOut
                                   : bf16In ? Function::AttentionBwdBf16In
                                   : bf16   ? Function::AttentionBwdBf16
                                            : Function::AttentionBwd);
    if (failed(call(b, op, function, args)))
      return failure();
    op->erase();
    return success();
  }

  /// A norm, softmax or cross-entropy on buffers: the GPU runtime's row
  /// kernel of its kind, with its buffers in order and eps (norms) or
  /// classes (the cross-entropy: the attribute, else the logits' last
  /// dimension); a softmax takes its buffers only.
  LogicalResult lowerRowReduction(BufferRowReductionOp op) {
    Function function = llvm::StringSwitch<Function>(op.getKernel())
                            .Case("layer_norm", Function::LayerNormFwd)
                            .Case("layer_norm_grad", Function::LayerNormBwd)
                            .Case("rms_norm", Function::RmsNormFwd)
                            .Case("rms_norm_grad", Function::RmsNormBwd)
                            .Case("cross_entropy", Function::CrossEntropyFwd)
                            .Case("softmax", Function::SoftmaxFwd)
                            .Case("softmax_grad", Function::SoftmaxBwd)
                            .Default(Function::CrossEntropyBwd);
    // An output stored as bfloat16 (lmc-bf16-storage): the cross-entropy's
    // gradient, a norm's output.
    if (elementTypeOf(op.getOutputs()[0]).isBF16())
      function =
          function == Function::CrossEntropyBwd ? Function::CrossEntropyBwdBf16
          : function == Function::LayerNormFwd  ? Function::LayerNormFwdBf16
          : function == Function::RmsNormFwd    ? Function::RmsNormFwdBf16
                                                : function;
    SmallVector<Arg> args;
    for (Value v : op.getInputs())
      args.push_back(v);
    for (Value v : op.getOutputs())
      args.push_back(v);
    if (std::optional<APFloat> eps = op.getEps()) {
      args.push_back(Arg::f64(eps->convertToDouble()));
    } else if (function == Function::SoftmaxFwd ||
               function == Function::SoftmaxBwd) {
      // Buffers only.
    } else {
      auto logits = cast<MemRefType>(op.getInputs()[0].getType());
      int64_t classes = op.getClasses() ? int64_t(*op.getClasses())
                                        : logits.getShape().back();
      if (ShapedType::isDynamic(classes))
        return op.emitOpError("needs a static vocabulary (the logits' last "
                              "dimension)");
      args.push_back(classes);
    }
    OpBuilder b(op);
    if (failed(call(b, op, function, args)))
      return failure();
    op->erase();
    return success();
  }

  /// The LM head's chunked loss: the runtime's kernel with the operands,
  /// the layout of the weight, the classes (0: all columns), the rows per
  /// chunk and the GEMMs' compute precision.
  LogicalResult lowerHeadLoss(BufferHeadLossOp op) {
    OpBuilder b(op);
    SmallVector<Arg> args(op->getOperands().begin(), op->getOperands().end());
    args.push_back(static_cast<int64_t>(op.getTransposeB() ? 1 : 0));
    args.push_back(static_cast<int64_t>(op.getClasses().value_or(0)));
    args.push_back(static_cast<int64_t>(op.getRows()));
    args.push_back(static_cast<int64_t>(gemmPrecision));
    if (failed(call(b, op, Function::HeadCrossEntropy, args)))
      return failure();
    op->erase();
    return success();
  }

  LogicalResult lowerAxisIndex(AxisIndexOp op) {
    FailureOr<int32_t> mask = axisMask(op, {op.getAxis()});
    if (failed(mask))
      return failure();
    OpBuilder b(op);
    Location loc = op.getLoc();
    FailureOr<Value> index =
        call(b, op, Function::AxisIndex, {Arg(static_cast<int64_t>(*mask))});
    if (failed(index))
      return failure();
    Value cast = arith::IndexCastOp::create(b, loc, b.getIndexType(), *index);
    op.replaceAllUsesWith(cast);
    op->erase();
    return success();
  }
};

} // namespace
