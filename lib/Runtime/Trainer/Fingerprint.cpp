//===- Fingerprint.cpp - Hashes of files, data and descriptions -----------===//

#include "Trainer/Fingerprint.h"

#include "Core/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <glob.h>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace lmcrt {

namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kP3 = 0x165667B19E3779F9ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t load64(const unsigned char *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t lane(uint64_t acc, uint64_t word) {
  return rotl(acc + word * kP2, 31) * kP1;
}

inline uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    lines.push_back(line);
  return lines;
}

std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

uint64_t hash64(const void *data, size_t size, uint64_t seed) {
  const auto *p = static_cast<const unsigned char *>(data);
  uint64_t a = seed + kP1 + kP2, b = seed + kP2, c = seed, d = seed - kP1;
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    a = lane(a, load64(p + i));
    b = lane(b, load64(p + i + 8));
    c = lane(c, load64(p + i + 16));
    d = lane(d, load64(p + i + 24));
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
  h += static_cast<uint64_t>(size);
  for (; i + 8 <= size; i += 8)
    h = rotl(h ^ lane(0, load64(p + i)), 27) * kP1 + kP3;
  for (; i < size; ++i)
    h = rotl(h ^ (p[i] * kP3), 11) * kP1;
  return avalanche(h);
}

uint64_t hashFile(const std::string &path, int64_t *size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(path + ": cannot open: " + std::strerror(errno));
  std::vector<unsigned char> block(4 << 20);
  uint64_t h = 0;
  int64_t total = 0;
  for (;;) {
    // Fill the block completely (short reads), so that the hash does not
    // depend on how the kernel splits the reads.
    size_t filled = 0;
    while (filled < block.size()) {
      ssize_t n = ::read(fd, block.data() + filled, block.size() - filled);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        fail(path + ": read failed: " + std::strerror(err));
      }
      if (n == 0)
        break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0 && total > 0)
      break;
    h = hash64(block.data(), filled, h);
    total += static_cast<int64_t>(filled);
    if (filled < block.size())
      break;
  }
  ::close(fd);
  if (size)
    *size = total;
  return h;
}

std::vector<std::string> expandPattern(const std::string &flag,
                                       const std::string &pattern) {
  glob_t matches;
  int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &matches);
  if (rc == GLOB_NOMATCH)
    fail(flag + " " + pattern + ": no such file");
  if (rc != 0)
    fail(flag + " " + pattern + ": cannot expand the pattern");
  std::vector<std::string> files(matches.gl_pathv,
                                 matches.gl_pathv + matches.gl_pathc);
  ::globfree(&matches);
  return files;
}

std::string dataFingerprint(const std::string &flag, const std::string &pattern,
                            bool contents) {
  std::string text;
  for (const std::string &path : expandPattern(flag, pattern)) {
    int64_t size = 0;
    std::string hash;
    if (contents) {
      hash = " " + toHex(hashFile(path, &size));
    } else {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0)
        fail(flag + " " + path + ": " + std::strerror(errno));
      size = st.st_size;
    }
    text += baseName(path) + " " + std::to_string(size) + hash + "\n";
  }
  return text;
}

std::string describeDataChange(const std::string &before,
                               const std::string &after) {
  // name -> (size, hash) of each side.
  auto parse = [](const std::string &text) {
    std::vector<std::pair<std::string, std::pair<std::string, std::string>>> v;
    for (const std::string &line : splitLines(text)) {
      std::istringstream in(line);
      std::string name, size, hash;
      in >> name >> size >> hash;
      v.push_back({name, {size, hash}});
    }
    return v;
  };
  auto old = parse(before), now = parse(after);
  std::map<std::string, std::pair<std::string, std::string>> oldMap(
      old.begin(), old.end()),
      nowMap(now.begin(), now.end());
  std::vector<std::string> phrases;
  for (auto &[name, v] : now)
    if (!oldMap.count(name))
      phrases.push_back("shard " + name + " added");
  for (auto &[name, v] : old)
    if (!nowMap.count(name))
      phrases.push_back("shard " + name + " removed");
  for (auto &[name, v] : now) {
    auto it = oldMap.find(name);
    if (it == oldMap.end())
      continue;
    if (it->second.first != v.first)
      phrases.push_back("shard " + name + " changed (size " +
                        it->second.first + " -> " + v.first + " bytes)");
    else if (it->second.second != v.second)
      phrases.push_back("shard " + name + " changed (same size " + v.first +
                        " bytes, different contents)");
  }
  if (phrases.empty() && before != after)
    phrases.push_back("the shards are in another order");
  std::string text;
  for (size_t i = 0; i < phrases.size(); ++i)
    text += (i ? "; " : "") + phrases[i];
  return text;
}

std::string firstDifferentLine(const std::string &a, const std::string &b) {
  std::vector<std::string> la = splitLines(a), lb = splitLines(b);
  for (size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
    std::string x = i < la.size() ? "'" + la[i] + "'" : "<none>";
    std::string y = i < lb.size() ? "'" + lb[i] + "'" : "<none>";
    if (x != y)
      return "line " + std::to_string(i + 1) + ": " + x + " / " + y;
  }
  return a == b ? "" : "the texts differ in their line ends";
}

} // namespace lmcrt
