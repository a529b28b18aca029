/*===- lmcrt.h - The C ABI between compiled models and the runtime -*- C
 *-*-===//
 *
 * Compiled code (`lmc compile`) exports the functions declared in the second
 * half of this header; the runtime (lib/Runtime, which links no MLIR) calls
 * them. Their signatures do not depend on the model: parameters and AdamW
 * state are flat float buffers, laid out as `_mlir_ciface_lmc_model_info`
 * describes. Memrefs are passed as pointers to MLIR's ranked memref
 * descriptors (allocated pointer, aligned pointer, offset, sizes, strides).
 *
 * Ownership: buffers passed in stay the caller's; lmc_train_step updates the
 * parameter and moment buffers in place. Buffers returned (logits, the model
 * description) were allocated with malloc by the compiled code and belong to
 * the caller, who releases them with free(desc.allocated).
 *
 *===----------------------------------------------------------------------===*/

#ifndef LMC_RUNTIME_LMCRT_H
#define LMC_RUNTIME_LMCRT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Memref descriptors. */
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} lmcrt_memref_f32_1d;

typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} lmcrt_memref_f32_2d;

typedef struct {
  int32_t *allocated;
  int32_t *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} lmcrt_memref_i32_2d;

typedef struct {
  int8_t *allocated;
  int8_t *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} lmcrt_memref_i8_1d;

/* Results of one training step. */
typedef struct {
  float loss;      /* training loss of the batch, before the update */
  float grad_norm; /* global L2 norm of the gradients, before clipping */
  float lr;        /* learning rate applied at this step */
} lmcrt_train_step_result;

/* ---- Exported by compiled code ---------------------------------------- */

/* One AdamW step on the batch (tokens, targets), both [B, T], updating
 * `params`, `exp_avg` and `exp_avg_sq` in place (each a contiguous buffer of
 * the model's total parameter count; they must not overlap). `step` counts
 * from 0; the learning rate warms up linearly over `warmup` steps, then
 * (decay_steps > 0) decays with a cosine to `min_lr` at `decay_steps`.
 * grad_clip <= 0 disables clipping. */
void _mlir_ciface_lmc_train_step(
    lmcrt_train_step_result *result, lmcrt_memref_f32_1d *params,
    lmcrt_memref_f32_1d *exp_avg, lmcrt_memref_f32_1d *exp_avg_sq, int64_t step,
    float lr, float min_lr, int64_t warmup, int64_t decay_steps, float beta1,
    float beta2, float eps, float weight_decay, float grad_clip,
    lmcrt_memref_i32_2d *tokens, lmcrt_memref_i32_2d *targets);

/* Mean cross-entropy of the batch. */
float _mlir_ciface_lmc_eval_step(lmcrt_memref_f32_1d *params,
                                 lmcrt_memref_i32_2d *tokens,
                                 lmcrt_memref_i32_2d *targets);

/* Next-token logits [B, V] at the last position of each sequence. */
void _mlir_ciface_lmc_logits(lmcrt_memref_f32_2d *result,
                             lmcrt_memref_f32_1d *params,
                             lmcrt_memref_i32_2d *tokens);

/* The model description: ASCII lines, terminated by "end\n":
 *   lmc-model 1
 *   name NAME
 *   dtype f32
 *   vocab V
 *   context CTX
 *   params COUNT TOTAL_ELEMENTS
 *   param NAME OFFSET RANK DIM... INIT STD DECAY     (COUNT lines, in order)
 *   end
 * INIT is zeros, ones or normal (mean 0, standard deviation STD); DECAY is 1
 * when weight decay applies to the parameter. */
void _mlir_ciface_lmc_model_info(lmcrt_memref_i8_1d *result);

/* ---- Provided by the runtime ------------------------------------------ */

/* An unranked memref: the rank and a pointer to a ranked descriptor
 * {T *allocated; T *aligned; int64_t offset; int64_t sizes[rank];
 *  int64_t strides[rank];} (offset and strides count elements). */
typedef struct {
  int64_t rank;
  void *descriptor;
} lmcrt_unranked_memref;

/* Copies the elements of `src` into `dst` (same rank and sizes; any
 * strides, including zero and negative ones), `elem_size` bytes each.
 * MLIR's memref.copy lowering calls it for non-contiguous copies. Copying an
 * empty memref does nothing; contiguous inner dimensions are copied with
 * memcpy. */
void memrefCopy(int64_t elem_size, lmcrt_unranked_memref *src,
                lmcrt_unranked_memref *dst);

/* Library kernels that compiled code calls (lmc-kernels-to-runtime turns
 * the marked linalg ops into these calls). */

/* C[..., M, N] = op(A)[..., M, K] op(B)[..., K, N] in float32, op() being a
 * transpose when `transpose_a` / `transpose_b` is non-zero. A and C share
 * their batch dimensions; B either has them too or is one matrix (rank 2)
 * shared by every batch element. Any strides; C's previous contents are
 * ignored. Runs on oneDNN's sgemm. */
void _mlir_ciface_lmcrt_gemm_f32(lmcrt_unranked_memref *a,
                                 lmcrt_unranked_memref *b,
                                 lmcrt_unranked_memref *c, int32_t transpose_a,
                                 int32_t transpose_b);

/* The embedding gradient: table_grad[V, C] = 0, then for every position
 * (b, t), table_grad[ids[b, t], :] += grad[b, t, :]. grad is [B, T, C]
 * float32, ids [B, T] int32 (ids outside [0, V) are skipped). */
void _mlir_ciface_lmcrt_embedding_grad_f32(lmcrt_unranked_memref *grad,
                                           lmcrt_unranked_memref *ids,
                                           lmcrt_unranked_memref *table_grad);

/* The trainer (lib/Runtime/Trainer.cpp): parses the command line, loads or
 * initialises the parameters, trains with the functions above, and returns
 * the process exit status (0, 1 on errors, 2 on command-line errors). The
 * runtime library's own `main` calls it. */
int lmcrt_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* LMC_RUNTIME_LMCRT_H */
