//===- Stop.h - Graceful stop on SIGTERM and SIGINT -------------*- C++ -*-===//
//
// The trainer stops cleanly on SIGTERM (a scheduler's preemption, `kill`) and
// SIGINT (Ctrl-C): the handler only records the signal, prints one line on
// stderr and restores the default action of both signals, so that a second
// signal ends the process at once. The training loop polls at each step
// boundary (after a step, its evaluation and its checkpoint): a signal that
// arrives during a step, an evaluation or a checkpoint write lets that work
// finish, then the run stops at that boundary: it writes a checkpoint of the
// step reached (with --ckpt-dir, unless that step's checkpoint was just
// written or the run took no step), logs
//   {"event":"stop","signal":"SIGTERM","step":N,"checkpoint":NAME|null,...}
// and exits 0 after SIGTERM, 130 (128 + SIGINT) after SIGINT.
//
// On a mesh every rank must stop at the same step: the boundary poll
// combines the ranks' signals with one all-reduce (max) of one int over the
// world (MPI_Allreduce on 4 bytes, a few microseconds between the ranks of a
// machine, once per step), so that a signal sent to one rank stops all of
// them at the same boundary; SIGTERM wins over SIGINT when both arrive.
// Without mpirun the poll is a load of a flag.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_TRAINER_STOP_H
#define LMC_LIB_RUNTIME_TRAINER_STOP_H

namespace lmcrt::stop {

/// Installs the SIGTERM and SIGINT handlers (once).
void install();

/// The signal this process received (SIGTERM or SIGINT), 0 for none.
int received();

/// Collective over the world: the signal any rank received (the largest
/// number), 0 for none. Every rank must call it at the same boundaries.
int agree();

/// "SIGTERM" or "SIGINT".
const char *signalName(int signal);

/// The exit status of a run stopped by `signal`: 0 for SIGTERM, 130 for
/// SIGINT.
int exitStatus(int signal);

} // namespace lmcrt::stop

#endif // LMC_LIB_RUNTIME_TRAINER_STOP_H
