//===- Options.h - The typed options of lmc's passes and pipelines -*- C++ -*-//
//
// The enumerated options that passes, pipelines and `lmc compile` share:
// declared here once, with their spellings, their descriptions and their
// defaults. A pass option (Passes.td), a pipeline option (Pipelines.h) and a
// command-line option (tools/lmc) of one of these types take the values
// below through `llvm::cl::values`, so that the option parser rejects any
// other spelling and lists the valid ones.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_SUPPORT_OPTIONS_H
#define LMC_SUPPORT_OPTIONS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

#include <cstdint>
#include <string>

namespace mlir::lmc {

/// What the backward pass recomputes instead of keeping (lmc-autodiff).
enum class Recompute { None, Attention, Block };

/// How attention is trained (lmc-autodiff): the runtime's flash kernels
/// (lmc.flash_attention and its gradient, no T x T matrix), or decomposed
/// into matmul, mask and softmax ops that the backward pass differentiates.
enum class Attention { Flash, Decomposed };

/// The compute precision of the GEMMs; storage, accumulation, master
/// weights and optimizer state stay float32 in all three.
enum class Precision { FP32, TF32, BF16 };

/// What the program is compiled for.
enum class Target { CPU, CUDA };

/// How data-parallel replicas synchronise (lmc-shard): the gradients
/// averaged over dp at every step, or kept local to each replica, whose
/// parameters the trainer averages now and then (local SGD, DiLoCo).
enum class DpSync { AllReduce, Local };

/// The one set of defaults, used by the pass options, the pipeline options
/// and `lmc compile`. Attention defaults to the runtime's flash kernels
/// (what `lmc compile` has always run); the reference pipeline, whose
/// programs run without the runtime, needs `attention=decomposed`.
namespace defaults {
inline constexpr Recompute recompute = Recompute::None;
inline constexpr Attention attention = Attention::Flash;
inline constexpr Precision precision = Precision::FP32;
inline constexpr Target target = Target::CPU;
inline constexpr DpSync dpSync = DpSync::AllReduce;
/// The mesh: none given, lmc-shard partitions for one rank (each axis of
/// its strategy of size 1).
inline constexpr const char *mesh = "";
} // namespace defaults

/// The spelling of each value (what the options accept).
inline llvm::StringRef stringify(Recompute value) {
  switch (value) {
  case Recompute::None:
    return "none";
  case Recompute::Attention:
    return "attention";
  case Recompute::Block:
    return "block";
  }
  return "?";
}
inline llvm::StringRef stringify(Attention value) {
  return value == Attention::Flash ? "flash" : "decomposed";
}
inline llvm::StringRef stringify(Precision value) {
  switch (value) {
  case Precision::FP32:
    return "fp32";
  case Precision::TF32:
    return "tf32";
  case Precision::BF16:
    return "bf16";
  }
  return "?";
}
inline llvm::StringRef stringify(Target value) {
  return value == Target::CPU ? "cpu" : "cuda";
}
inline llvm::StringRef stringify(DpSync value) {
  return value == DpSync::AllReduce ? "allreduce" : "local";
}

/// The values an option of each type accepts, for `llvm::cl::values`.
inline llvm::cl::ValuesClass recomputeValues() {
  return llvm::cl::values(
      clEnumValN(Recompute::None, "none", "keep every forward value needed"),
      clEnumValN(Recompute::Attention, "attention",
                 "recompute the attention probabilities"),
      clEnumValN(Recompute::Block, "block",
                 "keep each block's input, recompute the rest"));
}
inline llvm::cl::ValuesClass attentionValues() {
  return llvm::cl::values(
      clEnumValN(Attention::Flash, "flash",
                 "the runtime's attention kernels (no T x T matrix)"),
      clEnumValN(Attention::Decomposed, "decomposed",
                 "matmul, mask and softmax ops"));
}
inline llvm::cl::ValuesClass precisionValues() {
  return llvm::cl::values(
      clEnumValN(Precision::FP32, "fp32", "float32 products"),
      clEnumValN(Precision::TF32, "tf32",
                 "operands rounded to 10 mantissa bits"),
      clEnumValN(Precision::BF16, "bf16",
                 "operands rounded to 7 mantissa bits"));
}
inline llvm::cl::ValuesClass targetValues() {
  return llvm::cl::values(
      clEnumValN(Target::CPU, "cpu", "the host CPU"),
      clEnumValN(Target::CUDA, "cuda", "NVIDIA GPUs, one per rank"));
}

inline llvm::cl::ValuesClass dpSyncValues() {
  return llvm::cl::values(
      clEnumValN(DpSync::AllReduce, "allreduce",
                 "gradients averaged over dp at every step"),
      clEnumValN(DpSync::Local, "local",
                 "gradients kept local to each dp replica (local SGD)"));
}

namespace detail {
/// llvm::cl's parser of an enumerated option, except that a value it does
/// not know is an error that lists the values it accepts.
template <typename T> class EnumParser : public llvm::cl::generic_parser_base {
protected:
  class OptionInfo : public GenericOptionInfo {
  public:
    OptionInfo(llvm::StringRef name, T v, llvm::StringRef helpStr)
        : GenericOptionInfo(name, helpStr), V(v) {}
    llvm::cl::OptionValue<T> V;
  };
  llvm::SmallVector<OptionInfo, 4> Values;

public:
  EnumParser(llvm::cl::Option &o) : generic_parser_base(o) {}
  using parser_data_type = T;

  unsigned getNumOptions() const override { return unsigned(Values.size()); }
  llvm::StringRef getOption(unsigned n) const override {
    return Values[n].Name;
  }
  llvm::StringRef getDescription(unsigned n) const override {
    return Values[n].HelpStr;
  }
  const llvm::cl::GenericOptionValue &
  getOptionValue(unsigned n) const override {
    return Values[n].V;
  }

  bool parse(llvm::cl::Option &o, llvm::StringRef argName, llvm::StringRef arg,
             T &value) {
    llvm::StringRef text = Owner.hasArgStr() ? arg : argName;
    std::string known;
    for (const OptionInfo &info : Values) {
      if (info.Name == text) {
        value = info.V.getValue();
        return false;
      }
      known += (known.empty() ? "" : ", ") + info.Name.str();
    }
    return o.error("'" + text + "' is not one of: " + known);
  }

  template <class DT>
  void addLiteralOption(llvm::StringRef name, const DT &v,
                        llvm::StringRef helpStr) {
    Values.push_back(OptionInfo(name, static_cast<T>(v), helpStr));
    AddLiteralOption(Owner, name);
  }
  void removeLiteralOption(llvm::StringRef name) {
    Values.erase(Values.begin() + findOption(name));
  }
};
} // namespace detail

} // namespace mlir::lmc

// Options of these types list the valid values when given another one.
namespace llvm::cl {
template <>
class parser<mlir::lmc::Recompute>
    : public mlir::lmc::detail::EnumParser<mlir::lmc::Recompute> {
public:
  using EnumParser::EnumParser;
};
template <>
class parser<mlir::lmc::Attention>
    : public mlir::lmc::detail::EnumParser<mlir::lmc::Attention> {
public:
  using EnumParser::EnumParser;
};
template <>
class parser<mlir::lmc::Precision>
    : public mlir::lmc::detail::EnumParser<mlir::lmc::Precision> {
public:
  using EnumParser::EnumParser;
};
template <>
class parser<mlir::lmc::Target>
    : public mlir::lmc::detail::EnumParser<mlir::lmc::Target> {
public:
  using EnumParser::EnumParser;
};
template <>
class parser<mlir::lmc::DpSync>
    : public mlir::lmc::detail::EnumParser<mlir::lmc::DpSync> {
public:
  using EnumParser::EnumParser;
};
} // namespace llvm::cl

#endif // LMC_SUPPORT_OPTIONS_H
