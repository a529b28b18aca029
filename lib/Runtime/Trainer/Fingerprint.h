//===- Fingerprint.h - Hashes of files, data and descriptions ---*- C++ -*-===//
//
// What ranks compare at startup (Agreement.h) and what a checkpoint records
// to refuse a resume on other data or another model (Checkpoint.h):
//
//   hash64       a 64-bit hash of bytes: four lanes of 8-byte words, each
//                lane multiplied, rotated and multiplied by two odd
//                constants, folded with the length and a final avalanche;
//                several GB/s on one core, so that whole shards and the
//                executable are hashed once per run.
//   data text    one line per shard of a --data pattern, in the sorted glob
//                order the loader reads: "NAME SIZE HASH" (the base name,
//                the size in bytes, hash64 of the whole file as 16 hex
//                digits), or "NAME SIZE" without content hashes.
//
// The differences are described in words, never as two hashes:
// describeDataChange names the shards added, removed and changed, and
// firstDifferentLine the first line of two texts that differs.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_FINGERPRINT_H
#define LMC_LIB_RUNTIME_FINGERPRINT_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

/// The hash of `size` bytes at `data`.
uint64_t hash64(const void *data, size_t size, uint64_t seed = 0);

/// hash64 of a whole file (read in 4 MiB blocks, the block hashes chained),
/// and its size in bytes; throws RuntimeError naming the file.
uint64_t hashFile(const std::string &path, int64_t *size = nullptr);

/// The files of a shard pattern in sorted order (as the data loader globs
/// it); throws RuntimeError naming `flag` when nothing matches.
std::vector<std::string> expandPattern(const std::string &flag,
                                       const std::string &pattern);

/// The data text above for the shards of `pattern`, with content hashes
/// when `contents`.
std::string dataFingerprint(const std::string &flag, const std::string &pattern,
                            bool contents);

/// What differs between two data texts, as "; "-separated phrases
/// ("shard b.bin added; shard a.bin changed (size 1224 -> 1424 bytes)");
/// empty when they are the same.
std::string describeDataChange(const std::string &before,
                               const std::string &after);

/// "line N: 'A' / 'B'" for the first line that differs between two texts
/// (a missing line reads "<none>"); empty when they are the same.
std::string firstDifferentLine(const std::string &a, const std::string &b);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_FINGERPRINT_H
