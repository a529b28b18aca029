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
// enough the constructor fails. Headers are checked when the loader opens,
// and so is every token, before training (a token >= vocab is an error
// naming the flag, the file, the token and its byte offset; the scan reads
// each shard once, about 0.1 s per 100M tokens from the page cache); tokens
// are checked again as they are read.
//
// That is the sequential order. The shuffled order (DataOrder::Shuffled, as
// llm.c's loader does it) visits the same batches -- in a shard of N tokens
// the batch starts k*B*T for 0 <= k < (N-1)/(B*T), over the shards holding at
// least B*T+1 tokens -- epoch after epoch, each epoch in a new order: a
// permutation of the shards, and within each shard a permutation of its
// batch starts. Every permutation is a function of (seed, epoch, stream)
// alone, so a position (epoch, shard order index, batch order index) is all a
// resumed run needs, and every rank of a mesh draws the same batches:
//   key(seed, epoch, stream) = mix(mix(mix(seed) ^ epoch) ^ stream), where
//     mix(x) is the first output of splitmix64 (Init.h) seeded with x;
//     stream 0 orders the shards, stream f+1 the batch starts of the shard at
//     index f of the sorted glob;
//   permutation(n, key): the identity [0, n) shuffled by Fisher-Yates with a
//     splitmix64 generator seeded with key: for i = n-1 down to 1, swap
//     element i with element next() % (i+1).
// (python/lmc/testing/trainer_reference.py implements the same order.)
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

enum class DataOrder { Sequential, Shuffled };

/// Where the shuffled order stands: the epoch, the index in that epoch's
/// order of the shards, the index in that shard's order of batch starts.
struct ShufflePosition {
  int64_t epoch = 0;
  int64_t shard = 0;
  int64_t batch = 0;
};

/// The permutation key of (seed, epoch, stream) described above.
uint64_t shuffleKey(uint64_t seed, int64_t epoch, int64_t stream);
/// [0, n) shuffled by Fisher-Yates with splitmix64 seeded with `key`.
std::vector<int64_t> shufflePermutation(int64_t n, uint64_t key);

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
             int64_t batch, int64_t seq,
             DataOrder order = DataOrder::Sequential, uint64_t seed = 0);
  ~DataLoader();
  DataLoader(const DataLoader &) = delete;
  DataLoader &operator=(const DataLoader &) = delete;

  /// Fills inputs and targets (B*T int32 each) and advances.
  void next(int32_t *inputs, int32_t *targets);

  /// Position of the next batch: shard index and token offset in it.
  int64_t shardIndex() const { return shard; }
  int64_t tokenOffset() const { return offset; }
  /// Moves to a saved position of the sequential order; throws RuntimeError
  /// if it is out of range.
  void seek(int64_t shardIndex, int64_t tokenOffset);
  /// Back to the first batch (of epoch 0 in the shuffled order).
  void reset();

  DataOrder order() const { return dataOrder; }
  /// The shuffled order's position of the next batch (normalised: it names
  /// a batch that exists, moving to the next shard or epoch eagerly).
  ShufflePosition shufflePosition() const { return pos; }
  /// Moves to a saved position of the shuffled order; throws RuntimeError if
  /// it is out of range.
  void seekShuffled(const ShufflePosition &position);

  const std::vector<Shard> &shards() const { return files; }
  /// Batches that fit in the shards without wrapping.
  int64_t batchesPerEpoch() const;

private:
  bool fits(int64_t shardIndex, int64_t tokenOffset) const;
  void openCurrent();
  /// Reads the batch at (shard, offset) into inputs and targets.
  void read(int32_t *inputs, int32_t *targets);
  /// Shuffled order: the shard order of pos.epoch and the batch order of the
  /// shard at pos.shard; then (shard, offset) of pos.
  void arrange(bool newEpoch);
  int64_t batchesIn(int64_t shardIndex) const;

  std::vector<Shard> files;
  int64_t vocab, batch, seq;
  int64_t shard = 0, offset = 0;
  int fd = -1;
  int64_t fdShard = -1;
  std::vector<uint16_t> buffer;

  DataOrder dataOrder;
  uint64_t seed;
  ShufflePosition pos;
  std::vector<int64_t> usable;     // shards holding >= B*T+1 tokens
  std::vector<int64_t> shardOrder; // shard indices, this epoch's order
  std::vector<int64_t> batchOrder; // batch starts / (B*T), this shard
};

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_DATALOADER_H
