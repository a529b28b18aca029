//===- Retention.h - Which checkpoints a run keeps --------------*- C++ -*-===//
//
// The checkpoint directory DIR holds step checkpoints
// ckpt_<step, 8 or more digits>.safetensors (Checkpoint.h) and two markers,
// each a file name and a newline, replaced atomically: `latest` (the newest
// complete checkpoint) and `best` (with --keep-best: the checkpoint of the
// lowest val loss among the checkpoint steps so far).
//
// The rule (--keep-last K, applied by rank 0 after each save, once the new
// checkpoint and its markers are durable): keep the K step checkpoints of
// the highest steps, the one `latest` names and the one `best` names; delete
// every other step checkpoint. K = 0 deletes nothing. Files that are not step
// checkpoints are never touched, except the temporaries of interrupted
// writes (`.tmp-<name>.XXXXXX`, atomicWriteFile), which
// removeStaleTemporaries deletes when a run starts.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_RETENTION_H
#define LMC_LIB_RUNTIME_RETENTION_H

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

/// The step of a step checkpoint's file name, or -1 for any other name.
int64_t checkpointStep(const std::string &name);

/// The names among `names` (the files of a directory) that the rule above
/// deletes, in increasing step order. `latest` and `best` are the names the
/// markers hold ("" when absent).
std::vector<std::string>
checkpointsToDelete(const std::vector<std::string> &names, int64_t keepLast,
                    const std::string &latest, const std::string &best);

/// Applies the rule to DIR (its markers read from the directory); returns
/// the names deleted. A file that cannot be deleted is a warning on stderr,
/// not an error.
std::vector<std::string> applyRetention(const std::string &dir,
                                        int64_t keepLast);

/// Deletes the temporaries of interrupted writes in DIR (nothing if DIR does
/// not exist); returns how many.
int64_t removeStaleTemporaries(const std::string &dir);

/// The file names in DIR (none if it does not exist), sorted.
std::vector<std::string> listDirectory(const std::string &dir);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_RETENTION_H
