//===- Collectives.h - The process group of a distributed run ---*- C++ -*-===//
//
// The C++ side of the runtime's collectives (the C ABI that generated code
// calls is in include/lmc/Runtime/lmcrt.h). A run is a mesh of processes
// with ordered, named axes (lmc/Support/Mesh.h, learnt from the model
// description); process r sits at the row-major coordinates of r (the last
// axis fastest). A group of ranks is named by a bit mask over the mesh axes
// (bit i: axis i): the group of a rank along a mask is the ranks that share
// its coordinates on the other axes, and a rank's index in it is row-major
// over the mask's axes. Every non-empty mask has its own communicator; the
// empty mask is the rank alone, the mask of all axes the world.
//
// MPI is used only when the process was started by OpenMPI's mpirun (the
// variable OMPI_COMM_WORLD_SIZE is set). Otherwise the world is this one
// process, MPI is never initialised nor even loaded (Mpi.h), and every
// collective is a copy.
//
// Collectives are called from one thread (MPI_THREAD_FUNNELED). An MPI error
// or a misuse of the collectives (shapes, unknown handles) prints one line
// on stderr and ends the whole job (MPI_Abort), so that no rank hangs. So
// does a wait that outlasts LMCRT_COLLECTIVE_TIMEOUT seconds (Deadline.h;
// the line names the collective, the step and the ranks that did not
// arrive).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_COLLECTIVES_H
#define LMC_LIB_RUNTIME_COLLECTIVES_H

#include "Comm/Mpi.h"

#include "lmc/Support/Mesh.h"

#include <cstdint>
#include <string>

namespace lmcrt::comm {

/// A group of ranks: a bit mask over the mesh axes (the C ABI's `axes`).
using Group = uint32_t;

/// Sets up the process group for `mesh`: initialises MPI under mpirun,
/// checks that the world has mesh.numDevices() processes and creates the
/// communicator of every group. Throws RuntimeError (exit code 2) when the
/// mesh has more axes than the runtime supports or the world size differs.
/// Every rank sees the same mismatch; rank() and world() still tell the
/// process's place and MPI stays initialised, so that one rank reports the
/// error and then all call finalize() before exiting (mpirun ends the job,
/// and may drop output still in flight, as soon as one rank exits with an
/// error). Calling init twice is an error too. An empty mesh is a world of
/// one rank.
void init(const ::lmc::MeshSpec &mesh);

/// The mesh of init (empty before).
const ::lmc::MeshSpec &mesh();

/// The group of every axis.
Group worldGroup();

/// "dp", "dp x tp", for messages.
std::string groupName(Group group);

/// Frees the communicators and finalises MPI if init initialised it (also
/// after a failed init). Ends the job (abortAll) when collectives were
/// started and never waited. Does nothing when init was not called.
void finalize();

/// Registers `hook` to run at the start of finalize() after a successful
/// init, while MPI is still initialised: the GPU runtime destroys its NCCL
/// communicators there. Hooks stay registered across init and finalize; a
/// hook registered twice runs once.
void atFinalize(void (*hook)());

/// True between a successful init and finalize.
bool initialized();

/// The step the trainer is taking (1-based, as it prints them; -1 before
/// the first), for the watchdog's message. Kept across init and finalize.
void setStep(int64_t step);
int64_t step();

/// The deadline of every wait, in seconds: LMCRT_COLLECTIVE_TIMEOUT (else
/// LMCRT_NCCL_TIMEOUT, else 300), read by init, which rejects a value that
/// is not a positive number (a usage error).
double timeoutSeconds();

/// True when the process group runs over MPI (started by mpirun).
bool usesMpi();

/// This process's rank in the world and the world's size (0 and 1 before
/// init).
int rank();
int world();

/// The number of ranks in this process's group `group` and its index in
/// that group (1 and 0 before init). A mask with bits beyond the mesh's
/// axes ends the job.
int groupSize(Group group);
int groupRank(Group group);

/// The communicator of this process's group `group`; MPI_COMM_NULL without
/// MPI or for the empty group (naming MPI_COMM_NULL opens the MPI library:
/// the runtime asks only when usesMpi()). For the trainer's own MPI calls (for example
/// broadcasting an NCCL id); its error handler returns errors (see
/// checkMpi).
MPI_Comm communicator(Group group);

/// Ends the job unless the group is set up and `group` is a mask over the
/// mesh's axes; `function` names the caller in the message.
Group checkedGroup(int32_t group, const char *function);

/// Ends every process of the job with exit status `code`: MPI_Abort while MPI
/// is active (after a pause of 0.3 s that lets mpirun forward the output
/// already written), otherwise this process's _exit.
[[noreturn]] void abortAll(int code);

/// Prints "lmcrt: MESSAGE" (with "rank R: " before the message when the world
/// has more than one rank) on stderr and ends the job with status 1.
[[noreturn]] void fatal(const std::string &message);

/// Does nothing when `rc` is MPI_SUCCESS; otherwise reports `what` (the
/// collective, e.g. "all_reduce over tp") with MPI's error string and ends the
/// job through fatal().
void checkMpi(int rc, const std::string &what);

/// Lets the asynchronous collectives in flight advance (MPI_Test on each).
/// Open MPI moves a nonblocking collective forward only inside MPI calls, so
/// the runtime calls this between kernels (each GEMM) for the gradient
/// all-reduces to overlap the backward pass. Cheap when nothing is pending.
void progress();

/// The number of asynchronous collectives started and not yet waited.
int64_t pendingCount();

/// A new handle for an asynchronous operation (collectives and receives
/// draw from one sequence, so that lmcrt_collective_wait tells them apart).
int64_t newHandle();

/// Answers the other ranks' watchdog questions (see Collectives.cpp); every
/// wait on other ranks calls it between its polls. Cheap when there is none.
void answerWatchdog();

/// Gathers `count` floats from every rank of this process's group `group`
/// into `recv` on the group's rank 0, in group-rank order (`recv` holds
/// count * groupSize(group) floats there and is not touched elsewhere).
/// Blocking; every rank of the group calls it with the same count. In a
/// group of one (also without MPI, or before init) it copies `send` into
/// `recv`. For the trainer's own use (assembling checkpoints); errors end the
/// job like the collectives'.
void gatherToRoot(Group group, const float *send, int64_t count, float *recv);

/// Broadcasts `bytes` bytes at `data` from the rank of index `root` in the
/// group `group` (0 <= root < groupSize(group), the same on every rank of
/// the group; ends the job otherwise) to the others. Blocking, under the
/// collective deadline; any size (sent in pieces of at most 1 GiB). Does
/// nothing in a group of one.
void broadcast(Group group, void *data, int64_t bytes, int root = 0);

/// The maximum of `value` over the group `group` (one int32; `what` names
/// it in errors), under the collective deadline like every wait. Returns
/// `value` in a group of one.
int32_t allReduceMax(Group group, int32_t value, const char *what);

} // namespace lmcrt::comm

#endif // LMC_LIB_RUNTIME_COLLECTIVES_H
