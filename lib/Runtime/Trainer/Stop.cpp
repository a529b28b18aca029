//===- Stop.cpp - Graceful stop on SIGTERM and SIGINT ---------------------===//
//
// The signal handlers and the step-boundary agreement (Stop.h).
//
//===----------------------------------------------------------------------===//

#include "Trainer/Stop.h"

#include "Comm/Collectives.h"

#include <csignal>
#include <cstdio>
#include <string>
#include <cstring>
#include <unistd.h>

namespace lmcrt::stop {

namespace {

volatile std::sig_atomic_t pending = 0;
bool installed = false;

void restoreDefaults() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
}

// The handler's lines, formatted at install (with the rank on a mesh).
char termLine[160], intLine[160];

void handler(int signal) {
  pending = signal;
  // A second SIGTERM or SIGINT takes the default action: the process ends.
  restoreDefaults();
  const char *text = signal == SIGINT ? intLine : termLine;
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

} // namespace

void install() {
  if (installed)
    return;
  installed = true;
  std::string where =
      comm::world() > 1 ? " on rank " + std::to_string(comm::rank()) : "";
  for (int signal : {SIGTERM, SIGINT})
    std::snprintf(signal == SIGINT ? intLine : termLine, sizeof(termLine),
                  "lmcrt: %s received%s: stopping after the current step "
                  "(send it again to stop at once)\n",
                  signalName(signal), where.c_str());
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGTERM);
  sigaddset(&action.sa_mask, SIGINT);
  // Interrupted reads and writes resume: the work in progress finishes.
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
}

int received() { return pending; }

int agree() {
  int32_t signal = pending;
  if (!comm::usesMpi() || comm::world() < 2)
    return signal;
  int32_t any = 0;
  comm::checkMpi(MPI_Allreduce(&signal, &any, 1, MPI_INT32_T, MPI_MAX,
                               comm::communicator(comm::worldGroup())),
                 "all_reduce of the stop signal over the world");
  return any;
}

const char *signalName(int signal) {
  return signal == SIGINT ? "SIGINT" : "SIGTERM";
}

int exitStatus(int signal) { return signal == SIGINT ? 128 + SIGINT : 0; }

} // namespace lmcrt::stop
