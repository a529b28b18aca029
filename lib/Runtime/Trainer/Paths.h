//===- Paths.h - Outputs that are inputs, and writable outputs --*- C++ -*-===//
//
// Checks the trainer makes at startup, before anything is written, on the
// paths its flags name:
//
// - No output names an input. The outputs are --log, --logits and
//   --ckpt-dir (the directory, and the files the trainer writes or deletes
//   in it: ckpt_*.safetensors, latest, best, .tmp-*); the inputs are every
//   shard of the --data and --val globs, --init-from, --tokenizer,
//   --logits-tokens and the executable itself. Paths are compared by file
//   identity (st_dev, st_ino), so links and other spellings of one file are
//   the same file; an output that does not exist yet is compared by its
//   resolved parent directory and its name.
// - --ckpt-dir is a directory the trainer can create and write in (it is
//   created here, and a probe file is created and removed in it), and --log
//   a file it can create or append to: a directory that is a file, that lies
//   under a file or in /proc is an error naming the flag, not at the first
//   save.
//
// Errors are RuntimeError with exit code 2 (usage errors).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_TRAINER_PATHS_H
#define LMC_LIB_RUNTIME_TRAINER_PATHS_H

#include <string>
#include <vector>

namespace lmcrt {

struct Config;

/// A path named by a flag ("--data", "the executable", ...).
struct NamedPath {
  std::string flag;
  std::string path;
};

/// Whether `a` and `b` name the same file: by (st_dev, st_ino) when both
/// exist; when one does not, by resolved parent directory and name.
bool sameFile(const std::string &a, const std::string &b);

/// Whether `name` is one of the files the trainer writes or deletes in a
/// checkpoint directory.
bool isCheckpointDirEntry(const std::string &name);

/// The inputs of `config`: shards of the globs expanded, and `executable`.
std::vector<NamedPath> inputPaths(const Config &config,
                                  const std::string &executable);

/// Fails (exit 2) when an output of `config` names one of `inputs`.
void checkOutputsAreNotInputs(const Config &config,
                              const std::vector<NamedPath> &inputs);

/// Creates `dir` (and its parents) when missing and checks that a file can
/// be created in it; fails naming `flag` otherwise.
void checkWritableDirectory(const std::string &flag, const std::string &dir);

/// Checks that `path` can be opened for appending, or created, without
/// changing an existing file; fails naming `flag` otherwise.
void checkWritableFile(const std::string &flag, const std::string &path);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_TRAINER_PATHS_H
