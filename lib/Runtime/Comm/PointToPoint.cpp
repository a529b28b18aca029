//===- PointToPoint.cpp - Sends and receives over MPI ---------------------===//
//
// lmcrt.h's point-to-point transfers on the CPU: _mlir_ciface_lmcrt_send_*,
// _mlir_ciface_lmcrt_recv_start_* (completed by lmcrt_collective_wait) and
// lmcrt_p2p_flush.
//
// The peer is an index in the caller's group of `axes`; the transfer goes
// over that group's MPI communicator (Collectives.h), in which the peer's
// rank is that index. A message is two MPI messages with the same source
// and destination: a header (the element count and type) with MPI tag
// 2 * tag, then the data with MPI tag 2 * tag + 1; MPI matches messages
// between two ranks with one tag in order, so the two halves of one message
// always meet the two receives of one lmc receive.
//
// - A send packs its memref (any strides) into a buffer the runtime owns
//   and starts MPI_Isend of the header and the data, then returns: the
//   caller may reuse its memref at once. The send is forgotten when both
//   requests are done, which the runtime checks at every send and receive,
//   in progress() (between kernels) and in lmcrt_p2p_flush, which waits for
//   all of them under the deadline (a send of a large message completes only
//   once its peer receives it).
// - A receive start posts MPI_Irecv of the header and of the data, straight
//   into the memref when it is contiguous (otherwise into a temporary,
//   copied into the memref at the wait), and returns a handle from the same
//   sequence as the collectives'. lmcrt_collective_wait waits for the header
//   under the deadline (LMCRT_COLLECTIVE_TIMEOUT), checks that the message
//   holds as many elements of the same type as the memref (one line naming
//   both otherwise), then waits for the data. A wait that expires prints one
//   line naming the transfer, the peer's world rank and the tag, and ends the
//   job, as does any MPI error.
// - Without MPI (a process started on its own, a world of one rank; or a
//   group of no axes) the only peer is the rank itself: a send to itself
//   goes into a mailbox that a receive from itself with the same group and
//   tag takes, in order, whether the receive was started before or after the
//   send. A wait on a receive whose message was never sent is an error (no
//   other rank could send it).
//
//===----------------------------------------------------------------------===//

#include "Comm/PointToPoint.h"
#include "Comm/Deadline.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <climits>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::comm;

namespace {

/// The element types of the messages (the header's code).
enum class Element : int64_t { F32 = 1, I64 = 2 };

const char *elementName(int64_t code) {
  switch (static_cast<Element>(code)) {
  case Element::F32:
    return "f32";
  case Element::I64:
    return "i64";
  }
  return "unknown";
}

template <typename T> constexpr Element elementOf();
template <> constexpr Element elementOf<float>() { return Element::F32; }
template <> constexpr Element elementOf<int64_t>() { return Element::I64; }

template <typename T> MPI_Datatype mpiType() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else
    return MPI_INT64_T;
}

/// What precedes the data of every message.
struct Header {
  int64_t count = -1;
  int64_t element = 0;
};

/// One message as a rank without MPI sends it to itself.
struct Message {
  Header header;
  std::vector<char> data;
};

/// The other end of a transfer.
struct Peer {
  Group group = 0;
  int64_t index = 0; // in the group
  int64_t world = 0; // its world rank
  int64_t tag = 0;
};

/// A send in flight.
struct Send {
  std::string what;
  Header header;
  std::vector<char> data;
  MPI_Request requests[2] = {kNoRequest, kNoRequest};
};

/// A receive started and not yet waited. Stays at one address while MPI
/// writes `header` and `recv` (a node of a std::map).
struct Receive {
  std::string what;
  Peer from;
  int64_t count = 0;  // the memref's elements
  int64_t element = 0;
  std::string shape;  // the memref's, for messages
  Header header;
  char *recv = nullptr; // the memref's data, or temp
  std::vector<char> temp;
  std::function<void()> unpack; // temp into the memref, when used
  MPI_Request requests[2] = {kNoRequest, kNoRequest};
  /// Without MPI: from this rank itself, and the message once sent.
  bool local = false;
  std::optional<Message> message;
};

struct State {
  std::list<Send> sends;
  std::map<int64_t, Receive> receives; // by handle: in the order started
  /// Without MPI: messages sent to itself not yet taken, per (group, tag).
  std::map<std::pair<Group, int64_t>, std::deque<Message>> mailbox;
  /// The largest tag a message may have (from MPI_TAG_UB), asked once.
  int64_t maxTag = -1;
};

State &state() {
  static State s;
  return s;
}

bool isNull(MPI_Request request) {
  return request == kNoRequest || request == MPI_REQUEST_NULL;
}

/// Whether transfers over `group` go through MPI (otherwise: the mailbox).
bool overMpi(Group group) { return usesMpi() && group != 0; }

int toCount(int64_t n, const std::string &what) {
  if (n > INT_MAX)
    fatal(what + ": " + std::to_string(n) +
          " elements exceed MPI's count limit (2^31 - 1)");
  return static_cast<int>(n);
}

std::string stepText() {
  int64_t s = step();
  return s < 0 ? std::string("before the first step")
               : "at step " + std::to_string(s);
}

/// The largest user tag: MPI tags 2 * tag and 2 * tag + 1 must not exceed
/// MPI_TAG_UB (at least 32767 by the standard; 2^31 - 1 under OpenMPI).
int64_t maxTag() {
  State &s = state();
  if (s.maxTag < 0) {
    s.maxTag = INT_MAX / 2 - 1;
    if (usesMpi()) {
      int *bound = nullptr, flag = 0;
      checkMpi(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &bound, &flag),
               "asking MPI_TAG_UB");
      if (flag && bound)
        s.maxTag = (static_cast<int64_t>(*bound) - 1) / 2;
    }
  }
  return s.maxTag;
}

/// Checks the group, peer and tag of a call of `function` and names the
/// peer; ends the job on a bad one.
Peer checkedPeer(int32_t axes, int64_t peer, int64_t tag,
                 const char *function) {
  Peer p;
  p.group = checkedGroup(axes, function);
  int size = groupSize(p.group);
  if (peer < 0 || peer >= size)
    fatal(std::string(function) + ": peer " + std::to_string(peer) +
          " is not a rank of the group " + groupName(p.group) + " (" +
          std::to_string(size) + " ranks)");
  if (tag < 0 || tag > maxTag())
    fatal(std::string(function) + ": tag " + std::to_string(tag) +
          " is out of range (0 to " + std::to_string(maxTag()) + ")");
  p.index = peer;
  p.world = peerWorldRank(p.group, peer);
  p.tag = tag;
  return p;
}

/// "send_f32 to rank 3 (peer 1 over pp) with tag 12".
std::string describe(const char *function, const char *direction,
                     const Peer &p) {
  std::string self = p.world == rank() ? ", itself" : "";
  return std::string(function) + " " + direction + " rank " +
         std::to_string(p.world) + " (peer " + std::to_string(p.index) +
         " over " + groupName(p.group) + self + ") with tag " +
         std::to_string(p.tag);
}

/// Waits for `request` under the deadline; on expiry ends the job with
/// `what` and `why`.
void await(MPI_Request &request, const std::string &what,
           const std::string &why) {
  if (isNull(request))
    return;
  int rc = MPI_SUCCESS;
  WaitResult result = waitWithDeadline(
      [&] {
        int done = 0;
        rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        return rc != MPI_SUCCESS || done != 0;
      },
      answerWatchdog, timeoutSeconds(), WaitClock::steady());
  checkMpi(rc, what);
  if (!result.done) {
    std::ostringstream line;
    line << what << " did not complete within " << timeoutSeconds()
         << " s (LMCRT_COLLECTIVE_TIMEOUT) " << stepText() << ": " << why;
    fatal(line.str());
  }
}

/// Forgets the sends whose requests are done.
void reapSends() {
  State &s = state();
  for (auto it = s.sends.begin(); it != s.sends.end();) {
    bool done = true;
    for (MPI_Request &request : it->requests) {
      if (isNull(request))
        continue;
      int flag = 0;
      checkMpi(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), it->what);
      done = done && flag != 0;
    }
    it = done ? s.sends.erase(it) : std::next(it);
  }
}

/// Gives a message a rank without MPI sent itself to the first receive
/// waiting for it, or keeps it in the mailbox.
void deliverLocally(const Peer &to, Message message) {
  State &s = state();
  for (auto &entry : s.receives) {
    Receive &r = entry.second;
    if (r.local && !r.message && r.from.group == to.group &&
        r.from.tag == to.tag) {
      r.message = std::move(message);
      return;
    }
  }
  s.mailbox[{to.group, to.tag}].push_back(std::move(message));
}

template <typename T>
void send(lmcrt_unranked_memref *in, int32_t axes, int64_t peer, int64_t tag,
          const char *function) {
  Peer to = checkedPeer(axes, peer, tag, function);
  if (usesMpi())
    reapSends();
  MemrefView<T> view(in);
  Message message;
  message.header.count = view.numElements();
  message.header.element = static_cast<int64_t>(elementOf<T>());
  message.data.resize(sizeof(T) * view.numElements());
  copyElements(view, MemrefView<T>::packed(
                         reinterpret_cast<T *>(message.data.data()),
                         view.sizes));
  if (!overMpi(to.group)) {
    deliverLocally(to, std::move(message));
    return;
  }
  State &s = state();
  Send &out = s.sends.emplace_back();
  out.what = describe(function, "to", to);
  out.header = message.header;
  out.data = std::move(message.data);
  MPI_Comm comm = communicator(to.group);
  int dest = static_cast<int>(to.index);
  int mpiTag = static_cast<int>(2 * to.tag);
  checkMpi(MPI_Isend(&out.header, 2, MPI_INT64_T, dest, mpiTag, comm,
                     &out.requests[0]),
           out.what);
  checkMpi(MPI_Isend(out.data.data(), toCount(out.header.count, out.what),
                     mpiType<T>(), dest, mpiTag + 1, comm, &out.requests[1]),
           out.what);
}

template <typename T>
int64_t receiveStart(lmcrt_unranked_memref *outRef, int32_t axes,
                     int64_t peer, int64_t tag, const char *function) {
  Peer from = checkedPeer(axes, peer, tag, function);
  if (usesMpi())
    reapSends();
  State &s = state();
  int64_t handle = newHandle();
  Receive &r = s.receives[handle];
  r.what = describe(function, "from", from);
  r.from = from;
  MemrefView<T> out(outRef);
  r.count = out.numElements();
  r.element = static_cast<int64_t>(elementOf<T>());
  r.shape = out.shapeString();
  if (out.isContiguous()) {
    r.recv = reinterpret_cast<char *>(out.data);
  } else {
    r.temp.resize(sizeof(T) * r.count);
    r.recv = r.temp.data();
    T *temp = reinterpret_cast<T *>(r.temp.data());
    r.unpack = [out, temp] {
      copyElements(MemrefView<T>::packed(temp, out.sizes), out);
    };
  }
  if (!overMpi(from.group)) {
    r.local = true;
    auto it = s.mailbox.find({from.group, from.tag});
    if (it != s.mailbox.end() && !it->second.empty()) {
      r.message = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty())
        s.mailbox.erase(it);
    }
    return handle;
  }
  MPI_Comm comm = communicator(from.group);
  int source = static_cast<int>(from.index);
  int mpiTag = static_cast<int>(2 * from.tag);
  checkMpi(MPI_Irecv(&r.header, 2, MPI_INT64_T, source, mpiTag, comm,
                     &r.requests[0]),
           r.what);
  checkMpi(MPI_Irecv(r.recv, toCount(r.count, r.what), mpiType<T>(), source,
                     mpiTag + 1, comm, &r.requests[1]),
           r.what);
  return handle;
}

/// Ends the job unless the message `header` announces fits `r`.
void checkHeader(const Receive &r, const Header &header) {
  if (header.count == r.count && header.element == r.element)
    return;
  fatal(r.what + ": the message holds " + std::to_string(header.count) + " " +
        elementName(header.element) + " elements but the receiving buffer (" +
        r.shape + ", " + elementName(r.element) + ") holds " +
        std::to_string(r.count));
}

} // namespace

//===----------------------------------------------------------------------===//
// Collectives.cpp's side
//===----------------------------------------------------------------------===//

int64_t comm::peerWorldRank(Group group, int64_t peer) {
  const ::lmc::MeshSpec &m = mesh();
  std::vector<int64_t> coords = m.coordsOf(rank());
  for (size_t i = m.axes.size(); i-- > 0;)
    if (group & (1u << i)) {
      coords[i] = peer % m.axes[i].size;
      peer /= m.axes[i].size;
    }
  return m.rankOf(coords);
}

bool comm::waitReceive(int64_t handle) {
  State &s = state();
  auto it = s.receives.find(handle);
  if (it == s.receives.end())
    return false;
  Receive &r = it->second;
  if (r.local) {
    if (!r.message)
      fatal(r.what + ": no message with this tag was sent (without MPI a "
                     "rank receives only what it sends itself)");
    checkHeader(r, r.message->header);
    if (!r.message->data.empty())
      std::memcpy(r.recv, r.message->data.data(), r.message->data.size());
  } else {
    std::string why = "rank " + std::to_string(r.from.world) +
                      " has not sent it";
    await(r.requests[0], r.what, why);
    checkHeader(r, r.header);
    await(r.requests[1], r.what, why);
  }
  if (r.unpack)
    r.unpack();
  s.receives.erase(it);
  return true;
}

void comm::progressPointToPoint() {
  if (!usesMpi())
    return;
  reapSends();
  for (auto &entry : state().receives) {
    Receive &r = entry.second;
    if (r.local)
      continue;
    // A completed request is freed and set to null: the wait finds it done.
    // The header is checked as soon as it is in, before the data is tested
    // (a longer message fails the data's receive with MPI's truncation
    // error; the header's check names both sizes instead).
    int flag = 0;
    if (!isNull(r.requests[0])) {
      checkMpi(MPI_Test(&r.requests[0], &flag, MPI_STATUS_IGNORE),
               r.what + " (progress)");
      if (!flag)
        continue;
    }
    checkHeader(r, r.header);
    if (!isNull(r.requests[1]))
      checkMpi(MPI_Test(&r.requests[1], &flag, MPI_STATUS_IGNORE),
               r.what + " (progress)");
  }
}

void comm::flushSends() {
  State &s = state();
  for (Send &send : s.sends) {
    std::string why = "its receiver has not received it";
    for (MPI_Request &request : send.requests)
      await(request, send.what, why);
  }
  s.sends.clear();
}

void comm::finalizePointToPoint() {
  State &s = state();
  if (!s.receives.empty())
    fatal("finalize: " + std::to_string(s.receives.size()) +
          " receive(s) started and never waited (the first: " +
          s.receives.begin()->second.what + ")");
  flushSends();
  size_t unread = 0;
  for (auto &entry : s.mailbox)
    unread += entry.second.size();
  if (unread)
    fatal("finalize: " + std::to_string(unread) +
          " message(s) this rank sent itself were never received");
  s = State();
}

int64_t comm::pendingReceives() {
  return static_cast<int64_t>(state().receives.size());
}

int64_t comm::pendingSends() {
  return static_cast<int64_t>(state().sends.size());
}

//===----------------------------------------------------------------------===//
// The C ABI
//===----------------------------------------------------------------------===//

extern "C" void _mlir_ciface_lmcrt_send_f32(lmcrt_unranked_memref *in,
                                            int32_t axes, int64_t peer,
                                            int64_t tag) {
  send<float>(in, axes, peer, tag, "send_f32");
}

extern "C" void _mlir_ciface_lmcrt_send_i64(lmcrt_unranked_memref *in,
                                            int32_t axes, int64_t peer,
                                            int64_t tag) {
  send<int64_t>(in, axes, peer, tag, "send_i64");
}

extern "C" int64_t
_mlir_ciface_lmcrt_recv_start_f32(lmcrt_unranked_memref *out, int32_t axes,
                                  int64_t peer, int64_t tag) {
  return receiveStart<float>(out, axes, peer, tag, "recv_start_f32");
}

extern "C" int64_t
_mlir_ciface_lmcrt_recv_start_i64(lmcrt_unranked_memref *out, int32_t axes,
                                  int64_t peer, int64_t tag) {
  return receiveStart<int64_t>(out, axes, peer, tag, "recv_start_i64");
}

namespace {
std::vector<void (*)()> &flushHooks() {
  static std::vector<void (*)()> hooks;
  return hooks;
}
} // namespace

void comm::atP2pFlush(void (*hook)()) {
  std::vector<void (*)()> &hooks = flushHooks();
  for (void (*h)() : hooks)
    if (h == hook)
      return;
  hooks.push_back(hook);
}

extern "C" void lmcrt_p2p_flush(void) {
  if (!initialized())
    fatal("lmcrt_p2p_flush: the process group is not initialised");
  flushSends();
  for (void (*hook)() : flushHooks())
    hook();
}
