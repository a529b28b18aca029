//===- Safetensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// Layout: u64 little-endian header length N, N bytes of JSON, then the data.
// The header maps tensor names to {"dtype", "shape", "data_offsets"} (offsets
// relative to the start of the data) plus an optional "__metadata__" object
// of string -> string.
//
// readSafetensorsHeader never trusts the file: it checks the header length
// against the file size, the JSON, every field's type, dtype names, that
// each tensor's byte size equals its shape times its element size, and that
// the tensors tile the data section exactly (in range, non-overlapping, no
// holes). Every error is a RuntimeError naming the file.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_SAFETENSORS_H
#define LMC_LIB_RUNTIME_SAFETENSORS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lmcrt {

/// Headers larger than this are refused before being read.
constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

struct TensorEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // relative to the data section
};

struct SafetensorsHeader {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::vector<TensorEntry> tensors; // in header order
  uint64_t dataStart = 0;           // file offset of the data section

  const TensorEntry *find(const std::string &name) const;
};

/// Reads and validates the header of `path`.
SafetensorsHeader readSafetensorsHeader(const std::string &path);

/// Reads the bytes of `tensor` into `dst` (tensor.end - tensor.begin bytes).
void readTensorBytes(const SafetensorsHeader &file, const TensorEntry &tensor,
                     void *dst);

/// Reads an F32, F16 or BF16 tensor (as Hugging Face writes them) into
/// `dst` as f32, the half formats widened exactly (subnormals, infinities
/// and NaN included); returns false, reading nothing, for any other dtype.
bool readTensorAsF32(const SafetensorsHeader &file, const TensorEntry &tensor,
                     float *dst);

/// An F32 tensor to write.
struct TensorOut {
  std::string name;
  std::vector<int64_t> shape;
  const float *data;
};

/// Writes a complete safetensors file (F32 tensors, in the given order) to
/// the open descriptor `fd`; throws RuntimeError naming `path` on I/O errors.
void writeSafetensors(int fd, const std::string &path,
                      const std::vector<TensorOut> &tensors,
                      const std::map<std::string, std::string> &metadata);

/// A tensor of any dtype to write: `data` holds its little-endian elements
/// of `elementSize` bytes, row-major.
struct RawTensorOut {
  std::string name;
  std::string dtype; // "F32", "I32", ...
  int64_t elementSize;
  std::vector<int64_t> shape;
  const void *data;
};

/// writeSafetensors for tensors of any dtype.
void writeSafetensorsRaw(int fd, const std::string &path,
                         const std::vector<RawTensorOut> &tensors,
                         const std::map<std::string, std::string> &metadata);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_SAFETENSORS_H
