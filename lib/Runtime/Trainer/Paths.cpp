//===- Paths.cpp - Outputs that are inputs, and writable outputs ----------===//
//
// See Paths.h.
//
//===----------------------------------------------------------------------===//

#include "Trainer/Paths.h"

#include "Core/Error.h"
#include "Trainer/Flags.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmcrt {

namespace {

/// The parent directory and the last component of `path` (trailing slashes
/// dropped): "a/b" -> ("a", "b"), "b" -> (".", "b"), "/b" -> ("/", "b").
std::pair<std::string, std::string> splitPath(std::string path) {
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string resolve(const std::string &path) {
  char buffer[PATH_MAX];
  return ::realpath(path.c_str(), buffer) ? std::string(buffer) : std::string();
}

/// A path's identity for comparison: "dev:ino" of an existing file, else
/// "dev:ino/name" of its resolved parent directory, else the path.
std::string identity(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0)
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  auto [parent, name] = splitPath(path);
  if (::stat(parent.c_str(), &st) == 0)
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + "/" +
           name;
  std::string resolved = resolve(parent);
  return (resolved.empty() ? parent : resolved) + "/" + name;
}

void expand(const std::string &flag, const std::string &pattern,
            std::vector<NamedPath> &out) {
  glob_t matches;
  if (::glob(pattern.c_str(), 0, nullptr, &matches) == 0)
    for (size_t i = 0; i < matches.gl_pathc; ++i)
      out.push_back({flag, matches.gl_pathv[i]});
  ::globfree(&matches);
}

[[noreturn]] void refuse(const std::string &output, const std::string &what,
                         const NamedPath &input) {
  usageError(output + " names " +
             (input.flag == "the executable" ? "the executable"
                                             : input.flag + "'s file") +
             " " + input.path + what + ": refusing to overwrite an input");
}

} // namespace

bool sameFile(const std::string &a, const std::string &b) {
  return identity(a) == identity(b);
}

bool isCheckpointDirEntry(const std::string &name) {
  auto endsWith = [&](const char *suffix) {
    size_t n = std::strlen(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  return name == "latest" || name == "best" || name.rfind(".tmp-", 0) == 0 ||
         (name.rfind("ckpt_", 0) == 0 && endsWith(".safetensors"));
}

std::vector<NamedPath> inputPaths(const Config &config,
                                  const std::string &executable) {
  std::vector<NamedPath> inputs;
  if (!config.data.empty())
    expand("--data", config.data, inputs);
  if (!config.val.empty())
    expand("--val", config.val, inputs);
  for (auto [flag, path] :
       {std::pair<const char *, const std::string *>{"--init-from",
                                                     &config.initFrom},
        {"--tokenizer", &config.tokenizer},
        {"--logits-tokens", &config.logitsTokens}})
    if (!path->empty())
      inputs.push_back({flag, *path});
  if (!executable.empty()) {
    std::string resolved = resolve(executable);
    inputs.push_back(
        {"the executable", resolved.empty() ? executable : resolved});
  }
  return inputs;
}

void checkOutputsAreNotInputs(const Config &config,
                              const std::vector<NamedPath> &inputs) {
  std::vector<NamedPath> files;
  if (!config.log.empty())
    files.push_back({"--log", config.log});
  if (!config.logits.empty())
    files.push_back({"--logits", config.logits});
  for (const NamedPath &out : files)
    for (const NamedPath &in : inputs)
      if (sameFile(out.path, in.path))
        refuse(out.flag + " " + out.path, "", in);
  if (!config.log.empty() && !config.logits.empty() &&
      sameFile(config.log, config.logits))
    usageError("--log and --logits name the same file " + config.log);
  // The checkpoint directory is written unless it is only read from.
  if (config.ckptDir.empty() || config.generate || !config.logits.empty())
    return;
  const std::string dir = identity(config.ckptDir);
  for (const NamedPath &in : inputs) {
    if (identity(in.path) == dir)
      refuse("--ckpt-dir " + config.ckptDir, "", in);
    auto [parent, name] = splitPath(in.path);
    if (identity(parent) == dir && isCheckpointDirEntry(name))
      refuse("--ckpt-dir " + config.ckptDir,
             " (a file the trainer writes or deletes there)", in);
  }
  if (!config.log.empty()) {
    auto [parent, name] = splitPath(config.log);
    if (identity(parent) == dir && isCheckpointDirEntry(name))
      usageError("--log " + config.log + " names a file that --ckpt-dir " +
                 config.ckptDir + " holds checkpoints in");
  }
}

void checkWritableDirectory(const std::string &flag, const std::string &dir) {
  // Create each missing component, so that the error names the one at
  // fault.
  std::string prefix;
  size_t begin = 0;
  while (begin <= dir.size()) {
    size_t end = dir.find('/', begin);
    if (end == std::string::npos)
      end = dir.size();
    prefix = dir.substr(0, end);
    begin = end + 1;
    if (prefix.empty() || prefix.back() == '/' || prefix == "." ||
        (prefix.size() >= 2 &&
         prefix.compare(prefix.size() - 2, 2, "/.") == 0))
      continue;
    struct stat st;
    if (::stat(prefix.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        usageError(flag + " " + dir + ": " +
                   (end == dir.size() ? std::string("is a file")
                                      : prefix + " is a file") +
                   ", not a directory");
      continue;
    }
    if (::mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST)
      usageError(flag + " " + dir + ": cannot create " + prefix + ": " +
                 std::strerror(errno));
  }
  std::string probe = dir + "/.tmp-write-probe.XXXXXX";
  std::vector<char> name(probe.begin(), probe.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0)
    usageError(flag + " " + dir + ": cannot create files in it: " +
               std::strerror(errno));
  ::close(fd);
  ::unlink(name.data());
}

void checkWritableFile(const std::string &flag, const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      usageError(flag + " " + path + ": is a directory");
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
      usageError(flag + " " + path + ": cannot write: " +
                 std::strerror(errno));
    ::close(fd);
    return;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    usageError(flag + " " + path + ": cannot create: " +
               std::strerror(errno));
  ::close(fd);
  ::unlink(path.c_str());
}

} // namespace lmcrt
