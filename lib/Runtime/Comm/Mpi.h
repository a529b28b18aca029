//===- Mpi.h - MPI, opened at run time --------------------------*- C++ -*-===//
//
// The runtime speaks MPI's C API (OpenMPI's ABI, libmpi.so.40) but links no
// MPI: libmpi is opened with dlopen the first time an MPI function or handle
// is used, which the collectives do only in a process started by mpirun
// (Collectives.h). A trainer started on its own, a GPU trainer for one GPU
// among them, never loads MPI and starts on a machine without it.
//
// Include this header instead of <mpi.h>: it includes <mpi.h> for the types
// and constants, then makes each MPI function the runtime calls
// (MPI_Test, ...) a call through the loaded table, and each predefined
// handle (MPI_COMM_WORLD, MPI_FLOAT, MPI_REQUEST_NULL, ...) the address
// looked up in the loaded library. Runtime code must therefore not evaluate
// a predefined handle unless MPI is in use: it uses nullptr (kNoComm,
// kNoRequest) for "none" and mpiLoaded() before asking MPI anything.
//
// The library: $LMCRT_MPI_LIBRARY if set, else libmpi.so.40 on the loader's
// path, else in the folder of the MPI lmc was built with. It is opened with
// RTLD_GLOBAL (OpenMPI's own plugins need its symbols). When it cannot be
// opened the process prints one line naming where it looked and exits 127.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_COMM_MPI_H
#define LMC_LIB_RUNTIME_COMM_MPI_H

#include <mpi.h>

// The MPI functions the runtime and its tests call.
#define LMCRT_MPI_FUNCTIONS(X)                                                 \
  X(Abort)                                                                     \
  X(Allgather)                                                                 \
  X(Allgatherv)                                                                \
  X(Allreduce)                                                                 \
  X(Barrier)                                                                   \
  X(Comm_dup)                                                                  \
  X(Comm_free)                                                                 \
  X(Comm_get_attr)                                                             \
  X(Comm_group)                                                                \
  X(Comm_rank)                                                                 \
  X(Comm_set_errhandler)                                                       \
  X(Comm_size)                                                                 \
  X(Comm_split)                                                                \
  X(Error_string)                                                              \
  X(Finalize)                                                                  \
  X(Finalized)                                                                 \
  X(Group_free)                                                                \
  X(Group_translate_ranks)                                                     \
  X(Iallgather)                                                                \
  X(Iallreduce)                                                                \
  X(Ibcast)                                                                    \
  X(Igather)                                                                   \
  X(Init_thread)                                                               \
  X(Initialized)                                                               \
  X(Iprobe)                                                                    \
  X(Irecv)                                                                     \
  X(Ireduce_scatter_block)                                                     \
  X(Isend)                                                                     \
  X(Recv)                                                                      \
  X(Request_free)                                                              \
  X(Test)

namespace lmcrt::comm {

/// The loaded MPI functions (decltype of <mpi.h>'s prototypes: no link
/// reference).
struct MpiApi {
#define LMCRT_MPI_MEMBER(name) decltype(&::MPI_##name) name = nullptr;
  LMCRT_MPI_FUNCTIONS(LMCRT_MPI_MEMBER)
#undef LMCRT_MPI_MEMBER
};

/// The table, loading libmpi on first use (exits 127 when it cannot).
const MpiApi &mpi();
/// Whether libmpi has been loaded (nothing is loaded by asking).
bool mpiLoaded();
/// The address of the predefined object `symbol` (ompi_mpi_comm_world) in
/// libmpi, loading it on first use.
void *mpiPredefined(const char *symbol);

/// "No communicator" and "no request" without asking MPI (OpenMPI's
/// handles are pointers; null is none of its objects).
inline const MPI_Comm kNoComm = nullptr;
inline const MPI_Request kNoRequest = nullptr;

} // namespace lmcrt::comm

// Predefined handles: looked up in the loaded library.
#undef OMPI_PREDEFINED_GLOBAL
#define OMPI_PREDEFINED_GLOBAL(type, global)                                   \
  (reinterpret_cast<type>(::lmcrt::comm::mpiPredefined(#global)))

// Functions: through the table.
#define MPI_Abort ::lmcrt::comm::mpi().Abort
#define MPI_Allgather ::lmcrt::comm::mpi().Allgather
#define MPI_Allgatherv ::lmcrt::comm::mpi().Allgatherv
#define MPI_Allreduce ::lmcrt::comm::mpi().Allreduce
#define MPI_Barrier ::lmcrt::comm::mpi().Barrier
#define MPI_Comm_dup ::lmcrt::comm::mpi().Comm_dup
#define MPI_Comm_free ::lmcrt::comm::mpi().Comm_free
#define MPI_Comm_get_attr ::lmcrt::comm::mpi().Comm_get_attr
#define MPI_Comm_group ::lmcrt::comm::mpi().Comm_group
#define MPI_Comm_rank ::lmcrt::comm::mpi().Comm_rank
#define MPI_Comm_set_errhandler ::lmcrt::comm::mpi().Comm_set_errhandler
#define MPI_Comm_size ::lmcrt::comm::mpi().Comm_size
#define MPI_Comm_split ::lmcrt::comm::mpi().Comm_split
#define MPI_Error_string ::lmcrt::comm::mpi().Error_string
#define MPI_Finalize ::lmcrt::comm::mpi().Finalize
#define MPI_Finalized ::lmcrt::comm::mpi().Finalized
#define MPI_Group_free ::lmcrt::comm::mpi().Group_free
#define MPI_Group_translate_ranks ::lmcrt::comm::mpi().Group_translate_ranks
#define MPI_Iallgather ::lmcrt::comm::mpi().Iallgather
#define MPI_Iallreduce ::lmcrt::comm::mpi().Iallreduce
#define MPI_Ibcast ::lmcrt::comm::mpi().Ibcast
#define MPI_Igather ::lmcrt::comm::mpi().Igather
#define MPI_Init_thread ::lmcrt::comm::mpi().Init_thread
#define MPI_Initialized ::lmcrt::comm::mpi().Initialized
#define MPI_Iprobe ::lmcrt::comm::mpi().Iprobe
#define MPI_Irecv ::lmcrt::comm::mpi().Irecv
#define MPI_Ireduce_scatter_block ::lmcrt::comm::mpi().Ireduce_scatter_block
#define MPI_Isend ::lmcrt::comm::mpi().Isend
#define MPI_Recv ::lmcrt::comm::mpi().Recv
#define MPI_Request_free ::lmcrt::comm::mpi().Request_free
#define MPI_Test ::lmcrt::comm::mpi().Test

#endif // LMC_LIB_RUNTIME_COMM_MPI_H
