//===- FakeMeshTrainer.cpp - The trainer over a fake split model ----------===//
//
// The runtime's trainer (runTrainer) driving a stand-in for a compiled SPMD
// program whose parameters and moments are split over a dp x tp mesh, for
// test/Runtime/trainer-mesh-mpi.test. The first argument may be
// `--fake-mesh=DPxTP[,zero1]` (default 1x1); the model is ShardedModel.h's for
// that mesh, and the other arguments are the trainer's.
//
// The fake step does what a partitioned program's step would do to the
// buffers, in a way whose global result does not depend on the mesh: every
// local parameter element p becomes 0.5 p + 0.125, and each moment piece is
// updated from the ZeRO-1 piece of the new local parameter (m = 0.5 m + p,
// v = 0.25 v + p^2). The loss, a position-weighted sum of the targets of the
// rank's rows summed over the world and divided by tp and by B*T, equals the
// single-rank value only if each dp index took its own rows of the global
// batch and the tp ranks of a group the same rows. The logits are zeros.
//
// `--fake-mesh=DPxTP,local` stands in for a `--dp-sync local` program
// (LocalSgd.h): the description says `dp_sync local`, each parameter
// element also moves by 1/1024 of (the sum of the replica's targets mod 7),
// so the dp replicas diverge, the loss is the replica's own (summed over tp
// only), and lmc_dp_average{,_start,_finish} average over dp with the
// runtime's all-reduce.
//
//===----------------------------------------------------------------------===//

#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "ShardedModel.h"

#include "lmc/Runtime/lmcrt.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace lmcrt;

namespace {

std::string modelDescription;
ModelInfo model;
bool localSync = false; // --fake-mesh=...,local

/// The sum of the targets of the rank's rows, mod 7 (local mode's drift).
float rowsDrift(const lmcrt_memref_i32_2d *targets) {
  int64_t sum = 0;
  for (int64_t b = 0; b < targets->sizes[0]; ++b)
    for (int64_t j = 0; j < targets->sizes[1]; ++j)
      sum += targets->aligned[targets->offset + b * targets->strides[0] +
                              j * targets->strides[1]];
  return static_cast<float>(sum % 7) / 1024.0f;
}

void fakeTrainStep(lmcrt_train_step_result *result, lmcrt_memref_f32_1d *params,
                   lmcrt_memref_f32_1d *expAvg, lmcrt_memref_f32_1d *expAvgSq,
                   int64_t step, float lr, float, int64_t, int64_t, float,
                   float, float, float, float, lmcrt_memref_i32_2d *,
                   lmcrt_memref_i32_2d *targets, float) {
  if (params->sizes[0] != model.total || expAvg->sizes[0] != model.stateTotal ||
      expAvgSq->sizes[0] != model.stateTotal) {
    std::fprintf(stderr, "fake step: buffers of %lld/%lld/%lld elements\n",
                 static_cast<long long>(params->sizes[0]),
                 static_cast<long long>(expAvg->sizes[0]),
                 static_cast<long long>(expAvgSq->sizes[0]));
    std::exit(3);
  }
  // The mesh [dp, tp]: groups 1 (dp) and 2 (tp) of the C ABI.
  const MeshCoord coord{lmcrt_axis_index(1), lmcrt_axis_index(2)};
  float *p = params->aligned + params->offset;
  float *m = expAvg->aligned + expAvg->offset;
  float *v = expAvgSq->aligned + expAvgSq->offset;
  std::vector<float> piece;
  const float drift = localSync ? rowsDrift(targets) : 0.0f;
  for (const ParamInfo &info : model.params) {
    float *local = p + info.offset;
    for (int64_t i = 0; i < info.localNumel; ++i)
      local[i] = 0.5f * local[i] + 0.125f + drift;
    piece.resize(info.stateNumel);
    sliceState(model, info, coord, local, piece.data());
    for (int64_t i = 0; i < info.stateNumel; ++i) {
      m[info.stateOffset + i] = 0.5f * m[info.stateOffset + i] + piece[i];
      v[info.stateOffset + i] =
          0.25f * v[info.stateOffset + i] + piece[i] * piece[i];
    }
  }
  const int64_t rows = targets->sizes[0], t = targets->sizes[1];
  const int64_t firstRow = coord[0] * rows;
  float sum = 0;
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t j = 0; j < t; ++j)
      sum += static_cast<float>(
          targets->aligned[targets->offset + b * targets->strides[0] +
                           j * targets->strides[1]] *
          ((firstRow + b) * t + j + 1));
  lmcrt_memref_f32_1d one = {&sum, &sum, 0, {1}, {1}};
  lmcrt_unranked_memref ref = {1, &one};
  _mlir_ciface_lmcrt_all_reduce_f32(&ref, &ref, /*axes=*/localSync ? 2 : 3);
  result->loss =
      sum / static_cast<float>(testing_sharded::tpOf(model) * rows *
                               (localSync ? 1 : testing_sharded::dpOf(model)) *
                               t);
  result->grad_norm = static_cast<float>(step);
  result->lr = lr;
  result->nonfinite = 0.0f;
}

float fakeEvalStep(lmcrt_memref_f32_1d *, lmcrt_memref_i32_2d *,
                   lmcrt_memref_i32_2d *) {
  return 0.0f;
}

void fakeLogits(lmcrt_memref_f32_2d *result, lmcrt_memref_f32_1d *,
                lmcrt_memref_i32_2d *tokens) {
  int64_t b = tokens->sizes[0], n = b * model.vocab;
  auto *l = static_cast<float *>(std::calloc(n, sizeof(float)));
  *result = {l, l, 0, {b, model.vocab}, {model.vocab, 1}};
}

/// lmc_dp_average*: the sum over dp (group 1) by the runtime's all-reduce,
/// then times 1/dp.
void scaleByDp(lmcrt_memref_f32_1d *buffer) {
  const float scale = 1.0f / static_cast<float>(testing_sharded::dpOf(model));
  for (int64_t i = 0; i < buffer->sizes[0]; ++i)
    buffer->aligned[buffer->offset + i] *= scale;
}

void fakeDpAverage(lmcrt_memref_f32_1d *buffer) {
  lmcrt_unranked_memref ref = {1, buffer};
  _mlir_ciface_lmcrt_all_reduce_f32(&ref, &ref, /*axes=*/1);
  scaleByDp(buffer);
}

int64_t fakeDpAverageStart(lmcrt_memref_f32_1d *buffer) {
  lmcrt_unranked_memref ref = {1, buffer};
  return _mlir_ciface_lmcrt_all_reduce_start_f32(&ref, &ref, /*axes=*/1);
}

void fakeDpAverageFinish(int64_t handle, lmcrt_memref_f32_1d *buffer) {
  lmcrt_collective_wait(handle);
  scaleByDp(buffer);
}

void fakeModelInfo(lmcrt_memref_i8_1d *result) {
  size_t n = modelDescription.size();
  auto *text = static_cast<int8_t *>(std::malloc(n));
  std::memcpy(text, modelDescription.data(), n);
  *result = {text, text, 0, {static_cast<int64_t>(n)}, {1}};
}

} // namespace

int main(int argc, char **argv) {
  int dp = 1, tp = 1;
  bool zero1 = false;
  if (argc > 1 && std::strncmp(argv[1], "--fake-mesh=", 12) == 0) {
    char rest[32] = {0};
    if (std::sscanf(argv[1] + 12, "%dx%d%31s", &dp, &tp, rest) < 2 || dp < 1 ||
        tp < 1 ||
        (rest[0] && std::strcmp(rest, ",zero1") != 0 &&
         std::strcmp(rest, ",local") != 0)) {
      std::fprintf(stderr, "bad %s (--fake-mesh=DPxTP[,zero1|,local])\n",
                   argv[1]);
      return 2;
    }
    zero1 = std::strcmp(rest, ",zero1") == 0;
    localSync = std::strcmp(rest, ",local") == 0;
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  modelDescription = testing_sharded::modelText(dp, tp, zero1);
  if (localSync) {
    const std::string batch = "batch dp\n";
    modelDescription.insert(modelDescription.find(batch) + batch.size(),
                            "dp_sync local\n");
  }
  model = parseModelInfo(modelDescription);
  ModelFunctions fns = {&fakeTrainStep, &fakeEvalStep, &fakeLogits,
                        &fakeModelInfo};
  if (localSync) {
    fns.dpAverage = &fakeDpAverage;
    fns.dpAverageStart = &fakeDpAverageStart;
    fns.dpAverageFinish = &fakeDpAverageFinish;
  }
  return runTrainer(argc, argv, fns);
}
