//===- Threads.h - The trainer's OpenMP threads -----------------*- C++ -*-===//
//
// How many threads the trainer's OpenMP pool (oneDNN's GEMMs and the
// compiled loops, lib/Runtime/Kernels/OpenMP.cpp) has, and how its threads
// wait between parallel regions.
//
// Waiting: libgomp spins for GOMP_SPINCOUNT iterations (300000 by default,
// a few milliseconds) before it sleeps, and a training step has hundreds of
// parallel regions. On cores that other busy programs share, a spinning
// thread takes the core from the thread it waits for, and the step
// collapses (tiny: from 5 ms to 0.5-2 s beside a second trainer). The
// trainer therefore runs libgomp with GOMP_SPINCOUNT=1000 (libgomp's own
// figure for an oversubscribed machine) unless the user set
// OMP_WAIT_POLICY or GOMP_SPINCOUNT. libgomp reads its environment once,
// when it is loaded, before main: the trainer sets the variable and
// executes itself again (/proc/self/exe, same arguments) once, before
// anything else happens.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_THREADS_H
#define LMC_LIB_RUNTIME_THREADS_H

#include <cstdint>
#include <string>

namespace lmcrt {

/// The spin count the trainer gives libgomp when the environment sets no
/// wait policy.
constexpr const char *kDefaultSpinCount = "1000";

/// When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set: sets
/// GOMP_SPINCOUNT to kDefaultSpinCount and re-executes the program with the
/// same arguments. Returns only when nothing needed doing, or when the
/// re-execution failed (the program then runs with libgomp's defaults).
void ensureOpenMPWaitPolicy(char **argv);

/// How libgomp's threads wait, for the configuration table: for example
/// "GOMP_SPINCOUNT=1000 (the trainer's default)" or
/// "OMP_WAIT_POLICY=passive (from the environment)".
std::string openMPWaitPolicy();

/// Sizes the pool: `requested` (--threads) when positive; otherwise, with
/// several ranks, the cores divided by the ranks on this machine
/// (OMPI_COMM_WORLD_LOCAL_SIZE, else `worldSize`); otherwise all cores
/// (libgomp's default).
void setThreadCount(int64_t requested, int worldSize);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_THREADS_H
