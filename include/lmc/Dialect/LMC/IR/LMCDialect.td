//===- LMCDialect.td - The lmc dialect ---------------------*- tablegen -*-===//
//
// The lmc dialect represents the training graph of a GPT-style Transformer.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCDIALECT_TD
#define LMC_DIALECT_LMC_IR_LMCDIALECT_TD

include "mlir/IR/OpBase.td"

def LMC_Dialect : Dialect {
  let name = "lmc";
  let cppNamespace = "::mlir::lmc";
  let summary = "A dialect for the training graph of GPT-style Transformers.";
  let description = [{
    The `lmc` dialect holds a Transformer model as one unit: an `lmc.model`
    symbol table with named parameters (`lmc.param`) and a `forward` function
    that maps token ids and targets, both `tensor<?x?xi32>` (batch and
    sequence dynamic), to the mean cross-entropy loss.

    The ops are coarse on purpose: embeddings, LayerNorm, matmul, bias add,
    GELU, residual add, causal multi-head attention and cross-entropy are each
    one op, so that autodiff, sharding and fusion passes can recognise the
    structure of the model without pattern matching over primitive
    arithmetic. Attention also exists as a composition of smaller ops
    (`split_heads`, `matmul`, `scale`, `causal_mask`, `softmax`,
    `merge_heads`), which `lmc-decompose-attention` produces.

    Compute ops work on ranked tensors of `f32` or `f64`; token ids and
    targets are tensors of signless integers.

    For distributed training, a model carries a device mesh (`#lmc.mesh`,
    the `lmc.mesh` attribute), parameters may carry a sharding over it
    (`#lmc.sharding`, the `lmc.sharding` attribute: per mesh axis, split
    along a dimension, replicated or partial), and a partitioned program is
    one SPMD program on per-rank shapes that exchanges data with explicit
    collectives (`all_reduce`, `all_gather`, `reduce_scatter`, their
    asynchronous `*_start` forms and `wait`).
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  // The discardable `lmc.*` attributes that passes hand to each other, with
  // their types; the dialect verifies each (type, where it may appear, and
  // its value) in LMCDialect.cpp. Passes name them through the generated
  // helpers (`LMCDialect::ZeroDimAttrHelper::getNameStr()`, or
  // `getZeroDimAttrHelper().setAttr(op, ...)`), never by a string.
  let discardableAttrs = (ins
    // On an lmc.model or a builtin.module: the device mesh.
    "::mlir::lmc::MeshAttr":$mesh,
    // On an lmc.param: its placement over the mesh.
    "::mlir::lmc::ShardingAttr":$sharding,
    // On an lmc.param: the dimension ZeRO splits its optimizer state along.
    "::mlir::IntegerAttr":$zero_dim,
    // On an lmc.param, beside lmc.zero_dim: the mesh axis ZeRO splits its
    // optimizer state over.
    "::mlir::StringAttr":$zero_axis,
    // On an lmc.model: the mesh axes that split the batch (lmc-shard).
    "::mlir::ArrayAttr":$batch_axes,
    // On an lmc.model: the mesh axes that split the sequence of the
    // training step's activations (lmc-shard's sequence parallelism).
    "::mlir::ArrayAttr":$sequence_axes,
    // On an lmc.model, beside lmc.batch_axes: "local" when the training step
    // reduces nothing over the batch axes (lmc-shard dp-sync=local).
    "::mlir::StringAttr":$dp_sync,
    // On an lmc.model: its pipeline (lmc-pipeline): {axis, stages,
    // microbatches, schedule}.
    "::mlir::DictionaryAttr":$pipeline,
    // On an lmc.param, beside lmc.pipeline: the pipeline stages that hold
    // it, its home stage first.
    "::mlir::DenseI64ArrayAttr":$stages,
    // On an lmc.model: the bytes of activations kept for the backward pass,
    // a polynomial in the batch and sequence sizes (lmc-autodiff).
    "::mlir::DenseI64ArrayAttr":$activation_bytes,
    // On a function argument or result: the parameter it holds.
    "::mlir::FlatSymbolRefAttr":$param,
    // Beside lmc.param: which optimizer state of the parameter it holds.
    "::mlir::StringAttr":$state,
    // On a function argument: the optimizer hyperparameter it holds.
    "::mlir::StringAttr":$hparam,
    // On a function result: the scalar it holds (loss, grad_norm, lr).
    "::mlir::StringAttr":$output,
    // On a function result: the gradient of the named parameter.
    "::mlir::FlatSymbolRefAttr":$grad_of,
    // On a func.func: the kind of the fusion group it computes.
    "::mlir::StringAttr":$fusion_group,
    // On a linalg op: the runtime routine that computes it.
    "::mlir::DictionaryAttr":$library_call,
    // On a func.func: its launches run in stream order.
    "::mlir::UnitAttr":$stream_ordered
  );
  let extraClassDeclaration = [{
    /// The discardable attribute holding the mesh of a model or module.
    static ::llvm::StringRef getMeshAttrName() {
      return MeshAttrHelper::getNameStr();
    }
    /// The discardable attribute holding the sharding of a parameter.
    static ::llvm::StringRef getShardingAttrName() {
      return ShardingAttrHelper::getNameStr();
    }

  private:
    void registerAttributes();
    void registerTypes();

  public:
  }];
}

class LMC_Op<string mnemonic, list<Trait> traits = []>
    : Op<LMC_Dialect, mnemonic, traits>;

#endif // LMC_DIALECT_LMC_IR_LMCDIALECT_TD
