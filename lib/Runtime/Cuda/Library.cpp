//===- Library.cpp - Shared libraries opened at run time ------------------===//

#include "Cuda/Library.h"

#include <dlfcn.h>

namespace lmcrt::cuda {

bool Library::open(const std::vector<std::string> &paths, std::string &error) {
  error.clear();
  for (const std::string &path : paths) {
    handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      opened = path;
      return true;
    }
    const char *why = ::dlerror();
    error += (error.empty() ? "" : "; ") + std::string(why ? why : path);
  }
  return false;
}

void *Library::find(const char *symbol) const {
  return handle ? ::dlsym(handle, symbol) : nullptr;
}

} // namespace lmcrt::cuda
