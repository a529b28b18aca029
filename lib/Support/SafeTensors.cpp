//===- SafeTensors.cpp - Reading safetensors files ------------------------===//

#include "lmc/Support/SafeTensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"

#include <algorithm>

using namespace mlir::lmc;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

unsigned SafeTensorsFile::elementSize(StringRef dtype) {
  return llvm::StringSwitch<unsigned>(dtype)
      .Cases({"F64", "I64", "U64"}, 8)
      .Cases({"F32", "I32", "U32"}, 4)
      .Cases({"F16", "BF16", "I16", "U16"}, 2)
      .Cases({"I8", "U8", "BOOL"}, 1)
      .Default(0);
}

static Error fail(StringRef path, const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + msg);
}

Expected<SafeTensorsFile> SafeTensorsFile::open(StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
  if (!bufferOr)
    return fail(path, "cannot read: " + bufferOr.getError().message());
  SafeTensorsFile file;
  file.buffer_ = std::move(*bufferOr);
  StringRef bytes = file.buffer_->getBuffer();
  if (bytes.size() < 8)
    return fail(path, "truncated: " + llvm::Twine(bytes.size()) +
                          " bytes, the 8-byte header length is missing");
  uint64_t headerLen = llvm::support::endian::read64le(bytes.data());
  if (headerLen > bytes.size() - 8)
    return fail(path, "header length " + llvm::Twine(headerLen) +
                          " exceeds the " + llvm::Twine(bytes.size() - 8) +
                          " bytes after it");
  StringRef header = bytes.substr(8, headerLen);
  StringRef data = bytes.substr(8 + headerLen);

  Expected<llvm::json::Value> json = llvm::json::parse(header);
  if (!json)
    return fail(path, "header is not valid JSON: " +
                          llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail(path, "header is not a JSON object");

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto &entry : *root) {
    StringRef name = entry.first;
    if (name == "__metadata__") {
      const llvm::json::Object *meta = entry.second.getAsObject();
      if (!meta)
        return fail(path, "__metadata__ is not an object");
      for (const auto &kv : *meta) {
        std::optional<StringRef> value = kv.second.getAsString();
        if (!value)
          return fail(path, "__metadata__ value of '" + kv.first.str() +
                                "' is not a string");
        file.metadata_[kv.first.str()] = value->str();
      }
      continue;
    }
    const llvm::json::Object *desc = entry.second.getAsObject();
    if (!desc)
      return fail(path, "entry '" + name + "' is not an object");
    std::optional<StringRef> dtype = desc->getString("dtype");
    const llvm::json::Array *shape = desc->getArray("shape");
    const llvm::json::Array *offsets = desc->getArray("data_offsets");
    if (!dtype || !shape || !offsets)
      return fail(path,
                  "entry '" + name + "' lacks dtype, shape or data_offsets");
    unsigned elemSize = elementSize(*dtype);
    if (!elemSize)
      return fail(path,
                  "entry '" + name + "' has unknown dtype '" + *dtype + "'");
    SafeTensor tensor;
    tensor.dtype = dtype->str();
    uint64_t numElements = 1;
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> size = d.getAsInteger();
      if (!size || *size < 0 || *size > (int64_t(1) << 40))
        return fail(path, "entry '" + name + "' has an invalid shape");
      tensor.shape.push_back(*size);
      numElements *= static_cast<uint64_t>(*size);
      if (numElements > (uint64_t(1) << 40))
        return fail(path, "entry '" + name + "' is implausibly large");
    }
    if (offsets->size() != 2)
      return fail(path,
                  "entry '" + name + "' data_offsets must have two elements");
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin ||
        static_cast<uint64_t>(*end) > data.size())
      return fail(path, "entry '" + name + "' data_offsets are outside the " +
                            llvm::Twine(data.size()) + " data bytes");
    uint64_t expected = numElements * elemSize;
    if (static_cast<uint64_t>(*end - *begin) != expected)
      return fail(path, "entry '" + name + "' holds " +
                            llvm::Twine(*end - *begin) +
                            " bytes but its dtype and shape need " +
                            llvm::Twine(expected));
    tensor.data = llvm::ArrayRef<char>(data.data() + *begin, expected);
    ranges.push_back(
        {static_cast<uint64_t>(*begin), static_cast<uint64_t>(*end)});
    file.names_.push_back(name.str());
    file.tensors_[name] = std::move(tensor);
  }
  llvm::sort(ranges);
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      return fail(path, "tensor data ranges overlap");
  // The JSON object is unordered; report names in data order.
  llvm::sort(file.names_, [&](const std::string &a, const std::string &b) {
    return file.tensors_[a].data.data() < file.tensors_[b].data.data();
  });
  return file;
}
