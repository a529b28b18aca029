//===- DataLoader.h - llm.c token shards ------------------------*- C++ -*-===//
//
// A shard is a header of 256 little-endian int32 ([0] magic 20240520,
// [1] version 1, [2] token count) followed by that many uint16 tokens; the
// file size must be exactly 1024 + 2 * count. A pattern names one shard or a
// glob of shards, taken in sorted order.
//
// next() takes B*T+1 consecutive tokens at the current position: inputs are
// the first B*T, targets the last B*T (shifted by one), both B x T row-major;
// then it advances by B*T. When fewer than B*T+1 tokens remain in the current
// shard it moves to the next shard (wrapping to the first) and starts at its
// beginning; shards shorter than B*T+1 are skipped, and if none is long
// enough the constructor fails. Headers are checked when the loader opens;
// tokens as they are read (a token >= vocab is an error naming the file and
// the byte offset).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_DATALOADER_H
#define LMC_LIB_RUNTIME_DATALOADER_H

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersion = 1;
constexpr int64_t kShardHeaderBytes = 256 * 4;

struct Shard {
  std::string path;
  int64_t tokens = 0;
};

/// Reads and checks the header of one shard; throws RuntimeError.
Shard openShard(const std::string &path);

class DataLoader {
public:
  /// `flag` names the option in errors ("--data", "--val").
  DataLoader(const std::string &flag, const std::string &pattern, int64_t vocab,
             int64_t batch, int64_t seq);
  ~DataLoader();
  DataLoader(const DataLoader &) = delete;
  DataLoader &operator=(const DataLoader &) = delete;

  /// Fills inputs and targets (B*T int32 each) and advances.
  void next(int32_t *inputs, int32_t *targets);

  /// Position of the next batch: shard index and token offset in it.
  int64_t shardIndex() const { return shard; }
  int64_t tokenOffset() const { return offset; }
  /// Moves to a saved position; throws RuntimeError if it is out of range.
  void seek(int64_t shardIndex, int64_t tokenOffset);
  void reset() { seek(0, 0); }

  const std::vector<Shard> &shards() const { return files; }
  /// Batches that fit in the shards without wrapping.
  int64_t batchesPerEpoch() const;

private:
  bool fits(int64_t shardIndex, int64_t tokenOffset) const;
  void openCurrent();

  std::vector<Shard> files;
  int64_t vocab, batch, seq;
  int64_t shard = 0, offset = 0;
  int fd = -1;
  int64_t fdShard = -1;
  std::vector<uint16_t> buffer;
};

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_DATALOADER_H
