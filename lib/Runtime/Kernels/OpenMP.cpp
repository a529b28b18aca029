//===- OpenMP.cpp - The OpenMP entry points of compiled loops -------------===//
//
// lmc compile runs the outer dimensions of its generated loops on threads
// (convert-scf-to-openmp), and LLVM's OpenMP lowering calls the entry points
// of LLVM's OpenMP runtime: __kmpc_fork_call, __kmpc_for_static_init_8u,
// __kmpc_for_static_fini, __kmpc_barrier, __kmpc_global_thread_num. Debian's
// oneDNN, which runs the GEMMs, uses GCC's OpenMP runtime (libgomp), and two
// OpenMP runtimes would be two thread pools fighting over the same cores.
// So the runtime implements those entry points here on libgomp's own API:
// compiled loops and GEMMs share libgomp's one pool, and --threads sizes
// both.
//
// Only what the lowering emits for a statically scheduled parallel loop is
// provided: a parallel region with pointer arguments, the static
// (unchunked, balanced) schedule over 64-bit unsigned iterations, and the
// barrier at its end.
//
//===----------------------------------------------------------------------===//

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <omp.h>

extern "C" {
// libgomp's entry points (GCC's own lowering of `#pragma omp parallel` and
// of barriers calls them).
void GOMP_parallel(void (*fn)(void *), void *data, unsigned numThreads,
                   unsigned flags);
void GOMP_barrier(void);
}

namespace {

/// The source location record of LLVM's OpenMP ABI; only passed through.
struct Ident;

using Microtask = void (*)(int32_t *globalTid, int32_t *boundTid, ...);

constexpr int kMaxArgs = 16;

struct Fork {
  Microtask fn;
  int32_t argc;
  void *args[kMaxArgs];
};

/// Runs the outlined region on one thread of the team.
void runMicrotask(void *data) {
  auto *fork = static_cast<Fork *>(data);
  int32_t gtid = omp_get_thread_num();
  int32_t btid = gtid;
  void **a = fork->args;
  switch (fork->argc) {
  case 0:
    fork->fn(&gtid, &btid);
    break;
  case 1:
    fork->fn(&gtid, &btid, a[0]);
    break;
  case 2:
    fork->fn(&gtid, &btid, a[0], a[1]);
    break;
  case 3:
    fork->fn(&gtid, &btid, a[0], a[1], a[2]);
    break;
  case 4:
    fork->fn(&gtid, &btid, a[0], a[1], a[2], a[3]);
    break;
  case 5:
    fork->fn(&gtid, &btid, a[0], a[1], a[2], a[3], a[4]);
    break;
  case 6:
    fork->fn(&gtid, &btid, a[0], a[1], a[2], a[3], a[4], a[5]);
    break;
  case 7:
    fork->fn(&gtid, &btid, a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    break;
  case 8:
    fork->fn(&gtid, &btid, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    break;
  default:
    fork->fn(&gtid, &btid, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
             a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
    break;
  }
}

/// This thread's block of the iterations [*lower, *upper] (inclusive, step
/// `incr` > 0) under the balanced static schedule: the first `trip % n`
/// threads get one more iteration. An empty block is upper = lower - incr.
template <typename T>
void staticInit(int32_t *lastIter, T *lower, T *upper, T *stride, T incr) {
  if (incr == 0) {
    std::fprintf(stderr, "lmcrt: OpenMP loop with a zero step\n");
    std::abort();
  }
  using U = uint64_t;
  U trip =
      (static_cast<U>(*upper) - static_cast<U>(*lower)) / static_cast<U>(incr) +
      1;
  if (static_cast<U>(*upper) + static_cast<U>(incr) == static_cast<U>(*lower))
    trip = 0; // the empty range the lowering passes as upper = lower - 1
  U n = static_cast<U>(omp_get_num_threads());
  U tid = static_cast<U>(omp_get_thread_num());
  U chunk = trip / n, extra = trip % n;
  U first = tid * chunk + (tid < extra ? tid : extra);
  U count = chunk + (tid < extra ? 1 : 0);
  *stride = static_cast<T>(trip * static_cast<U>(incr));
  *lastIter = count > 0 && first + count == trip;
  T begin =
      static_cast<T>(static_cast<U>(*lower) + first * static_cast<U>(incr));
  *lower = begin;
  *upper = static_cast<T>(static_cast<U>(begin) + count * static_cast<U>(incr) -
                          static_cast<U>(incr));
}

} // namespace

extern "C" {

int32_t __kmpc_global_thread_num(Ident *) { return omp_get_thread_num(); }

void __kmpc_fork_call(Ident *, int32_t argc, Microtask fn, ...) {
  if (argc < 0 || argc > kMaxArgs) {
    std::fprintf(stderr,
                 "lmcrt: an OpenMP region with %d arguments (at most %d)\n",
                 argc, kMaxArgs);
    std::abort();
  }
  Fork fork;
  fork.fn = fn;
  fork.argc = argc;
  va_list ap;
  va_start(ap, fn);
  for (int32_t i = 0; i < argc; ++i)
    fork.args[i] = va_arg(ap, void *);
  va_end(ap);
  GOMP_parallel(runMicrotask, &fork, 0, 0);
}

void __kmpc_for_static_init_8u(Ident *, int32_t, int32_t schedule,
                               int32_t *lastIter, uint64_t *lower,
                               uint64_t *upper, int64_t *stride, int64_t incr,
                               int64_t chunk) {
  // 34: kmp_sch_static, the only schedule the lowering asks for here.
  if (schedule != 34 || chunk > 1) {
    std::fprintf(stderr,
                 "lmcrt: unsupported OpenMP schedule %d (chunk "
                 "%lld)\n",
                 schedule, static_cast<long long>(chunk));
    std::abort();
  }
  uint64_t s = 0;
  staticInit<uint64_t>(lastIter, lower, upper, &s, static_cast<uint64_t>(incr));
  *stride = static_cast<int64_t>(s);
}

void __kmpc_for_static_init_8(Ident *id, int32_t gtid, int32_t schedule,
                              int32_t *lastIter, int64_t *lower, int64_t *upper,
                              int64_t *stride, int64_t incr, int64_t chunk) {
  __kmpc_for_static_init_8u(
      id, gtid, schedule, lastIter, reinterpret_cast<uint64_t *>(lower),
      reinterpret_cast<uint64_t *>(upper), stride, incr, chunk);
}

void __kmpc_for_static_fini(Ident *, int32_t) {}

void __kmpc_barrier(Ident *, int32_t) { GOMP_barrier(); }

} // extern "C"
