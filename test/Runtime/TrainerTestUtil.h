//===- TrainerTestUtil.h - Helpers of the trainer's unit tests --*- C++ -*-===//
//
// A temporary directory removed at the end of a test, and the message of
// the RuntimeError a call throws: shared by the trainer's GoogleTests.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_TRAINERTESTUTIL_H
#define LMC_TEST_RUNTIME_TRAINERTESTUTIL_H

#include "Core/Error.h"

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace lmcrt::test {

/// A fresh directory under TMPDIR, removed at the end of the test.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/lmcrt-test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path = ::mkdtemp(buf.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string &name) const {
    return path + "/" + name;
  }
  std::string path;
};

/// The message of the RuntimeError `fn` throws ("<no error>" when it
/// throws none), with its exit code.
template <typename Fn> std::string errorOf(Fn fn, int *exitCode = nullptr) {
  try {
    fn();
  } catch (const RuntimeError &e) {
    if (exitCode)
      *exitCode = e.exitCode;
    return e.what();
  }
  return "<no error>";
}

} // namespace lmcrt::test

#endif // LMC_TEST_RUNTIME_TRAINERTESTUTIL_H
