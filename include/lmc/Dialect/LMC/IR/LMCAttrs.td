//===- LMCAttrs.td - Attributes of the lmc dialect ---------*- tablegen -*-===//
//
// The device mesh and the sharding of a tensor over it. Parsed and printed in
// C++ (LMCAttrs.cpp); every description lists the rules that the verifier
// enforces under **Constraints**.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCATTRS_TD
#define LMC_DIALECT_LMC_IR_LMCATTRS_TD

include "lmc/Dialect/LMC/IR/LMCDialect.td"
include "mlir/IR/AttrTypeBase.td"

class LMC_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LMC_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def LMC_MeshAttr : LMC_Attr<"Mesh", "mesh"> {
  let summary = "a logical grid of devices with named axes";
  let description = [{
    The devices (ranks) of a distributed program arranged as a grid with
    named axes, listed major to minor: in `#lmc.mesh<dp = 2, tp = 2>` rank
    `r` has coordinates `(r / 2, r % 2)`, and ranks that differ only in their
    `tp` coordinate form one `tp` group. A pass stores the mesh of a model as
    the discardable attribute `lmc.mesh` of the `lmc.model` (or of the
    enclosing `builtin.module`); sharding annotations and collective ops name
    its axes and resolve them against the `lmc.mesh` of their nearest
    enclosing op that has one.

    Example:

    ```mlir
    lmc.model @gpt2 attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
      ...
    }
    ```

    **Constraints:**
    - there is at least one axis;
    - axis names are unique identifiers (`[A-Za-z_][A-Za-z0-9_]*`);
    - every size is at least 1;
    - as `lmc.mesh`, it sits on an `lmc.model` or a `builtin.module`.
  }];
  let parameters = (ins
    ArrayRefParameter<"::mlir::StringAttr", "axis names, major to minor">:$axisNames,
    ArrayRefParameter<"int64_t", "axis sizes">:$axisSizes);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The number of axes.
    unsigned getRank() const { return getAxisNames().size(); }
    /// The position of the axis named `name`, if there is one.
    std::optional<unsigned> getAxisIndex(::llvm::StringRef name) const;
    /// The size of the axis named `name`, if there is one.
    std::optional<int64_t> getAxisSize(::llvm::StringRef name) const;
    /// The number of devices: the product of all axis sizes.
    int64_t getNumDevices() const;
    /// The number of ranks in a group spanned by `axes` (an array of axis
    /// names, each an axis of this mesh): the product of their sizes.
    int64_t getGroupSize(::mlir::ArrayAttr axes) const;
    /// The runtime's name for the group spanned by `axes` (axis names, in
    /// any order): a bit mask over this mesh's axes, bit i set when axis i
    /// is in the group (on `dp x tp`: dp 1, tp 2, both 3). Null when a name
    /// is not an axis of this mesh or the mesh has more than 31 axes.
    std::optional<int32_t>
    getAxisMask(::llvm::ArrayRef<::llvm::StringRef> axes) const;
    std::optional<int32_t> getAxisMask(::mlir::ArrayAttr axes) const;
  }];
}

def LMC_ShardingAttr : LMC_Attr<"Sharding", "sharding"> {
  let summary = "how a tensor is laid out over the axes of a mesh";
  let description = [{
    Says, for each axis of the mesh, how the ranks along that axis hold a
    tensor whose full (global) value is `X`:

    - `shard(d)`: the ranks split `X` along tensor dimension `d` into equal,
      consecutive blocks, the rank with coordinate `i` on the axis holding
      block `i`;
    - `shard(d, blocks = k)`: dimension `d` is first cut into `k` equal
      blocks, each of which the ranks split as above; a rank holds its part
      of every block, in block order. A fused `[C, 3C]` QKV weight split by
      attention heads is `shard(1, blocks = 3)`: each rank holds the query,
      key and value columns of its heads;
    - `partial`: every rank holds a tensor of `X`'s shape, and `X` is their
      sum (e.g. the output of a row-parallel matmul, or a gradient before
      its data-parallel all-reduce);
    - replicated: every rank holds all of `X`. This is the default for an
      axis that is not listed, and a written `replicated` is dropped, so
      a sharding has one printed form.

    Several axes may shard the same dimension; the blocks are then nested in
    mesh order, the earlier mesh axis being the major one: with
    `#lmc.mesh<dp = 2, tp = 4>` and `{dp = shard(0), tp = shard(0)}`,
    dimension 0 is cut into 8 blocks and rank `(i, j)` holds block
    `i * 4 + j`. A rank's local shape divides each sharded dimension by the
    product of the sizes of the axes sharding it; a dynamic dimension stays
    dynamic (the division is then checked when the program runs).

    An axis has one placement: a value both split and unreduced over one
    axis is not representable, so an all-reduce or a reduce-scatter
    resolves the `partial` first.

    Example:

    ```mlir
    // Column-parallel weight of an MLP, replicated over `dp`.
    lmc.param @"h.0.mlp.c_fc.weight" : tensor<64x256xf32> init(normal, std = 2.000000e-02)
        {lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
    // Activations split over the batch by `dp`, and unreduced over `tp`.
    #lmc.sharding<{dp = shard(0), tp = partial}>
    // Fully replicated.
    #lmc.sharding<{}>
    ```

    As the discardable attribute `lmc.sharding` of an `lmc.param`, it says
    how the parameter (whose declared type is its global type) is laid out
    over the mesh in scope.

    **Constraints:**
    - axis names are non-empty and listed at most once;
    - `shard` dimensions are non-negative and `blocks` positive;
    - checked against a mesh and a tensor type (`verifyFor`; e.g. on an
      `lmc.param`): every axis is an axis of the mesh, the axes are listed in
      mesh order, every `shard` dimension is below the rank, and every static
      sharded dimension is divisible by the product of the sizes of the axes
      sharding it (times `blocks`);
    - as `lmc.sharding`, it sits on an `lmc.param` inside an op with an
      `lmc.mesh`.
  }];
  let parameters = (ins
    ArrayRefParameter<"::mlir::StringAttr",
                      "axes that are not replicated">:$axes,
    ArrayRefParameter<"::mlir::lmc::Placement",
                      "the placement of each of `axes`">:$placements);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  // get(mesh, perAxis): the sharding that places `perAxis[i]` on axis `i` of
  // `mesh` (one entry per mesh axis; replicated ones are dropped).
  let builders = [
    AttrBuilderWithInferredContext<(ins
        "::mlir::lmc::MeshAttr":$mesh,
        "::llvm::ArrayRef<::mlir::lmc::Placement>":$perAxis)>
  ];
  let extraClassDeclaration = [{
    /// The fully replicated sharding.
    static ShardingAttr getReplicated(::mlir::MLIRContext *context);

    /// The placement on the axis named `axis` (replicated if not listed).
    Placement getPlacement(::llvm::StringRef axis) const;
    /// True when every axis is replicated.
    bool isReplicated() const { return getAxes().empty(); }
    /// True when some axis is `partial`.
    bool hasPartial() const;
    /// The axes that shard dimension `dim`, in mesh order (major first).
    ::llvm::SmallVector<::mlir::StringAttr>
    getAxesShardingDim(int64_t dim, MeshAttr mesh) const;

    /// Checks this sharding against `mesh` and a global tensor type; returns
    /// what is wrong, if anything.
    std::optional<std::string> verifyFor(::mlir::RankedTensorType type,
                                         MeshAttr mesh) const;
    /// The shape of one rank's piece of a tensor of shape `globalShape`.
    /// Fails, saying why in `why` when given, when a static dimension is not
    /// divisible by the ranks sharding it, or for an axis missing from the
    /// mesh or a dimension out of range.
    ::mlir::FailureOr<::llvm::SmallVector<int64_t>>
    getLocalShape(::llvm::ArrayRef<int64_t> globalShape, MeshAttr mesh,
                  std::string *why = nullptr) const;
    /// The global shape whose pieces have shape `localShape`: each sharded
    /// dimension multiplied by the ranks sharding it. Fails, saying why in
    /// `why` when given, for an axis missing from the mesh or a dimension out
    /// of range.
    ::mlir::FailureOr<::llvm::SmallVector<int64_t>>
    getGlobalShape(::llvm::ArrayRef<int64_t> localShape, MeshAttr mesh,
                   std::string *why = nullptr) const;
  }];
}

#endif // LMC_DIALECT_LMC_IR_LMCATTRS_TD
