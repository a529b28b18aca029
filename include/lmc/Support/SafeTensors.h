//===- SafeTensors.h - Reading safetensors files ----------------*- C++ -*-===//
//
// A validating reader of the safetensors format: an 8-byte little-endian
// header length, a JSON header mapping names to dtype, shape and
// data_offsets, then the tensor bytes. Nothing in the header is trusted.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_SUPPORT_SAFETENSORS_H
#define LMC_SUPPORT_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir::lmc {

/// One tensor of a safetensors file; `data` points into the file's buffer.
struct SafeTensor {
  std::string dtype; // "F32", "F64", "I32", ...
  std::vector<int64_t> shape;
  llvm::ArrayRef<char> data;
};

/// A safetensors file held in memory.
class SafeTensorsFile {
public:
  /// Reads and validates `path`. Errors name the file and the problem.
  static llvm::Expected<SafeTensorsFile> open(llvm::StringRef path);

  const llvm::StringMap<SafeTensor> &tensors() const { return tensors_; }
  const llvm::StringMap<std::string> &metadata() const { return metadata_; }
  /// The tensor names in file order.
  llvm::ArrayRef<std::string> names() const { return names_; }

  /// Bytes per element of a dtype, or 0 if the dtype is unknown.
  static unsigned elementSize(llvm::StringRef dtype);

private:
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  llvm::StringMap<SafeTensor> tensors_;
  llvm::StringMap<std::string> metadata_;
  std::vector<std::string> names_;
};

} // namespace mlir::lmc

#endif // LMC_SUPPORT_SAFETENSORS_H
