//===- PointToPoint.h - Sends and receives between ranks --------*- C++ -*-===//
//
// The C++ side of the runtime's point-to-point transfers (the C ABI is
// lmcrt.h's _mlir_ciface_lmcrt_send_*, _mlir_ciface_lmcrt_recv_start_*,
// lmcrt_collective_wait and lmcrt_p2p_flush; PointToPoint.cpp implements
// them). Collectives.cpp calls these functions so that a receive's handle is
// waited like a collective's, sends and receives advance with the
// collectives, and finalize leaves nothing in flight.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_COMM_POINTTOPOINT_H
#define LMC_LIB_RUNTIME_COMM_POINTTOPOINT_H

#include "Comm/Collectives.h"

#include <cstdint>

namespace lmcrt::comm {

/// Completes the receive `handle` (lmcrt_collective_wait of a handle that is
/// not a collective's): true when it was one, false when the handle is
/// unknown here.
bool waitReceive(int64_t handle);

/// Lets the sends and receives in flight advance, and forgets the sends that
/// are done (progress()).
void progressPointToPoint();

/// Waits, under the collective deadline, until every send this rank started
/// is done (lmcrt_p2p_flush, which also runs the hook below).
void flushSends();

/// Registers `hook` to run in lmcrt_p2p_flush after the CPU sends are
/// flushed: the GPU runtime flushes its NCCL sends there, so that the
/// trainer calls one function whatever the target. A hook registered twice
/// runs once.
void atP2pFlush(void (*hook)());

/// At finalize(): flushes the sends; ends the job when receives were started
/// and never waited, or when messages this rank sent itself were never
/// received.
void finalizePointToPoint();

/// The receives started and not yet waited, and the sends not yet known to
/// be done.
int64_t pendingReceives();
int64_t pendingSends();

/// The world rank of the rank with index `peer` in this rank's group
/// `group`: the rank whose coordinates on the group's axes are `peer` read
/// row-major (mesh order) and whose other coordinates are this rank's.
int64_t peerWorldRank(Group group, int64_t peer);

} // namespace lmcrt::comm

#endif // LMC_LIB_RUNTIME_COMM_POINTTOPOINT_H
