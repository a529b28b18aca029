//===- Retention.cpp - Which checkpoints a run keeps ----------------------===//

#include "Trainer/Retention.h"

#include "Trainer/Checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <unistd.h>

namespace lmcrt {

namespace {

bool allDigits(const std::string &s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

/// `.tmp-<name>.XXXXXX`: what mkstemp made of atomicWriteFile's template.
bool isTemporary(const std::string &name) {
  const std::string prefix = ".tmp-";
  if (name.size() < prefix.size() + 1 + 7 || name.compare(0, 5, prefix) != 0)
    return false;
  size_t dot = name.size() - 7;
  if (name[dot] != '.')
    return false;
  for (size_t i = dot + 1; i < name.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

} // namespace

int64_t checkpointStep(const std::string &name) {
  const std::string prefix = "ckpt_", suffix = ".safetensors";
  if (name.size() < prefix.size() + 8 + suffix.size() ||
      name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (!allDigits(digits) || digits.size() > 18)
    return -1;
  return std::stoll(digits);
}

std::vector<std::string>
checkpointsToDelete(const std::vector<std::string> &names, int64_t keepLast,
                    const std::string &latest, const std::string &best) {
  if (keepLast <= 0)
    return {};
  std::vector<std::pair<int64_t, std::string>> steps;
  for (const std::string &name : names) {
    int64_t step = checkpointStep(name);
    if (step >= 0)
      steps.push_back({step, name});
  }
  // Highest steps first.
  std::sort(steps.begin(), steps.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  });
  std::vector<std::string> doomed;
  for (size_t i = static_cast<size_t>(keepLast); i < steps.size(); ++i)
    if (steps[i].second != latest && steps[i].second != best)
      doomed.push_back(steps[i].second);
  std::reverse(doomed.begin(), doomed.end());
  return doomed;
}

std::vector<std::string> listDirectory(const std::string &dir) {
  std::vector<std::string> names;
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return names;
  while (struct dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..")
      names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> applyRetention(const std::string &dir,
                                        int64_t keepLast) {
  std::vector<std::string> doomed =
      checkpointsToDelete(listDirectory(dir), keepLast,
                          readMarker(dir, "latest"), readMarker(dir, "best"));
  std::vector<std::string> deleted;
  for (const std::string &name : doomed) {
    std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) == 0)
      deleted.push_back(name);
    else
      std::fprintf(stderr, "warning: --keep-last: cannot delete %s: %s\n",
                   path.c_str(), std::strerror(errno));
  }
  return deleted;
}

int64_t removeStaleTemporaries(const std::string &dir) {
  int64_t removed = 0;
  for (const std::string &name : listDirectory(dir)) {
    if (!isTemporary(name))
      continue;
    std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) == 0)
      ++removed;
    else
      std::fprintf(stderr, "warning: cannot delete %s: %s\n", path.c_str(),
                   std::strerror(errno));
  }
  return removed;
}

} // namespace lmcrt
