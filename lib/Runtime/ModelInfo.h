//===- ModelInfo.h - The model description of a compiled model --*- C++ -*-===//
//
// Parses the text `_mlir_ciface_lmc_model_info` returns (format in lmcrt.h)
// and validates it strictly: every field present and in range, parameter
// names unique, parameters in ascending, non-overlapping ranges inside the
// flat buffer.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_MODELINFO_H
#define LMC_LIB_RUNTIME_MODELINFO_H

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

enum class InitKind { Zeros, Ones, Normal };

struct ParamInfo {
  std::string name;
  int64_t offset = 0; // in elements, into the flat parameter buffer
  std::vector<int64_t> shape;
  int64_t numel = 1;
  InitKind init = InitKind::Zeros;
  double std = 0; // standard deviation of InitKind::Normal
  bool decay = false;
};

struct ModelInfo {
  std::string text; // the description as the compiled code returned it
  std::string name;
  int64_t vocab = 0;
  int64_t context = 0;
  int64_t dp = 1, tp = 1; // the mesh the program was partitioned for
  int64_t total = 0;      // elements of the flat parameter buffer
  std::vector<ParamInfo> params;

  const ParamInfo *find(const std::string &name) const;
  /// FNV-1a hash of `text` without its mesh line.
  unsigned long long hash() const;
  /// Number of transformer blocks (1 + the largest i of "h.i." names) and
  /// the embedding width (dim 1 of "wte.weight"); 0 when not recognisable.
  int64_t numLayers() const;
  int64_t channels() const;
};

/// Parses and validates a description; throws RuntimeError naming the line.
ModelInfo parseModelInfo(const std::string &text);

/// "64x192"-style shape text.
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_MODELINFO_H
