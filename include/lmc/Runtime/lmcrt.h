/*===- lmcrt.h - The C ABI between compiled models and the runtime -*- C
 *-*-===//
 *
 * Compiled code (`lmc compile`) exports the functions declared in the second
 * half of this header; the runtime (lib/Runtime, which links no MLIR) calls
 * them. Their signatures do not depend on the model: parameters and AdamW
 * state are flat float buffers, laid out as `_mlir_ciface_lmc_model_info`
 * describes; in a program partitioned for a mesh of ranks each rank's
 * buffers hold only its pieces of the parameters and moments. Memrefs are
 *passed as pointers to MLIR's ranked memref descriptors (allocated pointer,
 *aligned pointer, offset, sizes, strides).
 *
 * Ownership: buffers passed in stay the caller's; lmc_train_step updates the
 * parameter and moment buffers in place. Buffers returned (logits, the model
 * description) were allocated by the compiled code with
 * _mlir_memref_to_llvm_alloc (which the runtime implements) and belong to
 * the caller, who releases them with _mlir_memref_to_llvm_free. In a
 * `target cuda` program the buffers passed in and those returned once the
 * device is set up are device memory (cuMemAlloc): the host reaches them
 * by copies (lib/Runtime/Core/Device.h); the scalars the compiled host code
 * itself reads and writes are host-shared memory.
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
  float nonfinite; /* 0, or 1 when some element of this rank's pieces of the
                      updated parameters or moments is NaN or infinite */
} lmcrt_train_step_result;

/* ---- Exported by compiled code ---------------------------------------- */

/* One AdamW step on the batch (tokens, targets), both [B, T], updating
 * `params`, `exp_avg` and `exp_avg_sq` in place (contiguous buffers that must
 * not overlap: `params` of the description's `params` TOTAL elements, the
 * moments of its `state` TOTAL, or of the same TOTAL without a state
 * section; each rank passes its own pieces). `step` counts
 * from 0; the learning rate warms up linearly over `warmup` steps, then
 * (decay_steps > 0) decays with a cosine to `min_lr` at `decay_steps`.
 * grad_clip <= 0 disables clipping. The update is skipped when the
 * batch's loss > max_loss (+inf: never); params and the moments then
 * stay as they were (the trainer's loss-spike guard). result->nonfinite
 * says whether the state after the step has a NaN or an infinity in this
 * rank's pieces (a rank-local flag: no collective). */
void _mlir_ciface_lmc_train_step(
    lmcrt_train_step_result *result, lmcrt_memref_f32_1d *params,
    lmcrt_memref_f32_1d *exp_avg, lmcrt_memref_f32_1d *exp_avg_sq, int64_t step,
    float lr, float min_lr, int64_t warmup, int64_t decay_steps, float beta1,
    float beta2, float eps, float weight_decay, float grad_clip,
    lmcrt_memref_i32_2d *tokens, lmcrt_memref_i32_2d *targets, float max_loss);

/* Gradient accumulation (programs compiled with `lmc compile --grad-accum`;
 * absent otherwise). lmc_grad_step adds the batch's mean gradient (the mean
 * over the ranks of the batch axes too, unless the description says
 * `dp_sync local`: then the replica's own) to `grad_acc`, a contiguous
 * buffer of the moments' size and layout (this rank's pieces, see `state`
 * below), and returns the batch's loss; parameters are not changed.
 * lmc_apply_step then makes the AdamW step of lmc_train_step with the
 * gradient grad_scale * grad_acc (grad_scale = 1/K after K micro-batches
 * from a zeroed grad_acc): its gradient norm is that gradient's, before
 * clipping.
 * It updates params and the moments in place and leaves grad_acc as it
 * was. */
float _mlir_ciface_lmc_grad_step(lmcrt_memref_f32_1d *params,
                                 lmcrt_memref_f32_1d *grad_acc,
                                 lmcrt_memref_i32_2d *tokens,
                                 lmcrt_memref_i32_2d *targets);

typedef struct {
  float grad_norm; /* global L2 norm of the mean gradient, before clipping */
  float lr;        /* learning rate applied at this step */
  float nonfinite; /* as lmcrt_train_step_result's */
} lmcrt_apply_step_result;

void _mlir_ciface_lmc_apply_step(
    lmcrt_apply_step_result *result, lmcrt_memref_f32_1d *params,
    lmcrt_memref_f32_1d *exp_avg, lmcrt_memref_f32_1d *exp_avg_sq,
    lmcrt_memref_f32_1d *grad_acc, float grad_scale, int64_t step, float lr,
    float min_lr, int64_t warmup, int64_t decay_steps, float beta1,
    float beta2, float eps, float weight_decay, float grad_clip);

/* Parameter averaging over the replicas (local SGD, DiLoCo): compiled
 * into every program whose `batch` axes span more than one rank (`lmc
 * compile --mesh dp=D` with D > 1, whatever its `--dp-sync`); absent
 * otherwise. The replicas are the ranks of the group of the `batch` axes:
 * they hold the same pieces of the parameters (the same shard coordinates
 * on the other axes). `buffer` is a contiguous buffer laid out as this
 * rank's parameter buffer (the description's `params` TOTAL elements, this
 * rank's pieces): the parameters, or anything of their layout, such as a
 * difference of them. Every rank of the group calls these functions in the
 * same order (and, with tensor parallelism, every rank of the mesh: each
 * replica group averages its own pieces).
 *
 * lmc_dp_average replaces `buffer`, in place, by its mean over the group:
 * the sum over its P ranks (the runtime's all-reduce over the `batch` axes'
 * mask), then times 1/P. lmc_dp_average_start starts that sum in place
 * (the asynchronous all-reduce) and returns its handle (> 0) at once;
 * lmc_dp_average_finish(handle, buffer), with the same buffer, waits for
 * it and scales by 1/P, leaving what lmc_dp_average leaves. Between the
 * two, `buffer` must be neither read nor written nor freed; the caller may
 * run training steps (their collectives go over other groups or follow in
 * the same order on every rank). Each handle is finished once; several
 * averages may be in flight. In a `target cuda` program the buffer is
 * device memory like the parameter buffer and the work is queued on the
 * compute stream (the trainer synchronises before it reads the result, as
 * after every entry point). Whether the training step itself reduces the
 * gradients over the group is the description's `dp_sync` line. */
void _mlir_ciface_lmc_dp_average(lmcrt_memref_f32_1d *buffer);
int64_t _mlir_ciface_lmc_dp_average_start(lmcrt_memref_f32_1d *buffer);
void _mlir_ciface_lmc_dp_average_finish(int64_t handle,
                                        lmcrt_memref_f32_1d *buffer);

/* Mean cross-entropy of the batch. */
float _mlir_ciface_lmc_eval_step(lmcrt_memref_f32_1d *params,
                                 lmcrt_memref_i32_2d *tokens,
                                 lmcrt_memref_i32_2d *targets);

/* Next-token logits [B, V] at the last position of each sequence (V the
 * description's vocab: the real vocabulary, without padding columns). */
void _mlir_ciface_lmc_logits(lmcrt_memref_f32_2d *result,
                             lmcrt_memref_f32_1d *params,
                             lmcrt_memref_i32_2d *tokens);

/* The model description: ASCII lines, terminated by "end\n":
 *   lmc-model 2
 *   name NAME
 *   dtype f32
 *   target cpu|cuda           (optional; cpu if absent)
 *   vocab V
 *   context CTX               (optional: the longest sequence, when the model
 *                              fixes one with a position table; absent for
 *                              rotary embeddings, which take any length)
 *   attention COUNT WIDTH     (optional: the model's COUNT causal
 *                              attentions, each over WIDTH query channels,
 *                              heads x head dimension; the runtime's FLOPs)
 *   heads HEADS KV_HEADS      (optional, after attention: the attentions'
 *                              query and key/value head counts when all
 *                              share them; checkpoints record it)
 *   mesh AXIS=SIZE[,AXIS=SIZE...]   (optional; one rank if absent)
 *   batch AXIS...             (optional, after mesh: the axes splitting the
 *                              batch)
 *   sequence AXIS...          (optional, after batch: the axes splitting
 *                              the sequence, `--sequence-parallel`)
 *   dp_sync local             (optional, after batch and sequence: `lmc compile
 *                              --dp-sync local`; absent: allreduce)
 *   pipeline AXIS STAGES MICROBATCHES SCHEDULE   (optional, after the mesh's
 *                              lines: `lmc compile --microbatches`; AXIS of
 *                              STAGES ranks, SCHEDULE 1f1b or gpipe)
 *   params COUNT TOTAL
 *   param NAME OFFSET RANK DIM... INIT STD DECAY     (COUNT lines, in order)
 *   pad NAME ROWS             (optional, right after the param line of NAME:
 *                              only its first ROWS rows are real)
 *   shard NAME AXIS DIM BLOCKS  (any number, right after the param line of
 *                                NAME, one per axis, in mesh order)
 *   stage NAME HOME [OTHER...]  (with a pipeline line: one per parameter,
 *                                after its param and shard lines; the stages
 *                                holding it, HOME first)
 *   state COUNT TOTAL AXIS    (optional, ZeRO-1; then COUNT lines:)
 *   state NAME OFFSET DIM     (one per parameter, in parameter order)
 *   end
 * TARGET says where the compiled code runs: `lmc compile --target cuda`
 * writes `target cuda`, and its program needs the CUDA runtime
 * (liblmcrt_cuda.a, which provides `main`) and a GPU; a cuda program linked
 * without it fails with a message saying so. The target is not part of the
 * model hash: checkpoints move between targets.
 *
 * The mesh is the one the program was partitioned for: its named axes with
 * their sizes, major to minor (the text of `lmc compile --mesh`, parsed by
 * include/lmc/Support/Mesh.h on both sides). World rank r sits at the
 * row-major coordinates of r over the axes (the last axis fastest); the
 * runtime starts as many ranks' worth of groups as the mesh has. The
 * runtime gives no axis a meaning of its own: the `batch` axes split each
 * global batch into equal consecutive row blocks, the rank with index i in
 * its group along those axes (row-major over them) reading block i; the
 * layout of every parameter and moment is in its shard and state lines.
 *
 * `dp_sync local` says that the training step does not reduce over the
 * `batch` axes: each replica (the ranks of one index along those axes:
 * one rank, or a group of the other axes such as tp) computes its loss,
 * gradients, gradient norm and clipping from its own rows and
 * updates its own parameters, which diverge until the trainer averages them
 * (lmc_dp_average*); lmc_eval_step still returns the loss averaged over the
 * group. Without the line (`allreduce`), the step averages the gradients
 * over the group and the replicas stay identical. The line is not part of
 * the model hash.
 *
 * `pipeline` says that the ranks along AXIS run the STAGES stages of the
 * training step, each its own, over MICROBATCHES micro-batches of each
 * replica's rows (lmc_grad_step returns the sum of their mean losses; the
 * trainer steps such a program through lmc_grad_step and lmc_apply_step
 * only, with grad_scale 1/MICROBATCHES). Every rank holds the full buffers;
 * after a step a parameter is current only on the stages of its `stage`
 * line, and the trainer broadcasts it (and its moments) from its HOME stage
 * before it evaluates, saves or samples. No parameter is split over AXIS.
 * Neither line is part of the model hash.
 *
 * VOCAB is the real vocabulary: token ids are below it. A model compiled
 * with its vocabulary padded (lmc.cross_entropy classes(V) over logits of
 * more columns, for even GEMM and vocabulary-parallel sizes) has a `pad`
 * line for each parameter whose rows are those columns (the token
 * embedding, an LM head of its own): rows ROWS.. of dimension 0 are padding.
 * The runtime initialises them to zero (drawing the random numbers of the
 * real rows only, so that the padded model starts as the unpadded one), the
 * compiled step keeps them zero (their logits are masked out of the loss, so
 * their gradient is exactly zero), and checkpoints hold the first ROWS rows
 * only, under the shape with ROWS rows: a padded model reads and writes the
 * checkpoints of the unpadded one, and pads what it reads with zeros.
 *
 * INIT is zeros, ones or normal (mean 0, standard deviation STD); DECAY is 1
 * when weight decay applies to the parameter. DIM... is the parameter's
 * GLOBAL (full) shape; OFFSET is where this rank's piece of it starts in the
 * parameter buffer, whose size is TOTAL (the sum of the pieces, laid out in
 * order without overlap).
 *
 * A `shard` line splits the parameter over the mesh axis AXIS (of size P)
 * along dimension DIM (0 <= DIM < RANK): with the dimension's size n =
 * BLOCKS * P * c (in the piece the lines before left), the rank with index
 * i along AXIS holds, for each block b = 0 .. BLOCKS-1 in order, the indices
 * [b*P*c + i*c, b*P*c + (i+1)*c) along DIM (and all indices of the other
 * dimensions), so its piece has DIM divided by P. BLOCKS is 1 for column or
 * row sharding and 3 for a fused QKV weight [C, 3C] split by heads. A
 * parameter is replicated over every axis without a shard line.
 *
 * Without a state section the moment buffers are laid out like the parameter
 * buffer. With one (ZeRO-1), each moment buffer has the state TOTAL elements
 * and the moments of parameter NAME start at OFFSET: when DIM >= 0 the rank
 * with index j along the section's AXIS (of size P) holds the j-th of P equal
 * contiguous parts, along DIM, of its piece of the parameter (its size along
 * DIM must divide by P); when DIM = -1 it holds the moments of its whole
 * piece.
 *
 * The runtime checks all of this (version, mesh, axes, names, dimensions,
 * divisibility, offsets and totals) and refuses a description that does not
 * hold, naming the line; a description of another version is refused with a
 * message to recompile the model. Checkpoints hold the global model whatever
 * the mesh; the model hash they carry is computed from the global
 * description (name, dtype, vocab, context and attention when present, and
 * each parameter's name, global shape -- with a pad line, its ROWS rows --,
 * INIT, STD and DECAY as written), so that a checkpoint resumes under any
 * mesh, and with or without vocabulary padding. */
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

/* Library kernels that compiled code calls (convert-lmc-to-runtime turns
 * the ops that stand for them into these calls). */

/* The compute precision of a GEMM (`lmc compile --precision`): float32, or
 * the elements of A and B rounded to TF32's 10 or bfloat16's 7 mantissa
 * bits (to nearest, ties to even), as tensor cores read them; the products
 * are accumulated in float32 and C is float32. Any other value is an error
 * that ends the job. */
enum {
  LMCRT_PRECISION_FP32 = 0,
  LMCRT_PRECISION_TF32 = 1,
  LMCRT_PRECISION_BF16 = 2,
};

/* C[..., M, N] = op(A)[..., M, K] op(B)[..., K, N] in float32, op() being a
 * transpose when `transpose_a` / `transpose_b` is non-zero, at the compute
 * precision `precision` (LMCRT_PRECISION_*). A and C share their batch
 * dimensions; B either has them too or is one matrix (rank 2) shared by
 * every batch element. Any strides; C's previous contents are ignored.
 * Runs on oneDNN: bfloat16 on its bf16 x bf16 -> f32 matmul where the CPU
 * has AVX512-BF16 (or AMX), the operands rounded into bfloat16 copies;
 * otherwise on sgemm, at a reduced precision on rounded float32 copies of
 * the operands. */
void _mlir_ciface_lmcrt_gemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
                             lmcrt_unranked_memref *c, int32_t transpose_a,
                             int32_t transpose_b, int32_t precision);

/* Epilogues of _mlir_ciface_lmcrt_gemm_bias. */
enum {
  /* C = op(A) op(B) + bias. */
  LMCRT_GEMM_BIAS = 0,
  /* aux = op(A) op(B) + bias; C = gelu(aux), GELU's tanh approximation
   * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  LMCRT_GEMM_BIAS_GELU_TANH = 1,
};

/* A linear layer's GEMM with its epilogue (lmc.matmul_bias): the GEMM of
 * _mlir_ciface_lmcrt_gemm (B one matrix, or batched; A and B rounded at
 * `precision`), then bias [N] added along C's last dimension, the products
 * summed before the bias is added; with LMCRT_GEMM_BIAS_GELU_TANH the sum
 * is also written to `aux` (the pre-activation, C's shape, any strides) and
 * C holds its GELU. With LMCRT_GEMM_BIAS, `aux` is ignored (generated code
 * passes C). Bias and epilogue are float32. On the CPU: oneDNN's sgemm,
 * then one pass over C's rows. */
void _mlir_ciface_lmcrt_gemm_bias(lmcrt_unranked_memref *a,
                                  lmcrt_unranked_memref *b,
                                  lmcrt_unranked_memref *bias,
                                  lmcrt_unranked_memref *c,
                                  lmcrt_unranked_memref *aux,
                                  int32_t transpose_a, int32_t transpose_b,
                                  int32_t epilogue, int32_t precision);

/* The GEMM of _mlir_ciface_lmcrt_gemm on operands stored as bfloat16
 * (`lmc compile --precision bf16`, lmc-bf16-storage): A and B are bfloat16
 * (their 16 bits, any strides; B one matrix or batched as there), the
 * products summed in float32 into C, float32. No rounding of the operands:
 * on the CPU's bfloat16 units (AVX512-BF16, AMX) oneDNN's bf16 matmul reads
 * them as they are (packed copies only of operands that are not packed);
 * elsewhere they are extended to float32 for sgemm, which computes the same
 * products. */
void _mlir_ciface_lmcrt_gemm_bf16(lmcrt_unranked_memref *a,
                                  lmcrt_unranked_memref *b,
                                  lmcrt_unranked_memref *c, int32_t transpose_a,
                                  int32_t transpose_b);

/* The same with C stored as bfloat16: the float32 sum rounded once (to
 * nearest, ties to even). */
void _mlir_ciface_lmcrt_gemm_bf16_out_bf16(lmcrt_unranked_memref *a,
                                           lmcrt_unranked_memref *b,
                                           lmcrt_unranked_memref *c,
                                           int32_t transpose_a,
                                           int32_t transpose_b);

/* _mlir_ciface_lmcrt_gemm_bias on bfloat16 A and B: the GEMM of
 * _mlir_ciface_lmcrt_gemm_bf16, then the epilogue in float32 (bias and
 * aux float32, C float32). With LMCRT_GEMM_BIAS aux is ignored. */
void _mlir_ciface_lmcrt_gemm_bias_bf16(lmcrt_unranked_memref *a,
                                       lmcrt_unranked_memref *b,
                                       lmcrt_unranked_memref *bias,
                                       lmcrt_unranked_memref *c,
                                       lmcrt_unranked_memref *aux,
                                       int32_t transpose_a, int32_t transpose_b,
                                       int32_t epilogue);

/* The same with C stored as bfloat16, and with it the epilogue's bias and
 * pre-activation aux (an epilogue's vectors have C's element type, as
 * cuBLASLt's do): the bias extended, the epilogue computed in float32, C
 * and aux each rounded once (to nearest, ties to even). With
 * LMCRT_GEMM_BIAS aux is ignored (generated code passes C). */
void _mlir_ciface_lmcrt_gemm_bias_bf16_out_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue);

/* The embedding gradient of the rows [offset, offset + V) of a table:
 * table_grad[V, C] = 0, then for every position (b, t),
 * table_grad[ids[b, t] - offset, :] += grad[b, t, :]. grad is [B, T, C]
 * float32, ids [B, T] int32 (ids outside [offset, offset + V) are skipped);
 * offset is 0 for a whole table. */
void _mlir_ciface_lmcrt_embedding_grad_f32(lmcrt_unranked_memref *grad,
                                           lmcrt_unranked_memref *ids,
                                           lmcrt_unranked_memref *table_grad,
                                           int64_t offset);

/* The same scatter-add into table_grad as it holds, not zeroed first:
 * table_grad += the positions' gradients (lmc.embedding_grad with `into`,
 * a tied LM head's weight gradient accumulated in place). */
void _mlir_ciface_lmcrt_embedding_grad_acc_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset);

/* Causal multi-head attention without the T x T matrix
 * (lib/Runtime/Kernels/Attention.cpp; lmc.flash_attention bufferizes to it). q
 * and out are [B, T, C] float32 with C = heads * D, k and v [B, T, Ckv] with
 * Ckv = kv_heads * D, any strides; kv_heads divides heads (grouped-query
 * attention; kv_heads = heads is multi-head attention). Query head h is
 * channels [h D, (h + 1) D) of q and reads key/value head
 * g = h / (heads / kv_heads), channels [g D, (g + 1) D) of k and v. For each
 * batch, query head and query position i:
 * out_i = sum_{j <= i} softmax_j(q_i . k_j / sqrt(D)) v_j, and
 * lse[b, h, i] ([B, heads, T]) the log-sum-exp of those scaled scores.
 * Tiled over query and key blocks with an online softmax; OpenMP over
 * (batch, head, query block). */
void _mlir_ciface_lmcrt_attention_fwd_f32(lmcrt_unranked_memref *q,
                                          lmcrt_unranked_memref *k,
                                          lmcrt_unranked_memref *v,
                                          lmcrt_unranked_memref *out,
                                          lmcrt_unranked_memref *lse,
                                          int64_t heads, int64_t kv_heads);

/* The gradients dq ([B, T, C]), dk and dv ([B, T, Ckv]), overwritten, of the
 * forward above, given its out and lse and the gradient dout of out; the
 * gradient of a key/value head sums those of the query heads it serves. The
 * probabilities are recomputed per tile as exp(q_i . k_j / sqrt(D) - lse_i);
 * OpenMP over (batch, key/value head). */
void _mlir_ciface_lmcrt_attention_bwd_f32(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);

/* The same attention on activations stored as bfloat16 (lmc-bf16-storage;
 * their 16 bits, offsets and strides in bfloat16 elements, any strides as
 * above). _fwd_bf16_in: q, k, v bfloat16, out float32; _fwd_bf16_in_out:
 * out bfloat16 too. _bwd_bf16_in: q, k, v, out and dout bfloat16, dq, dk,
 * dv float32; _bwd_bf16_in_out: dq, dk, dv bfloat16 too. lse is float32 in
 * all of them. The inputs are extended exactly to float32 and the float32
 * algorithm runs on them (the _in forms give what the _f32 forms give on
 * those values); a bfloat16 result is its float32 value rounded once (to
 * nearest, ties to even). */
void _mlir_ciface_lmcrt_attention_fwd_bf16_in(lmcrt_unranked_memref *q,
                                              lmcrt_unranked_memref *k,
                                              lmcrt_unranked_memref *v,
                                              lmcrt_unranked_memref *out,
                                              lmcrt_unranked_memref *lse,
                                              int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_attention_fwd_bf16_in_out(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_attention_bwd_bf16_in(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_attention_bwd_bf16_in_out(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);

/* The LM head, its mean cross-entropy and their gradients without the
 * [rows, V] logits (lib/Runtime/Kernels/HeadLoss.cpp; lmc.chunked_head_loss
 * bufferizes to it). x is [..., C] float32 (R rows once flattened), w the
 * head's weight [C, V], or [V, C] read transposed when transpose_b is
 * non-zero, targets [...] int32 (R of them, in [0, classes)), seed a 0-d
 * float32 (the loss's gradient); any strides. With logits = x op(w):
 * loss (0-d) = mean over the rows of logsumexp(logits[r, :N]) -
 * logits[r, target_r], N = classes (0: all V columns; the columns [N, V)
 * are padding: out of the maximum and the sum, zero gradient);
 * dlogits = (softmax(logits[r, :N]) - onehot(target_r)) * seed / R;
 * dx = dlogits op(w)^T and dw = the gradient of op(w)'s operand
 * (dlogits^T x, or x^T dlogits), both overwritten. The rows are walked
 * `rows` at a time: one rows x V block of logits is held, turned into its
 * gradient in place (OpenMP over the rows, vectorised), its block of dx
 * written and dw accumulated. The GEMMs run at `precision` as
 * _mlir_ciface_lmcrt_gemm's (dw's accumulation on sgemm, at that precision
 * on rounded copies of the operands). */
void _mlir_ciface_lmcrt_head_cross_entropy_f32(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *targets, lmcrt_unranked_memref *seed,
    lmcrt_unranked_memref *loss, lmcrt_unranked_memref *dx,
    lmcrt_unranked_memref *dw, int32_t transpose_b, int64_t classes,
    int64_t rows, int32_t precision);

/* ---- Collectives (lib/Runtime/Comm/Collectives.cpp) ------------------------
 */

/* Collectives over the process group of the model's mesh, for SPMD
 * programs. The runtime sets the group up before calling compiled code:
 * under OpenMPI's mpirun it communicates over MPI; a process started without
 * mpirun is a world of one rank, never initialises MPI, and every collective
 * below is then a copy of `in` into `out`. World rank r sits at the
 * row-major coordinates of r over the mesh axes (the last axis fastest).
 *
 * `axis` names the group of the calling rank as a bit mask over the mesh
 * axes in mesh order (bit i set when axis i is in the group; on the mesh
 * dp=D,tp=T: 1 is dp, 2 is tp, 3 both, the world): the ranks that share the
 * caller's coordinates on the other axes. A rank's index in the group is
 * row-major over the group's axes (its world rank for all of them). Every
 * rank of a group makes the same calls in the same order, with the same
 * shapes.
 *
 * Memrefs are float32, any rank and any strides (non-contiguous ones are
 * packed into temporaries); `in` and `out` may be the same memref or
 * overlap. Collectives are called from one thread.
 *
 * Errors end the whole job (MPI_Abort; without MPI the process exits with
 * status 1) after one line "lmcrt: [rank R: ]MESSAGE" on stderr: shapes that
 * do not match, a mask with bits beyond the mesh's axes, a call before the
 * group is set up, more than 2^31 - 1 elements in one message, an unknown
 * handle, or any error MPI returns (the message names the collective and
 * MPI's error string), or a wait that outlasts LMCRT_COLLECTIVE_TIMEOUT
 * seconds (default 300; the line names the collective, the step and the
 * ranks that did not arrive). A rank that dies ends the job through mpirun;
 * no rank hangs. */

/* out = the sum over the group of `in`. `in` and `out` have the same shape.
 */
void _mlir_ciface_lmcrt_all_reduce_f32(lmcrt_unranked_memref *in,
                                       lmcrt_unranked_memref *out,
                                       int32_t axes);

/* out = the group's `in` concatenated along dimension `dim` in group-rank
 * order: with a group of P ranks and `in` of size m along `dim`, group rank
 * p's `in` lands at indices [p * m, (p + 1) * m) of `out` along `dim`. `out`
 * has `in`'s shape except P * m along `dim`; 0 <= dim < rank. */
void _mlir_ciface_lmcrt_all_gather_f32(lmcrt_unranked_memref *in,
                                       lmcrt_unranked_memref *out, int32_t axes,
                                       int64_t dim);

/* The sum over the group of `in`, of which group rank p keeps block p along
 * dimension `dim`: with `in` of size P * m along `dim`, out = sum[..., p * m
 * : (p + 1) * m, ...]. The size of `in` along `dim` must divide by P; `out`
 * has `in`'s shape except m along `dim`; 0 <= dim < rank. */
void _mlir_ciface_lmcrt_reduce_scatter_f32(lmcrt_unranked_memref *in,
                                           lmcrt_unranked_memref *out,
                                           int32_t axes, int64_t dim);

/* Asynchronous forms of the three collectives above, with the same
 * arguments and results: each starts the operation (MPI's non-blocking
 * collective) and returns a handle (> 0); `out` holds the result once
 * lmcrt_collective_wait(handle) returns. Until then the caller must not read
 * `out` nor write `in` or `out`. Several operations may be in flight; every
 * rank of a group starts them in the same order. Shape errors are reported
 * at the start. */
int64_t _mlir_ciface_lmcrt_all_reduce_start_f32(lmcrt_unranked_memref *in,
                                                lmcrt_unranked_memref *out,
                                                int32_t axes);
int64_t _mlir_ciface_lmcrt_all_gather_start_f32(lmcrt_unranked_memref *in,
                                                lmcrt_unranked_memref *out,
                                                int32_t axes, int64_t dim);
int64_t _mlir_ciface_lmcrt_reduce_scatter_start_f32(lmcrt_unranked_memref *in,
                                                    lmcrt_unranked_memref *out,
                                                    int32_t axes, int64_t dim);

/* Completes the operation `handle` (copying the result into `out` when it
 * went through a temporary). Handles may be waited in any order, each once;
 * an unknown or already waited handle is an error. */
void lmcrt_collective_wait(int64_t handle);

/* Point-to-point transfers (lib/Runtime/Comm/PointToPoint.cpp), what
 * lmc.send and lmc.recv_start become. `axes` names the caller's group as for
 * the collectives; `peer` is the other rank's index in that group (row-major
 * over the group's axes: the rank with the caller's coordinates on the other
 * axes); `tag` (0 <= tag <= (MPI_TAG_UB - 1) / 2, 2^30 - 1 under OpenMPI)
 * tells messages between the same two ranks apart; messages with one tag
 * between two ranks are received in the order they were sent. Memrefs are
 * float32 or int64, any rank and any strides.
 *
 * A send copies `in` (packed row-major) into a buffer of the runtime and
 * returns at once: the caller may reuse `in` right away; the runtime
 * completes the transfer in the background (MPI_Isend, reaped at later
 * calls) and lmcrt_p2p_flush waits for all of this rank's sends.
 *
 * A receive start posts the receive into `out` and returns a handle, which
 * lmcrt_collective_wait completes like a collective's: `out` then holds the
 * message, row-major. Until then the caller must neither read, write nor
 * free `out`. The message must hold as many elements of the same type as
 * `out` (otherwise one line naming both ends the job). A wait that outlasts
 * LMCRT_COLLECTIVE_TIMEOUT seconds ends the job with one line naming the
 * transfer, the peer's world rank and the tag; so does a send that
 * lmcrt_p2p_flush waits for too long.
 *
 * Without mpirun (a world of one rank) the only peer is the rank itself: a
 * send to itself is kept until a receive from itself with the same group and
 * tag takes it, whether that receive was started before or after the send;
 * waiting for a receive whose message was never sent is an error. */
void _mlir_ciface_lmcrt_send_f32(lmcrt_unranked_memref *in, int32_t axes,
                                 int64_t peer, int64_t tag);
void _mlir_ciface_lmcrt_send_i64(lmcrt_unranked_memref *in, int32_t axes,
                                 int64_t peer, int64_t tag);
int64_t _mlir_ciface_lmcrt_recv_start_f32(lmcrt_unranked_memref *out,
                                          int32_t axes, int64_t peer,
                                          int64_t tag);
int64_t _mlir_ciface_lmcrt_recv_start_i64(lmcrt_unranked_memref *out,
                                          int32_t axes, int64_t peer,
                                          int64_t tag);

/* Waits for this rank's outstanding sends (the trainer calls it after each
 * step and before exit; the process group's finalisation does too). In a
 * `target cuda` program it also does what lmcrt_gpu_p2p_flush does, so the
 * trainer calls this one whatever the target. */
void lmcrt_p2p_flush(void);

/* This process's rank in the world and the world's size (1 without mpirun).
 * Calling them before the group is set up is an error. */
int32_t lmcrt_world_rank(void);
int32_t lmcrt_world_size(void);

/* This process's index in its group `axes` (a bit mask over the mesh axes,
 * as for the collectives): row-major over the group's axes, so for one
 * axis its coordinate along it, for all of them its world rank. Generated
 * code uses it to find its piece of a tensor (the embedding rows of its tp
 * part, its ZeRO-1 part of the moments). A mask with bits beyond the mesh's
 * axes, or a call before the group is set up, is an error that ends the job
 * like the collectives' errors. */
int64_t lmcrt_axis_index(int32_t axes);

/* ---- GPU forms (lib/Runtime/Cuda, liblmcrt_cuda.a) -------------------- */

/* For `target cuda` programs, linked with liblmcrt_cuda.a before
 * liblmcrt.a; memrefs are over device memory. All work is queued on the
 * runtime's one compute stream (the stream mgpuStreamCreate returns), in
 * order with the kernels; the host must synchronise that stream before it
 * reads a GEMM's result.
 *
 * The arguments and results of _mlir_ciface_lmcrt_gemm, over cuBLASLt:
 * float32 storage and accumulation, `precision` the compute precision
 * (CUBLAS_COMPUTE_32F, _32F_FAST_TF32, _32F_FAST_16BF). */
void _mlir_ciface_lmcrt_gpu_gemm(lmcrt_unranked_memref *a,
                                 lmcrt_unranked_memref *b,
                                 lmcrt_unranked_memref *c, int32_t transpose_a,
                                 int32_t transpose_b, int32_t precision);

/* The arguments and results of _mlir_ciface_lmcrt_gemm_bf16 and its
 * _out_bf16 and _bias forms over cuBLASLt: A and B as CUDA_R_16BF, products
 * summed in float32 (CUBLAS_COMPUTE_32F), C as CUDA_R_32F or CUDA_R_16BF;
 * the epilogue's bias and pre-activation of C's type. An epilogue cuBLASLt
 * cannot apply runs on the host as in _mlir_ciface_lmcrt_gpu_gemm_bias
 * (for a bfloat16 C, on float32 sums, C rounded once). */
void _mlir_ciface_lmcrt_gpu_gemm_bf16(lmcrt_unranked_memref *a,
                                      lmcrt_unranked_memref *b,
                                      lmcrt_unranked_memref *c,
                                      int32_t transpose_a,
                                      int32_t transpose_b);
void _mlir_ciface_lmcrt_gpu_gemm_bf16_out_bf16(lmcrt_unranked_memref *a,
                                               lmcrt_unranked_memref *b,
                                               lmcrt_unranked_memref *c,
                                               int32_t transpose_a,
                                               int32_t transpose_b);
void _mlir_ciface_lmcrt_gpu_gemm_bias_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue);
void _mlir_ciface_lmcrt_gpu_gemm_bias_bf16_out_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue);

/* The arguments and results of _mlir_ciface_lmcrt_embedding_grad_f32, on
 * the compute stream (lib/Runtime/Cuda/EmbeddingKernels.cu): the table
 * gradient is zeroed, then each position's gradient row is added to its
 * id's row with atomicAdd, so the order of the float32 sums of repeated ids
 * varies from run to run (the CPU's is sequential). */
void _mlir_ciface_lmcrt_gpu_embedding_grad_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset);
/* _mlir_ciface_lmcrt_embedding_grad_acc_f32 on the compute stream: the
 * scatter without the zeroing. */
void _mlir_ciface_lmcrt_gpu_embedding_grad_acc_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset);
/* The arguments and results of _mlir_ciface_lmcrt_gemm_bias over
 * cuBLASLt's CUBLASLT_EPILOGUE_BIAS and CUBLASLT_EPILOGUE_GELU_AUX_BIAS:
 * bias, and aux with its leading dimension, as epilogue pointers of the
 * same call. A C or aux that cuBLASLt cannot address as a column-major view
 * of the row-major output (not row-major with unit column stride), or a
 * batched B, takes the plain GEMM followed by a host-side epilogue. */
void _mlir_ciface_lmcrt_gpu_gemm_bias(lmcrt_unranked_memref *a,
                                      lmcrt_unranked_memref *b,
                                      lmcrt_unranked_memref *bias,
                                      lmcrt_unranked_memref *c,
                                      lmcrt_unranked_memref *aux,
                                      int32_t transpose_a, int32_t transpose_b,
                                      int32_t epilogue, int32_t precision);

/* Causal multi-head attention without the T x T matrix, on the compute
 * stream: the arguments and results of _mlir_ciface_lmcrt_attention_fwd_f32
 * and _bwd_f32 (q, out, dout, dq [B, T, C] and k, v, dk, dv [B, T, Ckv] with
 * contiguous channels; lse [B, heads, T] contiguous along T; C / heads = 16,
 * 32, 64 or 128; kv_heads divides heads). Kernels of
 * lib/Runtime/Cuda/AttentionKernels.cu: one thread per row, key and query
 * tiles in shared memory, an online softmax forward, the probabilities
 * recomputed from lse backward (dk, dv: one thread per key row, looping over
 * the query heads of its group); float32 on CUDA cores. */
void _mlir_ciface_lmcrt_gpu_attention_fwd_f32(lmcrt_unranked_memref *q,
                                              lmcrt_unranked_memref *k,
                                              lmcrt_unranked_memref *v,
                                              lmcrt_unranked_memref *out,
                                              lmcrt_unranked_memref *lse,
                                              int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_gpu_attention_bwd_f32(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);

/* The same attention, arguments and results for a program whose GEMMs run
 * in bf16 (`--precision bf16`; convert-lmc-to-runtime calls these instead of
 * the _f32 forms there): for C / heads = 64 or 128 the kernels of
 * lib/Runtime/Cuda/AttentionTensorCoreKernels.cu, a warp per 16 rows with
 * the products Q K^T, P V, dO V^T, P^T dO, dS^T Q and dS K on tensor cores
 * (q, k, v, dout, P and dS rounded to bf16; activations, lse, the softmax
 * and the accumulators float32); for other head sizes the float32 kernels. */
void _mlir_ciface_lmcrt_gpu_attention_fwd_bf16(lmcrt_unranked_memref *q,
                                               lmcrt_unranked_memref *k,
                                               lmcrt_unranked_memref *v,
                                               lmcrt_unranked_memref *out,
                                               lmcrt_unranked_memref *lse,
                                               int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_gpu_attention_bwd_bf16(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);
/* The bf16 forms above on activations stored as bfloat16 (lmc-bf16-storage),
 * with the element types of _mlir_ciface_lmcrt_attention_fwd_bf16_in,
 * _fwd_bf16_in_out, _bwd_bf16_in and _bwd_bf16_in_out (lse float32). The
 * same kernels read and write bfloat16 themselves: bfloat16 inputs go into
 * the tensor cores' tiles as they are (no rounding; the float32 kernels of
 * D 16 and 32 extend them), bfloat16 results are float32 values rounded once;
 * on the same values they compute what the _bf16 forms compute. */
void _mlir_ciface_lmcrt_gpu_attention_fwd_bf16_in(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_gpu_attention_fwd_bf16_in_out(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_gpu_attention_bwd_bf16_in(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);
void _mlir_ciface_lmcrt_gpu_attention_bwd_bf16_in_out(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads);
/* Row reductions on the compute stream (lib/Runtime/Cuda/RowKernels.cu; what
 * lmc.layer_norm, lmc.rms_norm, their gradients, lmc.cross_entropy and
 * lmc.cross_entropy_grad on float32 become for `target cuda`), with the
 * semantics of the ops' CPU lowering: a row is the last dimension of an
 * operand of rank 1 to 4 (any strides), the statistics are float32.
 * Norms: x, y, dy, dx [..., C]; w, b, dw, db [C]; `eps` as the op's.
 * layer_norm: y = (x - mean) rsqrt(var + eps) w + b (biased variance);
 * rms_norm: y = x rsqrt(mean(x x) + eps) w; the _bwd forms write the input
 * gradient and overwrite dw (and db) with the sums over the rows. A warp per
 * row; the parameter gradients are summed over chunks of rows, then over
 * the chunks, in a fixed order (no atomics).
 * Cross-entropy: logits [..., V], targets (int32) [...] in [0, classes),
 * `classes` <= V the real vocabulary (the columns [classes, V) are padding:
 * outside the statistics, gradient exactly 0). _fwd writes into the 0-d
 * `loss` the mean over the rows of logsumexp(row) - row[target]; _bwd
 * writes dlogits = (softmax(row) - onehot(target)) * dloss[0] / rows, dloss
 * a 0-d device buffer. A block per row, one online max/sum pass (and one
 * writing pass for the gradient). */
void _mlir_ciface_lmcrt_gpu_layer_norm_fwd_f32(lmcrt_unranked_memref *x,
                                               lmcrt_unranked_memref *w,
                                               lmcrt_unranked_memref *b,
                                               lmcrt_unranked_memref *y,
                                               double eps);
void _mlir_ciface_lmcrt_gpu_layer_norm_bwd_f32(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *dy, lmcrt_unranked_memref *dx,
    lmcrt_unranked_memref *dw, lmcrt_unranked_memref *db, double eps);
void _mlir_ciface_lmcrt_gpu_rms_norm_fwd_f32(lmcrt_unranked_memref *x,
                                             lmcrt_unranked_memref *w,
                                             lmcrt_unranked_memref *y,
                                             double eps);
/* The norms' forward passes with y stored as bfloat16 (lmc-bf16-storage,
 * when only GEMMs read it): computed in float32, each value rounded once. */
void _mlir_ciface_lmcrt_gpu_layer_norm_fwd_bf16(lmcrt_unranked_memref *x,
                                                lmcrt_unranked_memref *w,
                                                lmcrt_unranked_memref *b,
                                                lmcrt_unranked_memref *y,
                                                double eps);
void _mlir_ciface_lmcrt_gpu_rms_norm_fwd_bf16(lmcrt_unranked_memref *x,
                                              lmcrt_unranked_memref *w,
                                              lmcrt_unranked_memref *y,
                                              double eps);
void _mlir_ciface_lmcrt_gpu_rms_norm_bwd_f32(lmcrt_unranked_memref *x,
                                             lmcrt_unranked_memref *w,
                                             lmcrt_unranked_memref *dy,
                                             lmcrt_unranked_memref *dx,
                                             lmcrt_unranked_memref *dw,
                                             double eps);
void _mlir_ciface_lmcrt_gpu_cross_entropy_fwd_f32(
    lmcrt_unranked_memref *logits, lmcrt_unranked_memref *targets,
    lmcrt_unranked_memref *loss, int64_t classes);
void _mlir_ciface_lmcrt_gpu_cross_entropy_bwd_f32(
    lmcrt_unranked_memref *logits, lmcrt_unranked_memref *targets,
    lmcrt_unranked_memref *dloss, lmcrt_unranked_memref *dlogits,
    int64_t classes);
/* The same with dlogits stored as bfloat16 (lmc-bf16-storage, when only
 * GEMMs read it): each value computed in float32 and rounded once. */
void _mlir_ciface_lmcrt_gpu_cross_entropy_bwd_bf16(
    lmcrt_unranked_memref *logits, lmcrt_unranked_memref *targets,
    lmcrt_unranked_memref *dloss, lmcrt_unranked_memref *dlogits,
    int64_t classes);
/* Softmax over the last dimension of x (rank 1 to 4, any strides), with the
 * semantics of lmc.softmax's CPU lowering: y = exp(x - max) / sum(exp(x -
 * max)), entries of -inf (a causal mask's) get 0; and of lmc.softmax_grad:
 * dx = y * (dy - sum(dy * y)) from the softmax's output y. A warp per row:
 * the row's maximum, its sum of exponentials, then a pass writing y
 * (RowKernels.cu). */
void _mlir_ciface_lmcrt_gpu_softmax_fwd_f32(lmcrt_unranked_memref *x,
                                            lmcrt_unranked_memref *y);
void _mlir_ciface_lmcrt_gpu_softmax_bwd_f32(lmcrt_unranked_memref *y,
                                            lmcrt_unranked_memref *dy,
                                            lmcrt_unranked_memref *dx);
/* The sum of every element of `in` (float32, rank 1 to 4, any strides; of
 * their squares when `square` is 1) written into the 0-d `out` (what a
 * `target cuda` program's sums to a scalar become: the gradients' squared
 * norms, the last step of a fusion group's sum; lib/Runtime/Cuda/Sum.cpp).
 * One kernel of one block for at most LMCRT_SUM_ONE_BLOCK elements, else a
 * kernel over fixed chunks and a one-block kernel over their sums; the
 * order of the additions depends only on the number of elements. */
#define LMCRT_SUM_ONE_BLOCK 16384
void _mlir_ciface_lmcrt_gpu_sum_f32(lmcrt_unranked_memref *in,
                                    lmcrt_unranked_memref *out, int32_t square);

/* The collectives above, with the same arguments and semantics, over NCCL
 * (one rank per GPU; a communicator per group, every group going through
 * NCCL), `axes` the same mask. They run after the work queued on the compute
 * stream; the blocking forms and lmcrt_gpu_collective_wait return with the
 * result in place (the host may read it). Handles of the _start forms are
 * waited with lmcrt_gpu_collective_wait, not lmcrt_collective_wait. Errors end
 * the job like the CPU collectives'; an operation that does not complete within
 * LMCRT_COLLECTIVE_TIMEOUT seconds (default 600; LMCRT_NCCL_TIMEOUT is its
 * older name), or that NCCL reports failed,
 * aborts the communicators and ends the job. */
void _mlir_ciface_lmcrt_gpu_all_reduce_f32(lmcrt_unranked_memref *in,
                                           lmcrt_unranked_memref *out,
                                           int32_t axes);
void _mlir_ciface_lmcrt_gpu_all_gather_f32(lmcrt_unranked_memref *in,
                                           lmcrt_unranked_memref *out,
                                           int32_t axes, int64_t dim);
void _mlir_ciface_lmcrt_gpu_reduce_scatter_f32(lmcrt_unranked_memref *in,
                                               lmcrt_unranked_memref *out,
                                               int32_t axes, int64_t dim);
int64_t _mlir_ciface_lmcrt_gpu_all_reduce_start_f32(lmcrt_unranked_memref *in,
                                                    lmcrt_unranked_memref *out,
                                                    int32_t axes);
int64_t _mlir_ciface_lmcrt_gpu_all_gather_start_f32(lmcrt_unranked_memref *in,
                                                    lmcrt_unranked_memref *out,
                                                    int32_t axes, int64_t dim);
int64_t
_mlir_ciface_lmcrt_gpu_reduce_scatter_start_f32(lmcrt_unranked_memref *in,
                                                lmcrt_unranked_memref *out,
                                                int32_t axes, int64_t dim);
void lmcrt_gpu_collective_wait(int64_t handle);

/* The point-to-point transfers above, over NCCL (ncclSend, ncclRecv) on
 * device memory, with the same arguments; ordered after the work queued
 * on the compute stream when called. A send copies `in` into a device
 * buffer of the runtime (on the compute stream: the caller may reuse `in`
 * at once) and is issued to NCCL together with the next receive start, as
 * one NCCL group, so that two neighbours that each send to the other before
 * receiving do not deadlock; lmcrt_gpu_p2p_flush issues the sends still
 * waiting and makes the compute stream wait for all sends. A receive start
 * returns a handle for lmcrt_gpu_collective_wait, after which the work
 * queued on the compute stream sees `out`. Differences from the CPU forms:
 * NCCL has no tags, so messages between two ranks are matched in the order
 * they are issued (a rank starts its receives from a peer in the order the
 * peer sends), and the element count is not checked (a receive of another
 * size is undefined). The wait of an int64 receive also waits on the host
 * until `out` is written (generated code reads received sizes on the host
 * right after it); a float32 one orders the compute stream only. Timeouts
 * and errors end the job like the GPU collectives'. Untested on a GPU so far. */
void _mlir_ciface_lmcrt_gpu_send_f32(lmcrt_unranked_memref *in, int32_t axes,
                                     int64_t peer, int64_t tag);
void _mlir_ciface_lmcrt_gpu_send_i64(lmcrt_unranked_memref *in, int32_t axes,
                                     int64_t peer, int64_t tag);
int64_t _mlir_ciface_lmcrt_gpu_recv_start_f32(lmcrt_unranked_memref *out,
                                              int32_t axes, int64_t peer,
                                              int64_t tag);
int64_t _mlir_ciface_lmcrt_gpu_recv_start_i64(lmcrt_unranked_memref *out,
                                              int32_t axes, int64_t peer,
                                              int64_t tag);
void lmcrt_gpu_p2p_flush(void);

/* The trainer (lib/Runtime/Trainer/Trainer.cpp): parses the command line, loads
 * or initialises the parameters, trains with the functions above, and returns
 * the process exit status (0, 1 on errors, 2 on command-line errors, and 2
 * after the one line "lmc: no GPU found: REASON" when a `target cuda`
 * program finds no usable GPU). The runtime library's own `main` calls it
 * (liblmcrt_cuda.a's for cuda programs). */
int lmcrt_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* LMC_RUNTIME_LMCRT_H */
