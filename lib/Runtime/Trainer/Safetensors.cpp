//===- Safetensors.cpp - Reading and writing safetensors files ------------===//

#include "Trainer/Safetensors.h"

#include "Core/Error.h"
#include "Trainer/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmcrt {

namespace {

int64_t dtypeSize(const std::string &dtype) {
  static const std::pair<const char *, int64_t> sizes[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (auto &entry : sizes)
    if (dtype == entry.first)
      return entry.second;
  return 0;
}

/// Reads exactly `size` bytes at `offset`; false on a short read.
bool preadAll(int fd, void *dst, uint64_t size, uint64_t offset) {
  char *out = static_cast<char *>(dst);
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    out += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

void writeAll(int fd, const std::string &path, const void *src, uint64_t size) {
  const char *in = static_cast<const char *>(src);
  while (size > 0) {
    ssize_t n = ::write(fd, in, size > (1u << 30) ? (1u << 30) : size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      fail(path + ": write failed: " + std::strerror(errno));
    in += n;
    size -= static_cast<uint64_t>(n);
  }
}

/// IEEE half precision (1 sign, 5 exponent, 10 fraction bits) to float:
/// exact, subnormals, infinities and NaN included.
float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, fraction = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (fraction << 13); // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (fraction << 13);
  } else if (fraction == 0) {
    bits = sign; // +-0
  } else {
    // Subnormal: fraction * 2^-24, normalised for the wider exponent.
    int shift = 0;
    while (!(fraction & 0x400u)) {
      fraction <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) |
           ((fraction & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

/// bfloat16 (the upper half of a float) to float: exact.
float bf16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

class FileCloser {
public:
  explicit FileCloser(int fd) : fd(fd) {}
  ~FileCloser() {
    if (fd >= 0)
      ::close(fd);
  }
  int fd;
};

} // namespace

const TensorEntry *SafetensorsHeader::find(const std::string &name) const {
  for (const TensorEntry &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

SafetensorsHeader readSafetensorsHeader(const std::string &path) {
  auto error = [&](const std::string &message) { fail(path + ": " + message); };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    error(std::string("cannot open: ") + std::strerror(errno));
  FileCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    error("not a regular file");
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  if (fileSize < 8)
    error("file is " + std::to_string(fileSize) +
          " bytes, too short for the 8-byte header length");
  unsigned char lengthBytes[8];
  if (!preadAll(fd, lengthBytes, 8, 0))
    error("cannot read the header length");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i)
    headerLength = headerLength << 8 | lengthBytes[i];
  if (headerLength < 2)
    error("header length " + std::to_string(headerLength) +
          " at byte offset 0 is too small");
  if (headerLength > kMaxSafetensorsHeader)
    error("header length " + std::to_string(headerLength) +
          " at byte offset 0 exceeds the 100 MiB limit");
  if (headerLength > fileSize - 8)
    error("header length " + std::to_string(headerLength) +
          " at byte offset 0 runs past the end of the " +
          std::to_string(fileSize) + "-byte file");
  std::string text(headerLength, '\0');
  if (!preadAll(fd, &text[0], headerLength, 8))
    error("cannot read the header");

  SafetensorsHeader header;
  header.path = path;
  header.dataStart = 8 + headerLength;
  uint64_t dataSize = fileSize - header.dataStart;

  json::Value root;
  std::string jsonError;
  if (!json::parse(text, root, jsonError))
    error("bad header: " + jsonError);
  if (root.kind != json::Value::Kind::Object)
    error("bad header: not a JSON object");
  for (size_t i = 0; i < root.keys.size(); ++i) {
    const std::string &name = root.keys[i];
    const json::Value &value = root.items[i];
    if (name == "__metadata__") {
      if (value.kind != json::Value::Kind::Object)
        error("bad header: __metadata__ is not an object");
      for (size_t j = 0; j < value.keys.size(); ++j) {
        if (value.items[j].kind != json::Value::Kind::String)
          error("bad header: metadata value of " + json::quote(value.keys[j]) +
                " is not a string");
        header.metadata[value.keys[j]] = value.items[j].string;
      }
      continue;
    }
    std::string where = "tensor " + json::quote(name) + ": ";
    if (name.empty())
      error("bad header: empty tensor name");
    if (value.kind != json::Value::Kind::Object)
      error("bad header: " + where + "not an object");
    TensorEntry tensor;
    tensor.name = name;
    for (const std::string &key : value.keys)
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        error("bad header: " + where + "unknown field " + json::quote(key));
    const json::Value *dtype = value.find("dtype");
    const json::Value *shape = value.find("shape");
    const json::Value *offsets = value.find("data_offsets");
    if (!dtype || dtype->kind != json::Value::Kind::String)
      error("bad header: " + where + "missing or non-string dtype");
    int64_t elemSize = dtypeSize(dtype->string);
    if (elemSize == 0)
      error("bad header: " + where + "unknown dtype " +
            json::quote(dtype->string));
    tensor.dtype = dtype->string;
    if (!shape || shape->kind != json::Value::Kind::Array)
      error("bad header: " + where + "missing or non-array shape");
    uint64_t bytes = static_cast<uint64_t>(elemSize);
    for (const json::Value &dim : shape->items) {
      if (dim.kind != json::Value::Kind::Int || dim.integer < 0)
        error("bad header: " + where + "shape entries must be integers >= 0");
      uint64_t d = static_cast<uint64_t>(dim.integer);
      if (d != 0 && bytes > UINT64_MAX / d)
        error("bad header: " + where + "shape too large");
      bytes *= d;
      tensor.shape.push_back(dim.integer);
    }
    if (!offsets || offsets->kind != json::Value::Kind::Array ||
        offsets->items.size() != 2 ||
        offsets->items[0].kind != json::Value::Kind::Int ||
        offsets->items[1].kind != json::Value::Kind::Int ||
        offsets->items[0].integer < 0 || offsets->items[1].integer < 0)
      error("bad header: " + where + "data_offsets must be two integers >= 0");
    tensor.begin = static_cast<uint64_t>(offsets->items[0].integer);
    tensor.end = static_cast<uint64_t>(offsets->items[1].integer);
    if (tensor.begin > tensor.end)
      error("bad header: " + where + "data_offsets begin > end");
    if (tensor.end > dataSize)
      error("bad header: " + where + "data_offsets [" +
            std::to_string(tensor.begin) + ", " + std::to_string(tensor.end) +
            ") run past the " + std::to_string(dataSize) +
            "-byte data section");
    if (tensor.end - tensor.begin != bytes)
      error("bad header: " + where + "holds " +
            std::to_string(tensor.end - tensor.begin) + " bytes, but " +
            tensor.dtype + " of shape [" +
            [&] {
              std::string s;
              for (size_t k = 0; k < tensor.shape.size(); ++k)
                s += (k ? "," : "") + std::to_string(tensor.shape[k]);
              return s;
            }() +
            "] needs " + std::to_string(bytes));
    header.tensors.push_back(std::move(tensor));
  }

  // The tensors must tile the data section: no overlap, no holes.
  std::vector<const TensorEntry *> order;
  for (const TensorEntry &t : header.tensors)
    order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorEntry *a, const TensorEntry *b) {
              return a->begin != b->begin ? a->begin < b->begin
                                          : a->end < b->end;
            });
  uint64_t covered = 0;
  for (const TensorEntry *t : order) {
    if (t->begin < covered)
      error("bad header: tensor " + json::quote(t->name) +
            " overlaps another tensor");
    if (t->begin > covered)
      error("bad header: data bytes [" + std::to_string(covered) + ", " +
            std::to_string(t->begin) + ") belong to no tensor");
    covered = t->end;
  }
  if (covered != dataSize)
    error("bad header: data section is " + std::to_string(dataSize) +
          " bytes but the tensors cover " + std::to_string(covered));
  return header;
}

void readTensorBytes(const SafetensorsHeader &file, const TensorEntry &tensor,
                     void *dst) {
  int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(file.path + ": cannot open: " + std::strerror(errno));
  FileCloser closer(fd);
  if (!preadAll(fd, dst, tensor.end - tensor.begin,
                file.dataStart + tensor.begin))
    fail(file.path + ": cannot read tensor " + json::quote(tensor.name) +
         " at byte offset " + std::to_string(file.dataStart + tensor.begin) +
         " (file changed?)");
}

bool readTensorAsF32(const SafetensorsHeader &file, const TensorEntry &tensor,
                     float *dst) {
  if (tensor.dtype == "F32") {
    readTensorBytes(file, tensor, dst);
    return true;
  }
  if (tensor.dtype != "F16" && tensor.dtype != "BF16")
    return false;
  const uint64_t count = (tensor.end - tensor.begin) / 2;
  std::vector<unsigned char> raw(tensor.end - tensor.begin);
  readTensorBytes(file, tensor, raw.data());
  float (*widen)(uint16_t) = tensor.dtype == "F16" ? halfToFloat : bf16ToFloat;
  for (uint64_t i = 0; i < count; ++i) // little-endian on disk
    dst[i] = widen(static_cast<uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8)));
  return true;
}

void writeSafetensors(int fd, const std::string &path,
                      const std::vector<TensorOut> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  std::vector<RawTensorOut> raw;
  raw.reserve(tensors.size());
  for (const TensorOut &t : tensors)
    raw.push_back({t.name, "F32", 4, t.shape, t.data});
  writeSafetensorsRaw(fd, path, raw, metadata);
}

void writeSafetensorsRaw(int fd, const std::string &path,
                         const std::vector<RawTensorOut> &tensors,
                         const std::map<std::string, std::string> &metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (auto &kv : metadata) {
      header += (first ? "" : ",") + json::quote(kv.first) + ":" +
                json::quote(kv.second);
      first = false;
    }
    header += "}";
  }
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const RawTensorOut &t : tensors) {
    uint64_t bytes = static_cast<uint64_t>(t.elementSize);
    std::string shape;
    for (size_t k = 0; k < t.shape.size(); ++k) {
      bytes *= static_cast<uint64_t>(t.shape[k]);
      shape += (k ? "," : "") + std::to_string(t.shape[k]);
    }
    if (header.size() > 1)
      header += ",";
    header += json::quote(t.name) + ":{\"dtype\":" + json::quote(t.dtype) +
              ",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + bytes) +
              "]}";
    offset += bytes;
    sizes.push_back(bytes);
  }
  header += "}";
  // Pad with spaces so that the data starts 8-byte aligned.
  while ((8 + header.size()) % 8 != 0)
    header += ' ';
  unsigned char length[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<unsigned char>(n >> (8 * i));
  writeAll(fd, path, length, 8);
  writeAll(fd, path, header.data(), header.size());
  for (size_t i = 0; i < tensors.size(); ++i)
    writeAll(fd, path, tensors[i].data, sizes[i]);
}

} // namespace lmcrt
