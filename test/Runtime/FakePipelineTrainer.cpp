//===- FakePipelineTrainer.cpp - The trainer over a fake pipelined model --===//
//
// The runtime's trainer (runTrainer) driving a stand-in for a program
// compiled with `lmc compile --mesh pp=P,dp=D --microbatches M`, for
// test/Runtime/trainer-pipeline-mpi.test. The first argument is
// `--fake-pipeline=PxD,M[,zero1]`; the model is ShardedModel.h's six
// parameters (replicated: no tp) on the mesh pp=P,dp=D, with a `pipeline pp
// P M 1f1b` line and a stage line per parameter: wte.weight on stage 0 and,
// tied, on the last stage; the other five spread over the stages in order.
// The other arguments are the trainer's.
//
// The fake entry points do to the buffers what a pipelined program does, in
// a way whose global result does not depend on P, D or M, so that every
// mesh must reproduce the one-stage run (P = D = M = 1):
//  - grad_step checks that it got this replica's rows and that they split
//    into M micro-batches; micro-batch k's "mean loss" L_k is a weighted mean
//    of its targets; it adds, on each stage, to grad_acc (moment layout: its
//    ZeRO-1 piece) of each parameter the stage holds, sum_k (p/2 + L_k/100)
//    with L_k averaged over dp, and returns sum_k L_k averaged over dp.
//    Parameters the stage does not hold get no gradient.
//  - apply_step checks that grad_acc holds exactly what the grad_steps since
//    the last apply_step added (the trainer zeroes it each step), then on
//    each stage updates only the parameters it holds: g = grad_scale *
//    (the whole gradient, recomputed), p -= lr g, m = 0.9 m + 0.1 g,
//    v = 0.99 v + 0.01 g^2 on the moment piece. The others are left stale.
//    Its gradient norm is the global one: the norm over each parameter's
//    HOME stage, summed over pp.
//  - eval_step and the logits read every parameter (a weighted sum of all
//    of them): they equal the one-stage run's only on consistent state.
//  - train_step is never called for a pipelined program: it fails.
//
//===----------------------------------------------------------------------===//

#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "ShardedModel.h"

#include "lmc/Runtime/lmcrt.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace lmcrt;

namespace {

std::string modelDescription;
ModelInfo model;
// What the grad_steps since the last apply_step added: their count and the
// sum of their (dp-averaged) losses.
int64_t gradCalls = 0;
double lossSum = 0;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "fake pipeline: %s\n", message.c_str());
  std::exit(3);
}

constexpr int32_t kPp = 1, kDp = 2; // groups: the mesh is [pp, dp]

MeshCoord myCoord() {
  return {lmcrt_axis_index(kPp), lmcrt_axis_index(kDp)};
}

bool holds(const ParamInfo &p, int64_t stage) {
  for (int64_t s : p.stages)
    if (s == stage)
      return true;
  return false;
}

float sumOver(float value, int32_t group) {
  lmcrt_memref_f32_1d one = {&value, &value, 0, {1}, {1}};
  lmcrt_unranked_memref ref = {1, &one};
  _mlir_ciface_lmcrt_all_reduce_f32(&ref, &ref, group);
  return value;
}

int32_t at(const lmcrt_memref_i32_2d *m, int64_t b, int64_t j) {
  return m->aligned[m->offset + b * m->strides[0] + j * m->strides[1]];
}

float fakeGradStep(lmcrt_memref_f32_1d *params, lmcrt_memref_f32_1d *gradAcc,
                   lmcrt_memref_i32_2d *tokens, lmcrt_memref_i32_2d *targets) {
  if (params->sizes[0] != model.total || gradAcc->sizes[0] != model.stateTotal)
    die("grad_step: buffers of " + std::to_string(params->sizes[0]) + "/" +
        std::to_string(gradAcc->sizes[0]) + " elements");
  const int64_t rows = targets->sizes[0], t = targets->sizes[1];
  const int64_t m = model.pipeline.microbatches;
  if (tokens->sizes[0] != rows || rows % m != 0)
    die("grad_step: " + std::to_string(rows) + " rows for " +
        std::to_string(m) + " micro-batches");
  // Micro-batch k: rows [k rows/M, (k+1) rows/M); its mean "loss".
  float losses = 0;
  const int64_t per = rows / m;
  for (int64_t k = 0; k < m; ++k) {
    float sum = 0;
    for (int64_t b = k * per; b < (k + 1) * per; ++b)
      for (int64_t j = 0; j < t; ++j)
        sum += static_cast<float>(at(targets, b, j) * (j + 1)) / 16.0f;
    losses += sum / static_cast<float>(per * t);
  }
  const float dp = static_cast<float>(model.mesh.sizeOf("dp"));
  losses = sumOver(losses, kDp) / dp;
  const MeshCoord coord = myCoord();
  const float *p = params->aligned + params->offset;
  float *g = gradAcc->aligned + gradAcc->offset;
  std::vector<float> piece;
  for (const ParamInfo &info : model.params) {
    if (!holds(info, coord[0]))
      continue;
    piece.resize(info.stateNumel);
    sliceState(model, info, coord, p + info.offset, piece.data());
    for (int64_t i = 0; i < info.stateNumel; ++i)
      g[info.stateOffset + i] +=
          static_cast<float>(m) * 0.5f * piece[i] + losses / 100.0f;
  }
  ++gradCalls;
  lossSum += losses;
  return losses;
}

void fakeApplyStep(lmcrt_apply_step_result *result,
                   lmcrt_memref_f32_1d *params, lmcrt_memref_f32_1d *expAvg,
                   lmcrt_memref_f32_1d *expAvgSq, lmcrt_memref_f32_1d *gradAcc,
                   float gradScale, int64_t, float lr, float, int64_t, int64_t,
                   float, float, float, float, float) {
  const MeshCoord coord = myCoord();
  const int64_t m = model.pipeline.microbatches;
  float *p = params->aligned + params->offset;
  float *mo = expAvg->aligned + expAvg->offset;
  float *v = expAvgSq->aligned + expAvgSq->offset;
  const float *acc = gradAcc->aligned + gradAcc->offset;
  float norm2 = 0;
  std::vector<float> full, piece;
  for (const ParamInfo &info : model.params) {
    if (!holds(info, coord[0])) {
      // No gradient reaches a parameter the stage does not hold.
      for (int64_t i = 0; i < info.stateNumel; ++i)
        if (acc[info.stateOffset + i] != 0.0f)
          die("apply_step: grad_acc of " + info.name + " is not zero");
      continue;
    }
    // The whole gradient, recomputed from the parameter (unchanged since
    // the grad_steps) and the losses they saw.
    full.resize(info.localNumel);
    for (int64_t i = 0; i < info.localNumel; ++i)
      full[i] = gradScale * (static_cast<float>(gradCalls * m) * 0.5f *
                                 p[info.offset + i] +
                             static_cast<float>(lossSum) / 100.0f);
    piece.resize(info.stateNumel);
    sliceState(model, info, coord, full.data(), piece.data());
    for (int64_t i = 0; i < info.stateNumel; ++i) {
      const float expected = piece[i], got = gradScale * acc[info.stateOffset + i];
      if (std::fabs(got - expected) > 1e-5f * (1.0f + std::fabs(expected)))
        die("apply_step: grad_acc of " + info.name + " element " +
            std::to_string(i) + " is " + std::to_string(got) + ", expected " +
            std::to_string(expected) + " (not zeroed before the step?)");
      mo[info.stateOffset + i] = 0.9f * mo[info.stateOffset + i] + 0.1f * piece[i];
      v[info.stateOffset + i] =
          0.99f * v[info.stateOffset + i] + 0.01f * piece[i] * piece[i];
    }
    for (int64_t i = 0; i < info.localNumel; ++i) {
      p[info.offset + i] -= lr * full[i];
      if (info.stages.front() == coord[0])
        norm2 += full[i] * full[i];
    }
  }
  gradCalls = 0;
  lossSum = 0;
  result->grad_norm = std::sqrt(sumOver(norm2, kPp));
  result->lr = lr;
  result->nonfinite = 0.0f;
}

void fakeTrainStep(lmcrt_train_step_result *, lmcrt_memref_f32_1d *,
                   lmcrt_memref_f32_1d *, lmcrt_memref_f32_1d *, int64_t,
                   float, float, int64_t, int64_t, float, float, float, float,
                   float, lmcrt_memref_i32_2d *, lmcrt_memref_i32_2d *, float) {
  die("train_step called on a pipelined program");
}

/// A weighted sum of every parameter.
float readsEveryParameter(const lmcrt_memref_f32_1d *params) {
  const float *p = params->aligned + params->offset;
  float sum = 0;
  for (int64_t i = 0; i < params->sizes[0]; ++i)
    sum += p[i] * static_cast<float>(i % 5 + 1);
  return sum / static_cast<float>(params->sizes[0]);
}

float fakeEvalStep(lmcrt_memref_f32_1d *params, lmcrt_memref_i32_2d *,
                   lmcrt_memref_i32_2d *) {
  return readsEveryParameter(params);
}

void fakeLogits(lmcrt_memref_f32_2d *result, lmcrt_memref_f32_1d *params,
                lmcrt_memref_i32_2d *tokens) {
  // Greedy sampling picks token (weighted sum mod vocab).
  int64_t b = tokens->sizes[0], n = b * model.vocab;
  auto *l = static_cast<float *>(std::calloc(n, sizeof(float)));
  const int64_t pick =
      static_cast<int64_t>(std::fabs(readsEveryParameter(params)) * 1000) %
      model.vocab;
  for (int64_t r = 0; r < b; ++r)
    l[r * model.vocab + pick] = 1.0f;
  *result = {l, l, 0, {b, model.vocab}, {model.vocab, 1}};
}

void fakeModelInfo(lmcrt_memref_i8_1d *result) {
  size_t n = modelDescription.size();
  auto *text = static_cast<int8_t *>(std::malloc(n));
  std::memcpy(text, modelDescription.data(), n);
  *result = {text, text, 0, {static_cast<int64_t>(n)}, {1}};
}

/// ShardedModel.h's model on pp=P,dp=D with M micro-batches.
std::string description(int p, int d, int m, bool zero1) {
  std::string text = testing_sharded::modelText(d, 1, zero1, /*shards=*/false,
                                                /*meshLine=*/false, "piped");
  text.insert(text.find("params "),
              "mesh pp=" + std::to_string(p) + ",dp=" + std::to_string(d) +
                  "\nbatch dp\npipeline pp " + std::to_string(p) + " " +
                  std::to_string(m) + " 1f1b\n");
  const auto &specs = testing_sharded::specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string stages;
    if (i == 0)
      stages = p > 1 ? "0 " + std::to_string(p - 1) : "0";
    else
      stages = std::to_string((i - 1) * p / (specs.size() - 1));
    size_t line = text.find(std::string("param ") + specs[i].name + " ");
    text.insert(text.find('\n', line) + 1,
                "stage " + std::string(specs[i].name) + " " + stages + "\n");
  }
  return text;
}

} // namespace

int main(int argc, char **argv) {
  int p = 0, d = 0, m = 0;
  char rest[32] = {0};
  if (argc < 2 || std::strncmp(argv[1], "--fake-pipeline=", 16) != 0 ||
      std::sscanf(argv[1] + 16, "%dx%d,%d%31s", &p, &d, &m, rest) < 3 ||
      p < 1 || d < 1 || m < 1 || (rest[0] && std::strcmp(rest, ",zero1"))) {
    std::fprintf(stderr, "usage: %s --fake-pipeline=PxD,M[,zero1] FLAGS...\n",
                 argv[0]);
    return 2;
  }
  modelDescription = description(p, d, m, std::strcmp(rest, ",zero1") == 0);
  model = parseModelInfo(modelDescription);
  argv[1] = argv[0];
  ++argv;
  --argc;
  ModelFunctions fns = {&fakeTrainStep, &fakeEvalStep, &fakeLogits,
                        &fakeModelInfo};
  fns.gradStep = &fakeGradStep;
  fns.applyStep = &fakeApplyStep;
  return runTrainer(argc, argv, fns);
}
