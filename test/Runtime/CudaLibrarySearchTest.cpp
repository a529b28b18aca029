//===- CudaLibrarySearchTest.cpp - Where cuBLASLt and NCCL are looked for -===//
//
// Tests the GPU runtime's searches for cuBLASLt and NCCL (Cuda/Library.h)
// without a GPU, over a fake Python installation: LMCRT_CUBLASLT_LIBRARY and
// LMCRT_NCCL_LIBRARY are tried first and alone (a missing one is an error
// naming it); a library in the `nvidia/*/lib` folder of a python3 on PATH is
// found, after the CUDA toolkit's folders; a failed search lists every
// place it looked, in one line. The library found is a real one
// (Inputs/FakeSharedLibrary.cpp) copied under the name searched for.
//
//===----------------------------------------------------------------------===//

#include "Cuda/Library.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

void makeDirs(const std::string &path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/')
      ::mkdir(path.substr(0, i).c_str(), 0755);
}

void copyFile(const std::string &from, const std::string &to) {
  makeDirs(to.substr(0, to.find_last_of('/')));
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
}

size_t indexOf(const std::vector<std::string> &v, const std::string &s) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == s)
      return i;
  return v.size();
}

/// A fake virtual environment first on PATH, HOME empty, no override.
class CudaLibrarySearch : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = "/tmp/lmcrt-cuda-search-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    root = buf.data();
    site = root + "/venv/lib/python3.12/site-packages";
    makeDirs(root + "/venv/bin");
    std::ofstream(root + "/venv/bin/python3") << "#!/bin/sh\n";
    ::chmod((root + "/venv/bin/python3").c_str(), 0755);
    makeDirs(site + "/nvidia/nccl/lib");
    makeDirs(root + "/home");
    const char *path = std::getenv("PATH");
    savedPath = path ? path : "";
    ::setenv("PATH", (root + "/venv/bin:" + savedPath).c_str(), 1);
    const char *home = std::getenv("HOME");
    savedHome = home ? home : "";
    ::setenv("HOME", (root + "/home").c_str(), 1);
    for (const char *v : {"LMCRT_CUBLASLT_LIBRARY", "LMCRT_NCCL_LIBRARY",
                          "VIRTUAL_ENV", "CONDA_PREFIX"})
      ::unsetenv(v);
  }
  void TearDown() override {
    ::setenv("PATH", savedPath.c_str(), 1);
    ::setenv("HOME", savedHome.c_str(), 1);
    ::unsetenv("LMCRT_CUBLASLT_LIBRARY");
    ::unsetenv("LMCRT_NCCL_LIBRARY");
    EXPECT_EQ(std::system(("rm -rf '" + root + "'").c_str()), 0);
  }
  std::string root, site, savedPath, savedHome;
};

TEST_F(CudaLibrarySearch, OverridesComeFirstAndAlone) {
  std::string fake = root + "/mine/libcublasLt-custom.so";
  copyFile(LMCRT_FAKE_SHARED_LIBRARY, fake);
  ::setenv("LMCRT_CUBLASLT_LIBRARY", fake.c_str(), 1);
  Library cublas;
  std::string error;
  ASSERT_TRUE(cublas.search(cublasLtLibrarySearch(), error)) << error;
  EXPECT_EQ(cublas.path(), fake);
  EXPECT_NE(cublas.find("lmcrtFakeSharedLibraryAnswer"), nullptr);

  std::string missing = root + "/nowhere/libnccl.so.2";
  ::setenv("LMCRT_NCCL_LIBRARY", missing.c_str(), 1);
  Library nccl;
  EXPECT_FALSE(nccl.search(ncclLibrarySearch(), error));
  EXPECT_EQ(error.find("cannot load NCCL (the GPU collectives) from "
                       "LMCRT_NCCL_LIBRARY=" +
                       missing + ": "),
            0u)
      << error;
}

TEST_F(CudaLibrarySearch, SonamesAndFoldersInOrder) {
  LibrarySearch cublas = cublasLtLibrarySearch();
  EXPECT_EQ(cublas.sonames, (std::vector<std::string>{"libcublasLt.so.13",
                                                      "libcublasLt.so.12"}));
  EXPECT_EQ(cublas.overrideVariable, "LMCRT_CUBLASLT_LIBRARY");
  LibrarySearch nccl = ncclLibrarySearch();
  EXPECT_EQ(nccl.sonames, (std::vector<std::string>{"libnccl.so.2"}));
  EXPECT_EQ(nccl.overrideVariable, "LMCRT_NCCL_LIBRARY");
  // The fake environment's package folder is searched, after the toolkit's.
  size_t package = indexOf(nccl.directories, site + "/nvidia/nccl/lib");
  ASSERT_LT(package, nccl.directories.size());
  size_t toolkit = indexOf(nccl.directories, LMCRT_CUDA_TOOLKIT_DIR "/lib64");
  struct stat st;
  if (::stat(LMCRT_CUDA_TOOLKIT_DIR "/lib64", &st) == 0)
    EXPECT_LT(toolkit, package);
}

TEST_F(CudaLibrarySearch, FindsAPythonPackagesLibrary) {
  // A soname nothing else has, in CUDA 13's wheel layout (nvidia/cu13/lib).
  copyFile(LMCRT_FAKE_SHARED_LIBRARY,
           site + "/nvidia/cu13/lib/libfakecublasLt.so.13");
  LibrarySearch search = cublasLtLibrarySearch();
  search.sonames = {"libfakecublasLt.so.13"};
  Library lib;
  std::string error;
  ASSERT_TRUE(lib.search(search, error)) << error;
  EXPECT_EQ(lib.path(), site + "/nvidia/cu13/lib/libfakecublasLt.so.13");
}

TEST_F(CudaLibrarySearch, FailureListsEveryPlace) {
  LibrarySearch search = ncclLibrarySearch();
  search.sonames = {"libnotanywhere.so.2"};
  Library lib;
  std::string error;
  ASSERT_FALSE(lib.search(search, error));
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_EQ(error.find("cannot load NCCL (the GPU collectives) "
                       "(libnotanywhere.so.2); looked in: LMCRT_NCCL_LIBRARY "
                       "(unset), the loader's path (LD_LIBRARY_PATH="),
            0u)
      << error;
  for (const std::string &dir : search.directories)
    EXPECT_NE(error.find(", " + dir), std::string::npos) << dir;
  EXPECT_NE(error.find(site + "/nvidia/nccl/lib"), std::string::npos);
  EXPECT_NE(error.find("; set LMCRT_NCCL_LIBRARY to the library's path"),
            std::string::npos);
}

} // namespace

// Its own main: liblmcrt_cuda.a's is the trainer's.
int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
