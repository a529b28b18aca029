//===- PointToPointProgramCheck.cpp - Compiled sends and receives ---------===//
//
// The main of a program linked with test/Runtime/Inputs/point-to-point-
// program.mlir compiled by lmc-opt's reference pipeline with library calls
// (test/Runtime/point-to-point-program-mpi.test; liblmcrt-p2p-program-
// check.a comes before liblmcrt.a, so that its main is the one linked). Run
// under mpirun on the mesh pp=2 x tp=2: each rank sets up the mesh, calls
// the function of its pipeline stage (stage0 or stage1, by its pp
// coordinate) on rows filled from its world rank, and checks that it
// received the other stage's result: 2 x or 3 x the other stage's input,
// with that stage's row count (3 rows for stage 0, 5 for stage 1), from
// the rank of its own pp group (same tp coordinate), computed here from the
// mesh. Prints "rank R: stage S ok (N rows from rank P)" or the first
// element that differs, and exits 1 on a mismatch.
//
//===----------------------------------------------------------------------===//

#include "Comm/Collectives.h"
#include "lmc/Runtime/lmcrt.h"

#include <cstdio>
#include <vector>

using namespace lmcrt;

namespace {

struct Memref2D {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};

constexpr int64_t kCols = 8;

int64_t rowsOf(int64_t stage) { return stage == 0 ? 3 : 5; }

float inputOf(int64_t rank, int64_t i) {
  return static_cast<float>(rank * 100 + i);
}

} // namespace

extern "C" void _mlir_ciface_stage0(Memref2D *result, Memref2D *x);
extern "C" void _mlir_ciface_stage1(Memref2D *result, Memref2D *x);
extern "C" void _mlir_memref_to_llvm_free(void *ptr);

int main() {
  comm::init(::lmc::MeshSpec{{{"pp", 2}, {"tp", 2}}});
  int rank = comm::rank();
  int64_t stage = lmcrt_axis_index(1);
  int64_t other = 1 - stage;
  // The other stage's rank: same tp coordinate (rank = 2 pp + tp).
  int64_t peer = other * 2 + rank % 2;
  std::vector<float> in(rowsOf(stage) * kCols);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = inputOf(rank, static_cast<int64_t>(i));
  Memref2D x = {in.data(), in.data(), 0, {rowsOf(stage), kCols}, {kCols, 1}};
  Memref2D r = {};
  if (stage == 0)
    _mlir_ciface_stage0(&r, &x);
  else
    _mlir_ciface_stage1(&r, &x);
  lmcrt_p2p_flush();

  int status = 0;
  float factor = other == 0 ? 2.0f : 3.0f;
  if (r.sizes[0] != rowsOf(other) || r.sizes[1] != kCols) {
    std::printf("rank %d: MISMATCH: received %lldx%lld, expected %lldx%lld\n",
                rank, static_cast<long long>(r.sizes[0]),
                static_cast<long long>(r.sizes[1]),
                static_cast<long long>(rowsOf(other)),
                static_cast<long long>(kCols));
    status = 1;
  } else {
    for (int64_t i = 0; i < rowsOf(other) * kCols && !status; ++i) {
      float got = r.aligned[r.offset + (i / kCols) * r.strides[0] +
                            (i % kCols) * r.strides[1]];
      float want = factor * inputOf(peer, i);
      if (got != want) {
        std::printf("rank %d: MISMATCH at element %lld: %g, expected %g\n",
                    rank, static_cast<long long>(i), got, want);
        status = 1;
      }
    }
  }
  if (!status)
    std::printf("rank %d: stage %lld ok (%lld rows from rank %lld)\n", rank,
                static_cast<long long>(stage),
                static_cast<long long>(r.sizes[0]),
                static_cast<long long>(peer));
  std::fflush(stdout);
  _mlir_memref_to_llvm_free(r.allocated);
  comm::finalize();
  return status;
}
