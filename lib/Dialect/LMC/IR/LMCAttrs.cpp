//===- LMCAttrs.cpp - Attributes of the lmc dialect -----------------------===//
//
// The mesh and sharding attributes: custom syntax, verifiers, the shape
// helpers of a sharding, and the dialect's verifier of the discardable
// attributes `lmc.mesh` and `lmc.sharding`. The rules checked here are the
// **Constraints** of LMCAttrs.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

using namespace mlir;
using namespace mlir::lmc;

#define GET_ATTRDEF_CLASSES
#include "lmc/Dialect/LMC/IR/LMCAttrs.cpp.inc"

void LMCDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "lmc/Dialect/LMC/IR/LMCAttrs.cpp.inc"
      >();
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
static bool isIdentifier(StringRef name) {
  if (name.empty() || !(llvm::isAlpha(name.front()) || name.front() == '_'))
    return false;
  return llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

static std::string toString(Attribute attr) {
  std::string text;
  llvm::raw_string_ostream os(text);
  attr.print(os);
  return text;
}

//===----------------------------------------------------------------------===//
// MeshAttr
//===----------------------------------------------------------------------===//

// #lmc.mesh<dp = 2, tp = 2>
Attribute MeshAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<StringAttr> names;
  SmallVector<int64_t> sizes;
  auto parseAxis = [&]() -> ParseResult {
    std::string name;
    int64_t size = 0;
    if (parser.parseKeywordOrString(&name) || parser.parseEqual() ||
        parser.parseInteger(size))
      return failure();
    names.push_back(parser.getBuilder().getStringAttr(name));
    sizes.push_back(size);
    return success();
  };
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::LessGreater,
                                     parseAxis, " in a mesh"))
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    names, sizes);
}

void MeshAttr::print(AsmPrinter &printer) const {
  printer << '<';
  llvm::interleaveComma(llvm::zip(getAxisNames(), getAxisSizes()), printer,
                        [&](auto axis) {
                          printer.printKeywordOrString(std::get<0>(axis));
                          printer << " = " << std::get<1>(axis);
                        });
  printer << '>';
}

LogicalResult MeshAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<StringAttr> axisNames,
                               ArrayRef<int64_t> axisSizes) {
  if (axisNames.size() != axisSizes.size())
    return emitError() << "a mesh needs one size per axis";
  if (axisNames.empty())
    return emitError() << "a mesh needs at least one axis";
  llvm::StringSet<> seen;
  int64_t devices = 1;
  for (auto [name, size] : llvm::zip(axisNames, axisSizes)) {
    if (!isIdentifier(name.getValue()))
      return emitError() << "mesh axis name '" << name.getValue()
                         << "' is not an identifier";
    if (!seen.insert(name.getValue()).second)
      return emitError() << "mesh axis '" << name.getValue()
                         << "' is listed twice";
    if (size < 1)
      return emitError() << "mesh axis '" << name.getValue() << "' has size "
                         << size << "; sizes must be at least 1";
    if (size > std::numeric_limits<int32_t>::max() / devices)
      return emitError() << "a mesh has at most "
                         << std::numeric_limits<int32_t>::max() << " devices";
    devices *= size;
  }
  return success();
}

std::optional<unsigned> MeshAttr::getAxisIndex(StringRef name) const {
  for (auto [i, axis] : llvm::enumerate(getAxisNames()))
    if (axis.getValue() == name)
      return i;
  return std::nullopt;
}

std::optional<int64_t> MeshAttr::getAxisSize(StringRef name) const {
  if (std::optional<unsigned> index = getAxisIndex(name))
    return getAxisSizes()[*index];
  return std::nullopt;
}

int64_t MeshAttr::getNumDevices() const {
  int64_t devices = 1;
  for (int64_t size : getAxisSizes())
    devices *= size;
  return devices;
}

int64_t MeshAttr::getGroupSize(ArrayAttr axes) const {
  int64_t ranks = 1;
  for (Attribute axis : axes) {
    std::optional<int64_t> size =
        getAxisSize(cast<StringAttr>(axis).getValue());
    assert(size && "not an axis of the mesh");
    ranks *= *size;
  }
  return ranks;
}

std::optional<int32_t> MeshAttr::getAxisMask(ArrayRef<StringRef> axes) const {
  if (getRank() > 31)
    return std::nullopt;
  int32_t mask = 0;
  for (StringRef name : axes) {
    std::optional<unsigned> index = getAxisIndex(name);
    if (!index)
      return std::nullopt;
    mask |= int32_t(1) << *index;
  }
  return mask;
}

std::optional<int32_t> MeshAttr::getAxisMask(ArrayAttr axes) const {
  SmallVector<StringRef> names;
  for (Attribute axis : axes) {
    auto name = dyn_cast<StringAttr>(axis);
    if (!name)
      return std::nullopt;
    names.push_back(name.getValue());
  }
  return getAxisMask(names);
}

MeshAttr mlir::lmc::getMeshInScope(Operation *op) {
  for (; op; op = op->getParentOp())
    if (Attribute mesh = op->getDiscardableAttr(LMCDialect::getMeshAttrName()))
      return dyn_cast<MeshAttr>(mesh);
  return {};
}

//===----------------------------------------------------------------------===//
// ShardingAttr
//===----------------------------------------------------------------------===//

// #lmc.sharding<{dp = shard(0), tp = partial, pp = replicated}>
Attribute ShardingAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<StringAttr> axes;
  SmallVector<Placement> placements;
  llvm::StringSet<> seen;
  auto parseEntry = [&]() -> ParseResult {
    SMLoc entryLoc = parser.getCurrentLocation();
    std::string name;
    if (parser.parseKeywordOrString(&name) || parser.parseEqual())
      return failure();
    if (!seen.insert(name).second)
      return parser.emitError(entryLoc, "mesh axis '")
             << name << "' is listed twice";
    SMLoc placementLoc = parser.getCurrentLocation();
    StringRef kind;
    if (parser.parseKeyword(&kind))
      return failure();
    std::optional<Placement> placement;
    if (kind == "shard") {
      int64_t dim = 0, blocks = 1;
      if (parser.parseLParen() || parser.parseInteger(dim))
        return failure();
      if (succeeded(parser.parseOptionalComma())) {
        SMLoc blocksLoc = parser.getCurrentLocation();
        if (parser.parseKeyword("blocks") || parser.parseEqual() ||
            parser.parseInteger(blocks))
          return failure();
        if (blocks < 1)
          return parser.emitError(blocksLoc, "the number of blocks must be "
                                             "positive");
      }
      if (parser.parseRParen())
        return failure();
      placement = Placement::shard(dim, blocks);
    } else if (kind == "partial") {
      placement = Placement::partial();
    } else if (kind == "replicated") {
      return success(); // The default: not stored.
    } else {
      return parser.emitError(placementLoc, "unknown placement '")
             << kind << "'; expected shard(<dim>), partial or replicated";
    }
    axes.push_back(parser.getBuilder().getStringAttr(name));
    placements.push_back(*placement);
    return success();
  };
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Braces, parseEntry,
                                     " in a sharding") ||
      parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    axes, placements);
}

void ShardingAttr::print(AsmPrinter &printer) const {
  printer << "<{";
  llvm::interleaveComma(llvm::zip(getAxes(), getPlacements()), printer,
                        [&](auto entry) {
                          printer.printKeywordOrString(std::get<0>(entry));
                          const Placement &placement = std::get<1>(entry);
                          if (placement.isShard()) {
                            printer << " = shard(" << placement.getDim();
                            if (placement.getBlocks() != 1)
                              printer << ", blocks = "
                                      << placement.getBlocks();
                            printer << ")";
                          }
                          else if (placement.isPartial())
                            printer << " = partial";
                          else
                            printer << " = replicated";
                        });
  printer << "}>";
}

LogicalResult ShardingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   ArrayRef<StringAttr> axes,
                                   ArrayRef<Placement> placements) {
  if (axes.size() != placements.size())
    return emitError() << "a sharding needs one placement per axis";
  llvm::StringSet<> seen;
  for (auto [axis, placement] : llvm::zip(axes, placements)) {
    if (axis.getValue().empty())
      return emitError() << "mesh axis names must not be empty";
    if (!seen.insert(axis.getValue()).second)
      return emitError() << "mesh axis '" << axis.getValue()
                         << "' is listed twice";
    if (placement.isReplicated())
      return emitError() << "mesh axis '" << axis.getValue()
                         << "' is listed as replicated; replicated axes are "
                            "left out";
    if (placement.isShard() && placement.getDim() < 0)
      return emitError() << "mesh axis '" << axis.getValue() << "' shards "
                         << "dimension " << placement.getDim()
                         << "; dimensions are non-negative";
  }
  return success();
}

ShardingAttr ShardingAttr::get(MeshAttr mesh, ArrayRef<Placement> perAxis) {
  assert(perAxis.size() == mesh.getRank() && "one placement per mesh axis");
  SmallVector<StringAttr> axes;
  SmallVector<Placement> placements;
  for (auto [axis, placement] : llvm::zip(mesh.getAxisNames(), perAxis)) {
    if (placement.isReplicated())
      continue;
    axes.push_back(axis);
    placements.push_back(placement);
  }
  return get(mesh.getContext(), axes, placements);
}

ShardingAttr ShardingAttr::getReplicated(MLIRContext *context) {
  return get(context, ArrayRef<StringAttr>(), ArrayRef<Placement>());
}

Placement ShardingAttr::getPlacement(StringRef axis) const {
  for (auto [name, placement] : llvm::zip(getAxes(), getPlacements()))
    if (name.getValue() == axis)
      return placement;
  return Placement::replicated();
}

bool ShardingAttr::hasPartial() const {
  return llvm::any_of(getPlacements(),
                      [](const Placement &p) { return p.isPartial(); });
}

SmallVector<StringAttr> ShardingAttr::getAxesShardingDim(int64_t dim,
                                                         MeshAttr mesh) const {
  SmallVector<StringAttr> axes;
  for (StringAttr axis : mesh.getAxisNames()) {
    Placement placement = getPlacement(axis.getValue());
    if (placement.isShard() && placement.getDim() == dim)
      axes.push_back(axis);
  }
  return axes;
}

namespace {
/// Per tensor dimension, how many ranks split it and along which axes.
struct DimSplits {
  SmallVector<int64_t> factors;
  /// The largest number of blocks of a placement sharding each dimension.
  SmallVector<int64_t> blocks;
  SmallVector<SmallVector<StringRef>> axes;
};
} // namespace

/// The splits of a rank-`rank` tensor under `sharding` over `mesh`; fails
/// with a reason for an axis missing from the mesh or a dimension out of
/// range.
static FailureOr<DimSplits> getDimSplits(ShardingAttr sharding, MeshAttr mesh,
                                         int64_t rank, std::string *why) {
  DimSplits splits;
  splits.factors.assign(rank, 1);
  splits.blocks.assign(rank, 1);
  splits.axes.resize(rank);
  for (auto [axis, placement] :
       llvm::zip(sharding.getAxes(), sharding.getPlacements())) {
    std::optional<int64_t> size = mesh.getAxisSize(axis.getValue());
    if (!size) {
      if (why)
        *why = "mesh axis '" + axis.getValue().str() + "' is not in the mesh " +
               toString(mesh);
      return failure();
    }
    if (!placement.isShard())
      continue;
    int64_t dim = placement.getDim();
    if (dim < 0 || dim >= rank) {
      if (why)
        *why = "mesh axis '" + axis.getValue().str() + "' shards dimension " +
               std::to_string(dim) + ", out of range for rank " +
               std::to_string(rank);
      return failure();
    }
    splits.factors[dim] *= *size;
    splits.blocks[dim] = std::max(splits.blocks[dim], placement.getBlocks());
    splits.axes[dim].push_back(axis.getValue());
  }
  return splits;
}

FailureOr<SmallVector<int64_t>>
ShardingAttr::getLocalShape(ArrayRef<int64_t> globalShape, MeshAttr mesh,
                            std::string *why) const {
  FailureOr<DimSplits> splits =
      getDimSplits(*this, mesh, globalShape.size(), why);
  if (failed(splits))
    return failure();
  SmallVector<int64_t> local(globalShape);
  for (size_t dim = 0; dim < local.size(); ++dim) {
    int64_t &size = local[dim];
    int64_t factor = splits->factors[dim];
    if (ShapedType::isDynamic(size) || factor == 1)
      continue;
    int64_t blocks = splits->blocks[dim];
    if (size % (factor * blocks) != 0) {
      if (why)
        *why = "dimension " + std::to_string(dim) + " (size " +
               std::to_string(size) + ") is not divisible by " +
               std::to_string(factor) +
               ", the number of ranks along mesh axes " +
               llvm::join(splits->axes[dim], ", ") +
               (blocks > 1 ? " times " + std::to_string(blocks) + " blocks"
                           : std::string());
      return failure();
    }
    size /= factor;
  }
  return local;
}

FailureOr<SmallVector<int64_t>>
ShardingAttr::getGlobalShape(ArrayRef<int64_t> localShape, MeshAttr mesh,
                             std::string *why) const {
  FailureOr<DimSplits> splits =
      getDimSplits(*this, mesh, localShape.size(), why);
  if (failed(splits))
    return failure();
  SmallVector<int64_t> global(localShape);
  for (size_t dim = 0; dim < global.size(); ++dim)
    if (!ShapedType::isDynamic(global[dim]))
      global[dim] *= splits->factors[dim];
  return global;
}

std::optional<std::string> ShardingAttr::verifyFor(RankedTensorType type,
                                                   MeshAttr mesh) const {
  std::string why;
  std::optional<unsigned> previous;
  for (StringAttr axis : getAxes()) {
    std::optional<unsigned> index = mesh.getAxisIndex(axis.getValue());
    if (!index)
      break; // Reported by getLocalShape.
    if (previous && *index < *previous)
      return "mesh axis '" + axis.getValue().str() +
             "' is listed after mesh axis '" +
             mesh.getAxisNames()[*previous].getValue().str() +
             "'; axes are listed in mesh order";
    previous = index;
  }
  if (failed(getLocalShape(type.getShape(), mesh, &why)))
    return why;
  return std::nullopt;
}
