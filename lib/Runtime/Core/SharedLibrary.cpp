//===- SharedLibrary.cpp - Libraries the runtime opens itself -------------===//

#include "Core/SharedLibrary.h"

#include <algorithm>
#include <cstdlib>
#include <dlfcn.h>
#include <glob.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace lmcrt {
namespace {

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

/// The paths matching `pattern`, sorted (glob's order).
std::vector<std::string> expand(const std::string &pattern) {
  std::vector<std::string> out;
  glob_t g;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i)
      out.push_back(g.gl_pathv[i]);
  ::globfree(&g);
  return out;
}

/// Appends the folders of `candidates` that exist and are not in `out` yet
/// (compared by their real path).
void addDirectories(std::vector<std::string> &out, std::set<std::string> &seen,
                    const std::vector<std::string> &candidates) {
  for (const std::string &dir : candidates) {
    if (!isDirectory(dir))
      continue;
    char *real = ::realpath(dir.c_str(), nullptr);
    std::string key = real ? real : dir;
    std::free(real);
    if (seen.insert(key).second)
      out.push_back(dir);
  }
}

std::string parentOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string loaderError(const std::string &fallback) {
  const char *why = ::dlerror();
  return why ? why : fallback;
}

std::string env(const char *name) {
  const char *value = std::getenv(name);
  return value ? value : "";
}

} // namespace

OpenedLibrary openLibrary(const LibrarySearch &search, std::string &error) {
  error.clear();
  const int flags = search.flags ? search.flags : (RTLD_NOW | RTLD_LOCAL);
  OpenedLibrary out;
  std::string names;
  for (const std::string &soname : search.sonames)
    names += (names.empty() ? "" : " or ") + soname;
  std::string override = search.overrideVariable.empty()
                             ? ""
                             : env(search.overrideVariable.c_str());
  if (!override.empty()) {
    out.handle = ::dlopen(override.c_str(), flags);
    if (out.handle) {
      out.path = override;
      return out;
    }
    error = "cannot load " + search.what + " from " + search.overrideVariable +
            "=" + override + ": " + loaderError("not loadable");
    return out;
  }
  std::vector<std::string> looked;
  if (!search.overrideVariable.empty())
    looked.push_back(search.overrideVariable + " (unset)");
  // The loader's own path first: LD_LIBRARY_PATH, the run path, the cache.
  std::string loaderMessages;
  for (const std::string &soname : search.sonames) {
    out.handle = ::dlopen(soname.c_str(), flags);
    if (out.handle) {
      out.path = soname;
      return out;
    }
    loaderMessages += (loaderMessages.empty() ? "" : "; ") +
                      loaderError(soname + ": not found");
  }
  std::string ldPath = env("LD_LIBRARY_PATH");
  looked.push_back("the loader's path (LD_LIBRARY_PATH=" +
                   (ldPath.empty() ? std::string("<unset>") : ldPath) +
                   ", the run path, /etc/ld.so.cache: " + loaderMessages + ")");
  for (const std::string &dir : search.directories) {
    std::string tried;
    for (const std::string &soname : search.sonames) {
      std::string path = dir + "/" + soname;
      if (!exists(path))
        continue;
      out.handle = ::dlopen(path.c_str(), flags);
      if (out.handle) {
        out.path = path;
        return out;
      }
      tried += " (" + loaderError(path + ": not loadable") + ")";
    }
    looked.push_back(dir + tried);
  }
  error = "cannot load " + search.what + " (" + names + "); looked in: ";
  for (size_t i = 0; i < looked.size(); ++i)
    error += (i ? ", " : "") + looked[i];
  if (!search.overrideVariable.empty())
    error += "; set " + search.overrideVariable + " to the library's path";
  return out;
}

std::vector<std::string> pythonSitePackages(const std::string &path,
                                            const std::string &home,
                                            const std::string &systemRoot) {
  std::vector<std::string> prefixes;
  // Each python3 on PATH: bin/python3 -> its prefix; and the interpreter it
  // links to (a virtual environment's python3 -> /usr/bin/python3.11).
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(
        start, colon == std::string::npos ? std::string::npos : colon - start);
    start = colon == std::string::npos ? path.size() + 1 : colon + 1;
    if (dir.empty())
      continue;
    std::string python = dir + "/python3";
    if (::access(python.c_str(), X_OK) != 0)
      continue;
    prefixes.push_back(parentOf(dir));
    if (char *real = ::realpath(python.c_str(), nullptr)) {
      prefixes.push_back(parentOf(parentOf(real)));
      std::free(real);
    }
  }
  for (const char *variable : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (!env(variable).empty())
      prefixes.push_back(env(variable));
  if (!home.empty())
    prefixes.push_back(home + "/.local");
  // pyenv's interpreters (PATH has its shims, which are scripts).
  std::string pyenv = env("PYENV_ROOT");
  if (pyenv.empty() && !home.empty())
    pyenv = home + "/.pyenv";
  if (!pyenv.empty())
    for (const std::string &version : expand(pyenv + "/versions/*"))
      prefixes.push_back(version);
  for (const char *root : {"/usr/local", "/usr", "/opt/conda"})
    prefixes.push_back(systemRoot + root);

  std::vector<std::string> candidates;
  for (const std::string &prefix : prefixes)
    for (const char *pattern :
         {"/lib/python3*/site-packages", "/lib/python3*/dist-packages",
          "/lib/python3/dist-packages", "/lib64/python3*/site-packages"}) {
      std::vector<std::string> found = expand(prefix + pattern);
      // The newest Python first (python3.12 before python3.10).
      std::reverse(found.begin(), found.end());
      candidates.insert(candidates.end(), found.begin(), found.end());
    }
  std::vector<std::string> out;
  std::set<std::string> seen;
  addDirectories(out, seen, candidates);
  return out;
}

std::vector<std::string>
nvidiaPackageLibDirs(const std::vector<std::string> &sitePackages) {
  std::vector<std::string> candidates;
  for (const std::string &root : sitePackages) {
    std::vector<std::string> found = expand(root + "/nvidia/*/lib");
    candidates.insert(candidates.end(), found.begin(), found.end());
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  addDirectories(out, seen, candidates);
  return out;
}

std::vector<std::string> cudaToolkitLibDirs(const std::string &builtToolkit,
                                            const std::string &systemRoot) {
  std::vector<std::string> roots;
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (!env(variable).empty())
      roots.push_back(env(variable));
  if (!builtToolkit.empty())
    roots.push_back(builtToolkit);
  roots.push_back(systemRoot + "/usr/local/cuda");
  std::vector<std::string> versions = expand(systemRoot + "/usr/local/cuda-*");
  std::reverse(versions.begin(), versions.end()); // cuda-13.0 before cuda-12.8
  roots.insert(roots.end(), versions.begin(), versions.end());
  std::vector<std::string> candidates;
  for (const std::string &root : roots)
    for (const char *sub : {"/lib64", "/lib", "/targets/x86_64-linux/lib"})
      candidates.push_back(root + sub);
  std::vector<std::string> out;
  std::set<std::string> seen;
  addDirectories(out, seen, candidates);
  return out;
}

} // namespace lmcrt
