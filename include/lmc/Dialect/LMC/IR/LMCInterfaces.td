//===- LMCInterfaces.td - Interfaces of the lmc dialect ----*- tablegen -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCINTERFACES_TD
#define LMC_DIALECT_LMC_IR_LMCINTERFACES_TD

include "mlir/IR/OpBase.td"

def LMC_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    An op that knows its own reverse-mode gradient rule. `lmc-autodiff`
    walks the forward function backwards and asks each op, through a
    `GradientBuilder`, to turn the gradients of its results into gradients of
    its operands. The builder hands out the forward values the rule needs
    (possibly recomputed, depending on the recompute policy) and accumulates
    operand gradients when a value is used more than once. Operands without a
    gradient (token ids, targets) are simply not given one.
  }];
  let methods = [
    InterfaceMethod<[{
        Emits the gradient rule at the builder's insertion point: reads the
        result gradients (`gb.resultGrad(i)`, never null for a result that
        has uses on the path to the loss; zeros are materialised otherwise)
        and sets operand gradients with `gb.addOperandGrad(i, value)`.
      }],
      "::llvm::LogicalResult", "buildGradient",
      (ins "::mlir::lmc::GradientBuilder &":$gb)>,
  ];
}

def LMC_ShardingRuleOpInterface : OpInterface<"ShardingRuleOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    An op that knows how it runs when its tensors are split over the ranks of
    one mesh axis (`lmc-shard` partitions one axis at a time). A placement
    along the axis is `shard(d[, blocks = k])`, `partial` (each rank holds a
    summand) or replicated.

    `getShardingRule` receives the placements the operands have and chooses
    a strategy: the placements each operand must have (the partitioner
    reshards an operand whose placement differs, see below) and the
    placements of the results. It fails only when no strategy exists; an op
    can always fall back to replicated operands.

    Resharding an operand, the collective a layout change needs:
    - `partial` to replicated: `lmc.all_reduce` over the axis;
    - `shard(d)` to replicated: `lmc.all_gather` along `d` (per block);
    - replicated to `shard(d)`: no communication, each rank slices its part;
    - replicated to `partial` (scalars only): rank 0 keeps the value, the
      others take zero;
    - any other change goes through replicated.

    `partition` then creates the op's local form, at the builder's insertion
    point, from operands already in the chosen placements; the default clones
    the op with local result types (each dimension split by its placement).
  }];
  let methods = [
    InterfaceMethod<[{
        Chooses the operand and result placements of a partitioned op, given
        the current operand placements over an axis of `parts` ranks.
      }],
      "::llvm::LogicalResult", "getShardingRule",
      (ins "::llvm::ArrayRef<::mlir::lmc::Placement>":$operands,
           "int64_t":$parts, "::mlir::lmc::ShardingRule &":$rule)>,
    InterfaceMethod<[{
        Creates the local form of the op on `pb.operands()` (in the rule's
        operand placements) and returns its results, one per result of the
        op, in the rule's result placements.
      }],
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>", "partition",
      (ins "::mlir::lmc::PartitionBuilder &":$pb), [{}], [{
        return pb.cloneWithLocalTypes();
      }]>,
  ];
}

def LMC_BF16StorageOpInterface : OpInterface<"BF16StorageOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    How an op takes part in bfloat16 storage (`lmc-bf16-storage`, under
    `--precision bf16`): which of its float32 tensor operands it can read
    when they are stored as bfloat16 and which of its results it can write
    as bfloat16. An op without the interface reads and writes float32 only,
    so the values it reads and writes stay float32.

    A fusion group (`lmc.fused`) reads and writes any float tensor as
    bfloat16 by converting in its body (`lmc.convert` after the block
    argument, before the `lmc.yield`): its arithmetic stays float32. A GEMM
    (`lmc.matmul`, `lmc.matmul_bias`) reads its `lhs` and `rhs` as bfloat16
    (both or neither) and accumulates in float32; it can also write its
    result as bfloat16, rounded once (after the epilogue of an
    `lmc.matmul_bias`: the result and the pre-activation together,
    `writesBF16Together`, and then reading its bias as bfloat16 too: an
    epilogue's vectors have its output's type, as in cuBLASLt). A GEMM
    *computes in bfloat16* (`computesInBF16`): under `--precision bf16` it
    rounds its operands to bfloat16 anyway, so storing them rounded loses
    nothing; a group does not (a group that reads a bfloat16 operand computes
    on a rounded value). Attention (`lmc.flash_attention` and its gradient)
    computes in bfloat16 too: it reads its activations as bfloat16 (the
    GPU's tensor-core kernels round them anyway) and may write its results
    so, never `lse`.
  }];
  let methods = [
    InterfaceMethod<[{
        True when operand `i` (a float32 tensor) may be given the bfloat16
        type of its shape.
      }], "bool", "canReadBF16", (ins "unsigned":$i)>,
    InterfaceMethod<[{
        True when result `i` (a float32 tensor) may be given the bfloat16
        type of its shape.
      }], "bool", "canWriteBF16", (ins "unsigned":$i)>,
    InterfaceMethod<[{
        True when the op only moves data (`LMC_BF16PassThrough`): a copy of
        it on the bfloat16 copies of its operands gives the bfloat16 copies
        of its results, so a value it reads is converted rather than each of
        its results.
      }], "bool", "isBF16PassThrough">,
    InterfaceMethod<[{
        True when the op's float32 tensor results are stored as bfloat16 all
        or none (each must be allowed, and every reader of each must read
        it as bfloat16).
      }], "bool", "writesBF16Together">,
    InterfaceMethod<[{
        True when the op rounds its bfloat16-readable operands to bfloat16
        whatever their storage (a GEMM at bfloat16 compute precision).
      }], "bool", "computesInBF16">,
    InterfaceMethod<[{
        Called once some operands and results were given bfloat16 types
        (each one allowed by `canReadBF16` / `canWriteBF16`): the op makes
        itself valid again (a group converts in its body; a GEMM has nothing
        to do). Operands of a GEMM are retyped in pairs (`lhs` and `rhs`
        together).
      }], "void", "adaptToBF16Storage">,
  ];
}

/// An op that moves data without computing (a flatten, a slice): it moves
/// bfloat16 as it moves float32, in lmc-bf16-storage's terms (the C++
/// trait in LMCInterfaces.h).
def LMC_BF16PassThrough : NativeOpTrait<"BF16PassThrough"> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

/// A kernel that reads float32 and may store its first result as bfloat16
/// (computed in float32, rounded once): the norms and the cross-entropy's
/// gradient, which the GPU runtime computes outside fusion groups (the C++
/// trait in LMCInterfaces.h).
def LMC_BF16Output : NativeOpTrait<"BF16Output"> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

//===----------------------------------------------------------------------===//
// Fusion roles
//===----------------------------------------------------------------------===//

def LMC_FusionOpInterface : OpInterface<"FusionOpInterface"> {
  let cppNamespace = "::mlir::lmc";
  let description = [{
    How an op takes part in fusion (`lmc-fuse`), declared on the op with one
    of the `LMC_Elementwise`, `LMC_RowWise`, `LMC_Reduction`, `LMC_Update`
    or `LMC_Layout` traits; an op that declares none is opaque (a kernel of
    its own: matmul, gathers, attention, collectives, ...).

    - `Elementwise`: one value per element of its domain;
    - `RowWise`: reads whole rows (the last dimension) of its domain;
    - `Reduction`: reduces its domain to something smaller;
    - `Update`: an optimizer update; all updates of a function form one
      group (a multi-tensor update);
    - `Layout`: moves data without computing (never fused today).

    An op joins the group of its consumer when the consumer reads it through
    a *fused operand* (read over the consumer's whole iteration space: not a
    broadcast bias, not an index) and the value is a *fused result* of the
    op (a full-domain result of an elementwise or row-wise op). Beyond
    producer and consumer, an op may name *partner operands* (the producer
    of such an operand joins its group when it declares the same group kind)
    and *sibling operands* (an op of the same group kind reading the same
    values in those operand positions joins its group). A group is named
    after the op with the lowest kind rank in it.
  }];
  let methods = [
    InterfaceMethod<"The op's role in fusion.",
      "::mlir::lmc::FusionRole", "getFusionRole">,
    InterfaceMethod<[{
        True when operand `i` is read over the op's whole iteration space, so
        that its producer may join the op's group.
      }], "bool", "isFusedOperand", (ins "unsigned":$i)>,
    InterfaceMethod<[{
        True when result `i` covers the op's whole domain, so that a consumer
        reading it through a fused operand may join the op's group.
      }], "bool", "isFusedResult", (ins "unsigned":$i)>,
    InterfaceMethod<[{
        True when the producer of operand `i` joins the op's group if it
        declares the same group kind (a row statistic the op reads).
      }], "bool", "isPartnerOperand", (ins "unsigned":$i)>,
    InterfaceMethod<[{
        The operand positions through which sibling ops are found: an op of
        the same group kind that reads the same values in all of them joins
        the op's group (a loss and its gradient over the same logits).
      }], "::llvm::ArrayRef<unsigned>", "getSiblingOperands">,
    InterfaceMethod<[{
        The kind of group the op names when its rank is the lowest of its
        group (empty: the op names no group, which is then `elementwise`).
      }], "::llvm::StringRef", "getFusionKind">,
    InterfaceMethod<"The rank of the op's group kind (lower wins).",
      "int", "getFusionKindRank">,
  ];
}

/// `false || i == a || i == b ...`: the C++ test that `i` is in `indices`.
class LMC_IndexIn<list<int> indices> {
  string expr = !foldl("false", indices, acc, x, acc # " || i == " # x);
}

/// The static members that carry an op's fusion declaration.
class LMC_FusionDeclaration<string decls>
    : NativeOpTrait<"FusionDeclaration", [], decls> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

/// The declaration of an op's fusion role (see LMC_FusionOpInterface):
/// `operands` are its fused operands, `results` its fused results (all of
/// them with `allResults`), `kind` and `rank` the group it names, `partners`
/// and `siblings` as in the interface.
class LMC_Fusion<string role, list<int> operands, bit allResults,
                 list<int> results, string kind, int rank,
                 list<int> partners, list<int> siblings>
    : TraitList<[
        LMC_FusionOpInterface,
        LMC_FusionDeclaration<
          "static ::mlir::lmc::FusionRole getFusionRole() { return "
          "::mlir::lmc::FusionRole::" # role # "; }\n"
          "static bool isFusedOperand(unsigned i) { return "
          # LMC_IndexIn<operands>.expr # "; }\n"
          "static bool isFusedResult(unsigned i) { return "
          # !if(allResults, "true", LMC_IndexIn<results>.expr) # "; }\n"
          "static bool isPartnerOperand(unsigned i) { return "
          # LMC_IndexIn<partners>.expr # "; }\n"
          "static ::llvm::ArrayRef<unsigned> getSiblingOperands() { "
          "static const unsigned siblings[] = {"
          # !interleave(siblings, ", ") # !if(!empty(siblings), "0", "")
          # "}; return ::llvm::ArrayRef<unsigned>(siblings, size_t("
          # !size(siblings) # ")); }\n"
          "static ::llvm::StringRef getFusionKind() { return \""
          # kind # "\"; }\n"
          "static int getFusionKindRank() { return " # rank # "; }\n"
        >
      ]>;

/// Elementwise over the domain read by `operands`.
class LMC_Elementwise<list<int> operands = [0], string kind = "",
                      int rank = 100>
    : LMC_Fusion<"Elementwise", operands, 1, [], kind, rank, [], []>;
/// Reads whole rows of the domain read by `operands`; `results` are the
/// full-domain results (all by default).
class LMC_RowWise<list<int> operands = [0], string kind = "", int rank = 100,
                  bit allResults = 1, list<int> results = [],
                  list<int> partners = [], list<int> siblings = []>
    : LMC_Fusion<"RowWise", operands, allResults, results, kind, rank,
                 partners, siblings>;
/// Reduces the domain read by `operands`; no result covers the domain.
class LMC_Reduction<list<int> operands = [0], string kind = "",
                    int rank = 100>
    : LMC_Fusion<"Reduction", operands, 0, [], kind, rank, [], []>;
/// An optimizer update, grouped with all updates of its function.
class LMC_Update<string kind, int rank>
    : LMC_Fusion<"Update", [], 0, [], kind, rank, [], []>;
/// Moves data without computing; not fused.
def LMC_Layout : LMC_Fusion<"Layout", [], 0, [], "", 100, [], []>;

/// An elementwise activation function of one operand (gelu, silu): the
/// tensor-parallel planner splits the MLP around it.
def LMC_Activation : NativeOpTrait<"Activation"> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

/// A normalisation over the last dimension of its first operand (the
/// input: layer_norm, rms_norm); its other operands are parameters (scale,
/// shift). The `block` recompute policy of lmc-autodiff keeps the residual
/// stream entering each normalisation, and the tensor-parallel planner leaves
/// its parameters replicated by design.
def LMC_Normalization : NativeOpTrait<"Normalization"> {
  let cppNamespace = "::mlir::OpTrait::lmc";
}

#endif // LMC_DIALECT_LMC_IR_LMCINTERFACES_TD
