//===- DataLoader.cpp - llm.c token shards --------------------------------===//

#include "Trainer/DataLoader.h"

#include "Core/Error.h"
#include "Trainer/Fingerprint.h"
#include "Trainer/Init.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmcrt {

namespace {

bool preadAll(int fd, void *dst, size_t size, off_t offset) {
  char *out = static_cast<char *>(dst);
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    out += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

int32_t readLE32(const unsigned char *p) {
  return static_cast<int32_t>(
      static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
      static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24);
}

uint64_t mix(uint64_t x) { return Rng(x).next(); }

/// Fails naming `flag`, the file, the token and its offset when a token of
/// the shard is >= vocab: a max-reduction over chunks of the file (a loop
/// the compiler vectorises), then a search of the chunk that holds one.
void scanVocabulary(const std::string &flag, const Shard &shard,
                    int64_t vocab) {
  if (vocab > 0xffff)
    return; // every uint16 token fits
  int fd = ::open(shard.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(shard.path + ": cannot open: " + std::strerror(errno));
  constexpr int64_t kChunk = int64_t(1) << 20; // tokens
  std::vector<uint16_t> chunk(static_cast<size_t>(std::min(kChunk,
                                                           shard.tokens)));
  for (int64_t first = 0; first < shard.tokens; first += kChunk) {
    const size_t n = static_cast<size_t>(std::min(kChunk, shard.tokens - first));
    const off_t at = kShardHeaderBytes + 2 * first;
    if (!preadAll(fd, chunk.data(), n * 2, at)) {
      ::close(fd);
      fail(shard.path + ": unexpected end of file reading tokens at byte "
                        "offset " + std::to_string(at) + " (file changed?)");
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i < n; ++i)
      chunk[i] = static_cast<uint16_t>(chunk[i] >> 8 | chunk[i] << 8);
#endif
    const uint16_t *p = chunk.data();
    uint16_t largest = 0;
    for (size_t i = 0; i < n; ++i)
      largest = p[i] > largest ? p[i] : largest;
    if (largest < vocab)
      continue;
    ::close(fd);
    size_t i = 0;
    while (p[i] < vocab)
      ++i;
    fail(flag + " " + shard.path + ": token " + std::to_string(p[i]) +
         " at byte offset " + std::to_string(at + 2 * static_cast<off_t>(i)) +
         " is outside the vocabulary (" + std::to_string(vocab) +
         " tokens): token index " +
         std::to_string(first + static_cast<int64_t>(i)) +
         " of the shard, found before training");
  }
  ::close(fd);
}

} // namespace

uint64_t shuffleKey(uint64_t seed, int64_t epoch, int64_t stream) {
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(epoch)) ^
             static_cast<uint64_t>(stream));
}

std::vector<int64_t> shufflePermutation(int64_t n, uint64_t key) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    p[static_cast<size_t>(i)] = i;
  Rng rng(key);
  for (int64_t i = n - 1; i > 0; --i) {
    uint64_t j = rng.next() % static_cast<uint64_t>(i + 1);
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

Shard openShard(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  unsigned char header[kShardHeaderBytes];
  bool isFile = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  bool complete = isFile && st.st_size >= kShardHeaderBytes &&
                  preadAll(fd, header, sizeof(header), 0);
  ::close(fd);
  if (!isFile)
    fail(path + ": not a regular file");
  if (!complete)
    fail(path + ": file is " + std::to_string(st.st_size) +
         " bytes, shorter than the 1024-byte shard header (byte offset " +
         std::to_string(st.st_size) + ")");
  int32_t magic = readLE32(header);
  if (magic != kShardMagic)
    fail(path + ": bad magic " + std::to_string(magic) +
         " at byte offset 0 (expected 20240520: not an llm.c token shard)");
  int32_t version = readLE32(header + 4);
  if (version != kShardVersion)
    fail(path + ": unsupported version " + std::to_string(version) +
         " at byte offset 4 (expected 1)");
  int64_t count = static_cast<uint32_t>(readLE32(header + 8));
  int64_t payload = st.st_size - kShardHeaderBytes;
  if (payload != 2 * count)
    fail(path + ": header token count " + std::to_string(count) +
         " at byte offset 8 does not match the file: " +
         std::to_string(payload) + " bytes of tokens after the header" +
         (payload < 2 * count ? " (truncated file?)" : ""));
  return Shard{path, count};
}

DataLoader::DataLoader(const std::string &flag, const std::string &pattern,
                       int64_t vocab, int64_t batch, int64_t seq,
                       DataOrder order, uint64_t seed)
    : vocab(vocab), batch(batch), seq(seq), dataOrder(order), seed(seed) {
  for (const std::string &path : expandPattern(flag, pattern))
    files.push_back(openShard(path));
  // Every token is checked against the vocabulary before training, so that
  // a bad token fails the run at startup rather than at the step reaching it.
  for (const Shard &s : files)
    scanVocabulary(flag, s, vocab);
  bool any = false;
  for (size_t i = 0; i < files.size(); ++i)
    any = any || fits(static_cast<int64_t>(i), 0);
  if (!any)
    fail(flag + " " + pattern + ": no shard holds B*T+1 = " +
         std::to_string(batch * seq + 1) + " tokens (the largest has " +
         [&] {
           int64_t largest = 0;
           for (const Shard &s : files)
             largest = s.tokens > largest ? s.tokens : largest;
           return std::to_string(largest);
         }() +
         ")");
  buffer.resize(static_cast<size_t>(batch * seq + 1));
  for (size_t i = 0; i < files.size(); ++i)
    if (fits(static_cast<int64_t>(i), 0))
      usable.push_back(static_cast<int64_t>(i));
  if (dataOrder == DataOrder::Shuffled)
    arrange(true);
}

DataLoader::~DataLoader() {
  if (fd >= 0)
    ::close(fd);
}

bool DataLoader::fits(int64_t s, int64_t o) const {
  return o + batch * seq + 1 <= files[static_cast<size_t>(s)].tokens;
}

void DataLoader::seek(int64_t shardIndex, int64_t tokenOffset) {
  if (dataOrder != DataOrder::Sequential)
    fail("data position: a sequential position for a loader in shuffled "
         "order");
  if (shardIndex < 0 || shardIndex >= static_cast<int64_t>(files.size()) ||
      tokenOffset < 0 ||
      tokenOffset > files[static_cast<size_t>(shardIndex)].tokens)
    fail("data position (shard " + std::to_string(shardIndex) + ", token " +
         std::to_string(tokenOffset) + ") is outside the " +
         std::to_string(files.size()) + " data shard(s)");
  shard = shardIndex;
  offset = tokenOffset;
}

void DataLoader::reset() {
  if (dataOrder == DataOrder::Shuffled)
    seekShuffled(ShufflePosition{});
  else
    seek(0, 0);
}

int64_t DataLoader::batchesIn(int64_t s) const {
  int64_t n = files[static_cast<size_t>(s)].tokens;
  return n >= batch * seq + 1 ? (n - 1) / (batch * seq) : 0;
}

void DataLoader::arrange(bool newEpoch) {
  if (newEpoch) {
    std::vector<int64_t> p = shufflePermutation(
        static_cast<int64_t>(usable.size()), shuffleKey(seed, pos.epoch, 0));
    shardOrder.clear();
    for (int64_t i : p)
      shardOrder.push_back(usable[static_cast<size_t>(i)]);
  }
  shard = shardOrder[static_cast<size_t>(pos.shard)];
  batchOrder =
      shufflePermutation(batchesIn(shard), shuffleKey(seed, pos.epoch, shard + 1));
  offset = batchOrder[static_cast<size_t>(pos.batch)] * batch * seq;
}

void DataLoader::seekShuffled(const ShufflePosition &p) {
  if (dataOrder != DataOrder::Shuffled)
    fail("data position: a shuffled position for a loader in sequential "
         "order");
  bool valid = p.epoch >= 0 && p.shard >= 0 &&
               p.shard < static_cast<int64_t>(usable.size()) && p.batch >= 0;
  if (valid) {
    pos = ShufflePosition{p.epoch, p.shard, 0};
    arrange(true);
    valid = p.batch < static_cast<int64_t>(batchOrder.size());
  }
  if (!valid)
    fail("data position (epoch " + std::to_string(p.epoch) + ", shard " +
         std::to_string(p.shard) + ", batch " + std::to_string(p.batch) +
         " of the shuffled order) is outside the " +
         std::to_string(usable.size()) + " usable data shard(s)");
  pos = p;
  arrange(false);
}

int64_t DataLoader::batchesPerEpoch() const {
  int64_t total = 0;
  for (const Shard &s : files)
    if (s.tokens >= batch * seq + 1)
      total += (s.tokens - 1) / (batch * seq);
  return total;
}

void DataLoader::openCurrent() {
  if (fdShard == shard)
    return;
  if (fd >= 0)
    ::close(fd);
  fd = ::open(files[static_cast<size_t>(shard)].path.c_str(),
              O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(files[static_cast<size_t>(shard)].path +
         ": cannot open: " + std::strerror(errno));
  fdShard = shard;
}

void DataLoader::next(int32_t *inputs, int32_t *targets) {
  if (dataOrder == DataOrder::Sequential) {
    while (!fits(shard, offset)) {
      shard = (shard + 1) % static_cast<int64_t>(files.size());
      offset = 0;
    }
    read(inputs, targets);
    offset += batch * seq;
    return;
  }
  read(inputs, targets);
  // The next batch: in this shard, the next shard of the epoch, or the first
  // shard of the next epoch.
  bool newEpoch = false;
  if (++pos.batch == static_cast<int64_t>(batchOrder.size())) {
    pos.batch = 0;
    if (++pos.shard == static_cast<int64_t>(shardOrder.size())) {
      pos.shard = 0;
      ++pos.epoch;
      newEpoch = true;
    }
    arrange(newEpoch);
    return;
  }
  offset = batchOrder[static_cast<size_t>(pos.batch)] * batch * seq;
}

void DataLoader::read(int32_t *inputs, int32_t *targets) {
  int64_t n = batch * seq;
  openCurrent();
  const std::string &path = files[static_cast<size_t>(shard)].path;
  off_t byteOffset = kShardHeaderBytes + 2 * offset;
  if (!preadAll(fd, buffer.data(), static_cast<size_t>(n + 1) * 2, byteOffset))
    fail(path + ": unexpected end of file reading tokens at byte offset " +
         std::to_string(byteOffset) + " (file changed?)");
  for (int64_t i = 0; i <= n; ++i) {
    const unsigned char *b = reinterpret_cast<const unsigned char *>(
        &buffer[static_cast<size_t>(i)]);
    int32_t token = b[0] | b[1] << 8;
    if (token >= vocab)
      fail(path + ": token " + std::to_string(token) + " at byte offset " +
           std::to_string(byteOffset + 2 * i) + " is outside the vocabulary (" +
           std::to_string(vocab) + " tokens)");
    if (i < n)
      inputs[i] = token;
    if (i > 0)
      targets[i - 1] = token;
  }
}

} // namespace lmcrt
