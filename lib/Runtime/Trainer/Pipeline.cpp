//===- Pipeline.cpp - The trainer's side of pipeline parallelism ----------===//
//
// Flag checks, the startup table's row, the consistency broadcast from each
// parameter's home stage, and the flush of the point-to-point sends
// (Pipeline.h).
//
//===----------------------------------------------------------------------===//

#include "Trainer/Pipeline.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"
#include "Trainer/LocalSgd.h"
#include "Trainer/Flags.h"

#include <vector>

namespace lmcrt {

void validatePipeline(const Config &c, const ModelInfo &model,
                      const ModelFunctions &fns) {
  if (!model.pipelined())
    return;
  const PipelineInfo &pipe = model.pipeline;
  const std::string axis = model.mesh.axes[pipe.axis].name;
  const std::string program =
      "this program is pipelined (" + axis + "=" +
      std::to_string(pipe.stages) + ")";
  // Local SGD's flags (LocalSgd.h): its replicas would average stale
  // stages; the compiler refuses --dp-sync local with a pipeline too.
  if (const char *local = firstLocalSgdFlag(c))
    usageError(std::string(local) + ": local SGD does not compose with "
               "pipeline parallelism; " + program);
  if (!fns.gradStep || !fns.applyStep)
    fail(program + ", but lacks lmc_grad_step or lmc_apply_step");
  if (!c.logits.empty() || c.generate)
    return;
  // Each replica's rows split into the M micro-batches of grad_step (the
  // global batch's split over the batch axes is checked by the trainer).
  const int64_t parts = model.batchParts();
  if (c.batch % parts != 0)
    return;
  const int64_t rows = c.batch / parts, m = pipe.microbatches;
  if (rows % m != 0)
    usageError("--batch " + std::to_string(c.batch) + ": " +
               (parts > 1 ? "the " + std::to_string(rows) + " rows of each " +
                                model.mesh.groupName(model.batchAxes) + "=" +
                                std::to_string(parts) + " replica are"
                          : std::string("the batch is")) +
               " not divisible by the program's " + std::to_string(m) +
               " micro-batches (`lmc compile --microbatches " +
               std::to_string(m) + "`)");
}

std::string pipelineText(const ModelInfo &model) {
  if (!model.pipelined())
    return "-";
  const PipelineInfo &pipe = model.pipeline;
  return model.mesh.axes[pipe.axis].name + "=" + std::to_string(pipe.stages) +
         ", " + std::to_string(pipe.microbatches) + " micro-batch" +
         (pipe.microbatches == 1 ? "" : "es") + ", " + pipe.schedule;
}

void broadcastFromHomeStages(const ModelInfo &model, float *params,
                             float *expAvg, float *expAvgSq) {
  if (!model.pipelined())
    return;
  const comm::Group group = model.pipelineGroup();
  // Runs of parameters with one home whose ranges follow each other, in the
  // parameter buffer and (separately) in the moment buffers.
  struct Run {
    int64_t home, offset, count;
  };
  auto runs = [&](bool moments) {
    std::vector<Run> out;
    for (const ParamInfo &p : model.params) {
      const int64_t home = p.stages.empty() ? 0 : p.stages.front();
      const int64_t offset = moments ? p.stateOffset : p.offset;
      const int64_t count = moments ? p.stateNumel : p.localNumel;
      if (!out.empty() && out.back().home == home &&
          out.back().offset + out.back().count == offset)
        out.back().count += count;
      else
        out.push_back({home, offset, count});
    }
    return out;
  };
  for (const Run &r : runs(false))
    comm::broadcast(group, params + r.offset, sizeof(float) * r.count,
                    static_cast<int>(r.home));
  for (const Run &r : runs(true))
    for (float *moment : {expAvg, expAvgSq})
      comm::broadcast(group, moment + r.offset, sizeof(float) * r.count,
                      static_cast<int>(r.home));
}

void flushPipelineSends() {
  // On a GPU also the NCCL sends (a hook the GPU runtime registers).
  lmcrt_p2p_flush();
}

PipelineSync::PipelineSync(const ModelInfo &model)
    : model(model), pipelined(model.pipelined()) {}

void PipelineSync::sync(float *params, float *expAvg, float *expAvgSq) {
  if (!stale)
    return;
  broadcastFromHomeStages(model, params, expAvg, expAvgSq);
  stale = false;
}

} // namespace lmcrt
