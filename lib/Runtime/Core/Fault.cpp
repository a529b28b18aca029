//===- Fault.cpp - Fault injection for testing ----------------------------===//
//
// The LMCRT_FAULT parser and the built-in actions (Fault.h).
//
//===----------------------------------------------------------------------===//

#include "Core/Fault.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace lmcrt::fault {

namespace {

const char *const kKinds[] = {"hang",    "crash",  "nan",           "nan-loss",
                              "sigterm", "sigint", "crash-in-save"};

[[noreturn]] void bad(const std::string &part, const std::string &why) {
  usageError("LMCRT_FAULT: '" + part + "': " + why +
             " (expected KIND[:rank=R][:step=S][,...], KIND one of hang, "
             "crash, nan, nan-loss, sigterm, sigint, crash-in-save)");
}

int64_t number(const std::string &part, const std::string &key,
               const std::string &value, int64_t min) {
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end || errno || v < min || value[0] == '+' ||
      value[0] == ' ')
    bad(part, key + "=" + value + " is not an integer >= " +
                  std::to_string(min));
  return v;
}

std::vector<std::string> split(const std::string &text, char sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  for (;;) {
    size_t end = text.find(sep, begin);
    out.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos)
      return out;
    begin = end + 1;
  }
}

bool parsed = false;
std::vector<Spec> specs;

int thisRank() {
  if (comm::initialized())
    return comm::rank();
  if (const char *r = std::getenv("OMPI_COMM_WORLD_RANK"))
    return std::atoi(r);
  return 0;
}

} // namespace

std::vector<Spec> parse(const std::string &text) {
  std::vector<Spec> out;
  if (text.empty())
    return out;
  for (const std::string &part : split(text, ',')) {
    std::vector<std::string> fields = split(part, ':');
    Spec spec;
    spec.kind = fields[0];
    bool known = false;
    for (const char *k : kKinds)
      known |= spec.kind == k;
    if (!known)
      bad(part, spec.kind.empty() ? "no kind" : "unknown kind '" + spec.kind + "'");
    bool haveRank = false, haveStep = false;
    for (size_t i = 1; i < fields.size(); ++i) {
      size_t eq = fields[i].find('=');
      if (eq == std::string::npos)
        bad(part, "'" + fields[i] + "' is not KEY=VALUE");
      std::string key = fields[i].substr(0, eq), value = fields[i].substr(eq + 1);
      if (key == "rank" && !haveRank) {
        spec.rank = static_cast<int>(number(part, key, value, 0));
        haveRank = true;
      } else if (key == "step" && !haveStep) {
        spec.step = number(part, key, value, 1);
        haveStep = true;
      } else if (key == "rank" || key == "step") {
        bad(part, key + " given twice");
      } else {
        bad(part, "unknown key '" + key + "' (keys: rank, step)");
      }
    }
    out.push_back(spec);
  }
  return out;
}

void init() {
  if (parsed)
    return;
  const char *env = std::getenv("LMCRT_FAULT");
  specs = parse(env ? env : "");
  parsed = true;
}

bool at(const char *kind, int64_t step) {
  init();
  if (specs.empty())
    return false;
  const int rank = thisRank();
  for (const Spec &s : specs)
    if (s.kind == kind && (s.rank < 0 || s.rank == rank) &&
        (s.step < 0 || s.step == step))
      return true;
  return false;
}

bool maybe(const char *kind, int64_t step) {
  if (!at(kind, step))
    return false;
  std::fflush(stdout);
  if (comm::world() > 1)
    std::fprintf(stderr, "lmcrt: fault injected on rank %d: %s at step %lld\n",
                 comm::rank(), kind, static_cast<long long>(step));
  else
    std::fprintf(stderr, "lmcrt: fault injected: %s at step %lld\n", kind,
                 static_cast<long long>(step));
  std::fflush(stderr);
  const std::string k = kind;
  if (k == "hang") {
    for (;;)
      ::pause(); // a handled signal returns here; the rank stays stuck
  } else if (k == "crash") {
    std::abort();
  } else if (k == "crash-in-save") {
    ::_exit(kFaultExit);
  } else if (k == "sigterm") {
    std::raise(SIGTERM);
  } else if (k == "sigint") {
    std::raise(SIGINT);
  }
  return true;
}

} // namespace lmcrt::fault
