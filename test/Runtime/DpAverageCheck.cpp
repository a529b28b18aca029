//===- DpAverageCheck.cpp - lmc_dp_average of a compiled model over MPI ---===//
//
// The main of a program linked with a compiled model (`lmc compile --emit
// obj`) instead of the trainer (liblmcrt-dp-average-check.a comes before
// liblmcrt.a, so that its main is the one linked; test/Runtime/
// dp-average-mpi.test). It sets up the mesh of the model's description and
// calls the compiled averages on buffers of the parameter layout whose
// values depend on the rank and the index, then compares each element with
// the mean over the rank's replicas (the ranks of its batch-axes group),
// computed here from those values. The values are small integers whose
// means are exact in float32, so the comparison is exact. Checked:
//   blocking   lmc_dp_average
//   async      two averages in flight at once, started in one order and
//              finished in the other
// Prints one line per check and rank, "rank R: NAME ok (N elements, P
// replicas)" or the first element that differs, and exits 1 on a mismatch.
//
//===----------------------------------------------------------------------===//

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "lmc/Runtime/lmcrt.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace lmcrt;

namespace {

lmcrt_memref_f32_1d descriptor(std::vector<float> &v) {
  return {v.data(), v.data(), 0, {static_cast<int64_t>(v.size())}, {1}};
}

/// The value world rank `rank` puts at index `i` of buffer `which`.
float valueAt(int64_t rank, int64_t i, int which) {
  return static_cast<float>(8 * rank + (i * (which + 3)) % 13 - 6);
}

/// The world ranks of `rank`'s group along the mask `axes`: those that share
/// its coordinates on the other axes.
std::vector<int64_t> groupOf(const ModelInfo &info, int64_t rank,
                             uint32_t axes) {
  MeshCoord mine = meshCoordOf(info, rank);
  std::vector<int64_t> members;
  for (int64_t r = 0; r < info.numRanks(); ++r) {
    MeshCoord coord = meshCoordOf(info, r);
    bool same = true;
    for (size_t a = 0; a < coord.size(); ++a)
      if (!(axes & (1u << a)) && coord[a] != mine[a])
        same = false;
    if (same)
      members.push_back(r);
  }
  return members;
}

/// Compares `buffer` with the mean of buffer `which` over `members`.
bool check(const char *name, const std::vector<float> &buffer, int which,
           const std::vector<int64_t> &members, int64_t rank) {
  for (size_t i = 0; i < buffer.size(); ++i) {
    double sum = 0;
    for (int64_t r : members)
      sum += valueAt(r, static_cast<int64_t>(i), which);
    float expected = static_cast<float>(sum / members.size());
    if (buffer[i] != expected) {
      std::printf("rank %lld: %s MISMATCH at %zu: %.9g, expected %.9g\n",
                  static_cast<long long>(rank), name, i, buffer[i], expected);
      return false;
    }
  }
  std::printf("rank %lld: %s ok (%zu elements, %zu replicas)\n",
              static_cast<long long>(rank), name, buffer.size(),
              members.size());
  return true;
}

} // namespace

int main() {
  try {
    lmcrt_memref_i8_1d text{};
    _mlir_ciface_lmc_model_info(&text);
    ModelInfo info = parseModelInfo(
        std::string(reinterpret_cast<const char *>(text.aligned) + text.offset,
                    static_cast<size_t>(text.sizes[0])));
    comm::init(info.mesh);
    int64_t rank = comm::rank();
    std::vector<int64_t> members = groupOf(info, rank, info.batchAxes);
    std::printf("rank %lld: mesh %s, dp_sync %s\n",
                static_cast<long long>(rank), info.meshText().c_str(),
                info.dpSyncLocal ? "local" : "allreduce");
    auto fill = [&](int which) {
      std::vector<float> v(info.total);
      for (int64_t i = 0; i < info.total; ++i)
        v[i] = valueAt(rank, i, which);
      return v;
    };
    bool ok = true;
    std::vector<float> a = fill(0);
    lmcrt_memref_f32_1d da = descriptor(a);
    _mlir_ciface_lmc_dp_average(&da);
    ok &= check("blocking", a, 0, members, rank);

    std::vector<float> b = fill(1), c = fill(2);
    lmcrt_memref_f32_1d db = descriptor(b), dc = descriptor(c);
    int64_t hb = _mlir_ciface_lmc_dp_average_start(&db);
    int64_t hc = _mlir_ciface_lmc_dp_average_start(&dc);
    _mlir_ciface_lmc_dp_average_finish(hc, &dc);
    _mlir_ciface_lmc_dp_average_finish(hb, &db);
    ok &= check("async", b, 1, members, rank);
    ok &= check("async-second", c, 2, members, rank);
    std::fflush(stdout);
    comm::finalize();
    return ok ? 0 : 1;
  } catch (const RuntimeError &e) {
    std::fprintf(stderr, "dp-average-check: %s\n", e.what());
    return 1;
  }
}
