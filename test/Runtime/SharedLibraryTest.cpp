//===- SharedLibraryTest.cpp - The search for libraries opened at run time ===//
//
// Tests Core/SharedLibrary.h over fake folder trees: the override variable is
// tried first and alone; a library is found in a CUDA toolkit's folders and
// in the `nvidia/*/lib` folders of Python packages (of a python3 on PATH, of
// $HOME/.local, of the system roots); and a failed search lists every place
// it looked in one line. The library found is a real one
// (Inputs/FakeSharedLibrary.cpp) copied under the names searched for.
//
//===----------------------------------------------------------------------===//

#include "Core/SharedLibrary.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace lmcrt;

namespace {

std::string makeTempDir() {
  std::string tmpl = "/tmp/lmcrt-shared-library-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const char *dir = ::mkdtemp(buf.data());
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "/tmp";
}

void makeDirs(const std::string &path) {
  std::string partial;
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/')
      ::mkdir(path.substr(0, i).c_str(), 0755);
}

void copyFile(const std::string &from, const std::string &to) {
  size_t slash = to.find_last_of('/');
  makeDirs(to.substr(0, slash));
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
}

void writeFile(const std::string &path, const std::string &text, int mode) {
  size_t slash = path.find_last_of('/');
  makeDirs(path.substr(0, slash));
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

bool contains(const std::vector<std::string> &v, const std::string &s) {
  for (const std::string &x : v)
    if (x == s)
      return true;
  return false;
}

size_t indexOf(const std::vector<std::string> &v, const std::string &s) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == s)
      return i;
  return v.size();
}

/// Each test in its own tree, with the variables the search reads cleared.
class SharedLibrarySearch : public ::testing::Test {
protected:
  void SetUp() override {
    root = makeTempDir();
    for (const char *v : {"LMCRT_FAKE_LIBRARY", "CUDA_HOME", "CUDA_PATH",
                          "VIRTUAL_ENV", "CONDA_PREFIX"})
      ::unsetenv(v);
  }
  void TearDown() override {
    std::string command = "rm -rf '" + root + "'";
    EXPECT_EQ(std::system(command.c_str()), 0);
  }
  /// A search for libfakelmc.so.7 (or .6) over `directories`.
  LibrarySearch search(std::vector<std::string> directories) {
    LibrarySearch s;
    s.what = "the fake library";
    s.overrideVariable = "LMCRT_FAKE_LIBRARY";
    s.sonames = {"libfakelmc.so.7", "libfakelmc.so.6"};
    s.directories = std::move(directories);
    return s;
  }
  static int answer(void *handle) {
    auto fn = reinterpret_cast<int (*)()>(
        ::dlsym(handle, "lmcrtFakeSharedLibraryAnswer"));
    return fn ? fn() : -1;
  }
  std::string root;
};

TEST_F(SharedLibrarySearch, OverrideIsTriedFirstAndAlone) {
  std::string found = root + "/dir/libfakelmc.so.7";
  copyFile(LMCRT_FAKE_SHARED_LIBRARY, found);
  std::string chosen = root + "/chosen/libanything.so";
  copyFile(LMCRT_FAKE_SHARED_LIBRARY, chosen);
  ::setenv("LMCRT_FAKE_LIBRARY", chosen.c_str(), 1);
  std::string error;
  OpenedLibrary lib = openLibrary(search({root + "/dir"}), error);
  ASSERT_NE(lib.handle, nullptr) << error;
  EXPECT_EQ(lib.path, chosen);
  EXPECT_EQ(answer(lib.handle), 42);

  // An override that does not load is an error, even with the library in
  // a folder of the search.
  std::string missing = root + "/nowhere/libfakelmc.so.7";
  ::setenv("LMCRT_FAKE_LIBRARY", missing.c_str(), 1);
  lib = openLibrary(search({root + "/dir"}), error);
  EXPECT_EQ(lib.handle, nullptr);
  EXPECT_NE(error.find("cannot load the fake library from LMCRT_FAKE_LIBRARY=" +
                       missing + ": "),
            std::string::npos)
      << error;
  ::unsetenv("LMCRT_FAKE_LIBRARY");
}

TEST_F(SharedLibrarySearch, FindsTheFirstFolderWithASoname) {
  // The first folder has neither name; the second has the older soname,
  // the third the newer: folders are tried in order, each with every name.
  copyFile(LMCRT_FAKE_SHARED_LIBRARY, root + "/b/libfakelmc.so.6");
  copyFile(LMCRT_FAKE_SHARED_LIBRARY, root + "/c/libfakelmc.so.7");
  makeDirs(root + "/a");
  std::string error;
  OpenedLibrary lib =
      openLibrary(search({root + "/a", root + "/b", root + "/c"}), error);
  ASSERT_NE(lib.handle, nullptr) << error;
  EXPECT_EQ(lib.path, root + "/b/libfakelmc.so.6");
  EXPECT_EQ(answer(lib.handle), 42);
}

TEST_F(SharedLibrarySearch, FailureListsEveryPlaceItLooked) {
  makeDirs(root + "/empty");
  // A file with the right name that is no library: the loader's reason.
  writeFile(root + "/broken/libfakelmc.so.7", "not an ELF file", 0644);
  ::setenv("LD_LIBRARY_PATH", (root + "/ld").c_str(), 1);
  std::string error;
  OpenedLibrary lib =
      openLibrary(search({root + "/empty", root + "/broken"}), error);
  EXPECT_EQ(lib.handle, nullptr);
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  for (const std::string &part :
       {std::string("cannot load the fake library (libfakelmc.so.7 or "
                    "libfakelmc.so.6); looked in: "),
        std::string("LMCRT_FAKE_LIBRARY (unset)"),
        "the loader's path (LD_LIBRARY_PATH=" + root + "/ld", root + "/empty",
        root + "/broken/libfakelmc.so.7",
        std::string("set LMCRT_FAKE_LIBRARY to the library's path")})
    EXPECT_NE(error.find(part), std::string::npos)
        << "missing '" << part << "' in: " << error;
  ::unsetenv("LD_LIBRARY_PATH");
}

TEST_F(SharedLibrarySearch, FindsNvidiaPackagesOfPythonOnPath) {
  // A virtual environment's python3 on PATH, linking to a "system" python3
  // of another prefix: both prefixes' site-packages are searched.
  const std::string venv = root + "/venv", base = root + "/base";
  writeFile(base + "/bin/python3.11", "#!/bin/sh\n", 0755);
  makeDirs(venv + "/bin");
  ASSERT_EQ(::symlink((base + "/bin/python3.11").c_str(),
                      (venv + "/bin/python3").c_str()),
            0);
  makeDirs(venv + "/lib/python3.11/site-packages/nvidia/cublas/lib");
  makeDirs(base + "/lib/python3.11/dist-packages/nvidia/nccl/lib");
  copyFile(LMCRT_FAKE_SHARED_LIBRARY,
           venv + "/lib/python3.11/site-packages/nvidia/cu13/lib/"
                  "libfakelmc.so.7");
  // $HOME/.local and a system root (given as a prefix for the test).
  makeDirs(root + "/home/.local/lib/python3.12/site-packages/nvidia/x/lib");
  makeDirs(root + "/sys/usr/local/lib/python3.10/dist-packages/nvidia/y/lib");
  makeDirs(root + "/sys/usr/lib/python3/dist-packages/nvidia/z/lib");
  makeDirs(root + "/home/.pyenv/versions/3.11.7/lib/python3.11/site-packages");
  ::unsetenv("PYENV_ROOT");

  std::vector<std::string> sites = pythonSitePackages(
      root + "/nobin:" + venv + "/bin", root + "/home", root + "/sys");
  EXPECT_TRUE(contains(sites, venv + "/lib/python3.11/site-packages"));
  EXPECT_TRUE(contains(sites, base + "/lib/python3.11/dist-packages"));
  EXPECT_TRUE(
      contains(sites, root + "/home/.local/lib/python3.12/site-packages"));
  EXPECT_TRUE(
      contains(sites, root + "/sys/usr/local/lib/python3.10/dist-packages"));
  EXPECT_TRUE(contains(sites, root + "/sys/usr/lib/python3/dist-packages"));
  EXPECT_TRUE(contains(
      sites,
      root + "/home/.pyenv/versions/3.11.7/lib/python3.11/site-packages"));
  // PATH's python first.
  EXPECT_EQ(indexOf(sites, venv + "/lib/python3.11/site-packages"), 0u);

  std::vector<std::string> dirs = nvidiaPackageLibDirs(sites);
  const std::string cu13 =
      venv + "/lib/python3.11/site-packages/nvidia/cu13/lib";
  for (const std::string &d :
       {venv + "/lib/python3.11/site-packages/nvidia/cublas/lib", cu13,
        base + "/lib/python3.11/dist-packages/nvidia/nccl/lib",
        root + "/home/.local/lib/python3.12/site-packages/nvidia/x/lib",
        root + "/sys/usr/lib/python3/dist-packages/nvidia/z/lib"})
    EXPECT_TRUE(contains(dirs, d)) << d;

  std::string error;
  OpenedLibrary lib = openLibrary(search(dirs), error);
  ASSERT_NE(lib.handle, nullptr) << error;
  EXPECT_EQ(lib.path, cu13 + "/libfakelmc.so.7");
  EXPECT_EQ(answer(lib.handle), 42);
}

TEST_F(SharedLibrarySearch, CudaToolkitFolders) {
  makeDirs(root + "/built/lib64");
  makeDirs(root + "/sys/usr/local/cuda/lib64");
  makeDirs(root + "/sys/usr/local/cuda-12.8/lib64");
  makeDirs(root + "/sys/usr/local/cuda-13.0/targets/x86_64-linux/lib");
  makeDirs(root + "/home-cuda/lib64");
  ::setenv("CUDA_HOME", (root + "/home-cuda").c_str(), 1);
  std::vector<std::string> dirs =
      cudaToolkitLibDirs(root + "/built", root + "/sys");
  ::unsetenv("CUDA_HOME");
  std::vector<std::string> expected = {
      root + "/home-cuda/lib64", root + "/built/lib64",
      root + "/sys/usr/local/cuda/lib64",
      root + "/sys/usr/local/cuda-13.0/targets/x86_64-linux/lib",
      root + "/sys/usr/local/cuda-12.8/lib64"};
  EXPECT_EQ(dirs, expected);
}

} // namespace
