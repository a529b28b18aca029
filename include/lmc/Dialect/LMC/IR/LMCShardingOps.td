//===- LMCShardingOps.td - Ops of partitioned programs -----*- tablegen -*-===//
//
// Ops that the partitioner (lmc-shard) emits besides the collectives: a
// rank's coordinate on a mesh axis, and the pieces of a vocabulary-parallel
// cross-entropy, whose logits are split over the ranks along the
// vocabulary. Included from LMCOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCSHARDINGOPS_TD
#define LMC_DIALECT_LMC_IR_LMCSHARDINGOPS_TD

def LMC_AxisIndexOp : LMC_Op<"axis_index", [Pure]> {
  let summary = "this rank's coordinate along a mesh axis";
  let description = [{
    The coordinate, from 0 to the axis size - 1, of the executing rank
    along the mesh axis `axis`: on a mesh `dp = 2, tp = 2`, rank `r` has
    coordinate `r / 2` on `dp` and `r % 2` on `tp`. A partitioned program is
    one program for all ranks; this is how it tells them apart, e.g. to
    compute the first vocabulary row of a rank's block of the embedding.

    Example:

    ```mlir
    %tp = lmc.axis_index "tp"
    // %tp : index
    ```

    **Constraints:**
    - when a mesh is in scope (the `lmc.mesh` of the nearest enclosing op
      that has one), `axis` is one of its axes.
  }];
  let arguments = (ins StrAttr:$axis);
  let results = (outs Index:$result);
  let assemblyFormat = "$axis attr-dict";
  let hasVerifier = 1;
}

def LMC_CrossEntropyStatsOp : LMC_Op<"cross_entropy_stats", [
    LMC_Reduction<[0], "cross_entropy", 0>, Pure, InferTypeOpAdaptor]> {
  let summary = "per-position softmax statistics of one vocabulary block";
  let description = [{
    The first half of a cross-entropy whose logits are split along the
    vocabulary. `logits` (`[..., Vl]`) are the columns
    `[offset, offset + Vl)` of the full logits; for each position the result
    holds three numbers:
    - `[0]`, `m`: the maximum of the block's logits;
    - `[1]`, `s`: the sum over the block of `exp(logit - m)`;
    - `[2]`, `t`: `logits[..., target - offset]` if
      `0 <= target - offset < Vl`, and 0 otherwise.

    With `classes(C)` (the `classes` of the `cross_entropy` it computes a
    block of) the columns whose GLOBAL index `offset + j` is `C` or more are
    padding and left out of `m` and `s` (a block of padding only has
    `m = -inf`, `s = 0`).

    The statistics of all blocks concatenated along the last dimension (an
    `lmc.all_gather` over the vocabulary's mesh axes) are what
    `lmc.cross_entropy_combine` turns into the loss.

    Example:

    ```mlir
    %st = lmc.cross_entropy_stats %logits, %targets offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>
    // %st : tensor<?x?x3xf32>
    ```

    **Constraints:**
    - `logits` has rank at least 2 and a static last (vocabulary)
      dimension;
    - `targets` is a tensor of signless integers whose rank is one less than
      that of `logits`, with the same leading dimensions where static;
    - `offset` is an `index`;
    - `classes`, when present, is positive;
    - the result has the leading dimensions of `logits` followed by 3, and
      the element type of `logits`.
  }];
  let arguments = (ins LMC_FloatTensor:$logits, LMC_IdTensor:$targets,
                       Index:$offset, OptionalAttr<I64Attr>:$classes);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $targets `offset` `(` $offset `)`
    (`classes` `(` $classes^ `)`)? attr-dict `:` type($logits) `,`
    type($targets)
  }];
  let hasVerifier = 1;
}

def LMC_CrossEntropyCombineOp : LMC_Op<"cross_entropy_combine", [
    LMC_Reduction<[0], "cross_entropy", 0>, Pure, InferTypeOpAdaptor]> {
  let summary = "the mean cross-entropy from the statistics of all blocks";
  let description = [{
    `stats` (`[..., 3P]`) holds the `lmc.cross_entropy_stats` of `P`
    vocabulary blocks, block `p`'s triple `(m_p, s_p, t_p)` at
    `[3p, 3p + 3)`. Per position, with `M = max_p m_p` and
    `S = sum_p s_p exp(m_p - M)`, `lse = M + log(S)` is the log-sum-exp of
    the full logits; `loss` is the mean over all positions of
    `lse - sum_p t_p` (the target's logit lies in exactly one block). The
    `lse` result is what `lmc.cross_entropy_shard_grad` needs.

    Example:

    ```mlir
    %loss, %lse = lmc.cross_entropy_combine %stats : tensor<?x?x6xf32>
    // %loss : tensor<f32>, %lse : tensor<?x?xf32>
    ```

    **Constraints:**
    - `stats` has rank at least 2 and a static last dimension that is a
      positive multiple of 3;
    - `loss` is a 0-d tensor and `lse` has the leading dimensions of
      `stats`, both of its element type.
  }];
  let arguments = (ins LMC_FloatTensor:$stats);
  let results = (outs LMC_ScalarFloatTensor:$loss, LMC_FloatTensor:$lse);
  let assemblyFormat = "$stats attr-dict `:` type($stats)";
}

def LMC_CrossEntropyShardGradOp : LMC_Op<"cross_entropy_shard_grad", [
    LMC_RowWise<[0], "cross_entropy", 0, 1, [], /*partners=*/[3]>,
    Pure, AllTypesMatch<["logits", "result"]>]> {
  let summary = "one vocabulary block of the gradient of cross_entropy";
  let description = [{
    The block of `cross_entropy_grad` for the logits columns
    `[offset, offset + Vl)`:
    `result = (exp(logits - lse[..., None]) - onehot) * grad / N`, where
    `onehot` is 1 at column `target - offset` when that lies in `[0, Vl)`,
    `lse` is the log-sum-exp of the full logits per position (from
    `lmc.cross_entropy_combine`), `grad` the 0-d gradient of the loss and
    `N` the number of positions (the product of the leading dimensions of
    `logits`). The blocks concatenated along the vocabulary are
    `lmc.cross_entropy_grad` of the full logits. With `classes(C)` the
    result is exactly 0 in the columns whose global index `offset + j` is
    `C` or more (padding).

    Example:

    ```mlir
    %dl = lmc.cross_entropy_shard_grad %logits, %targets, %dloss, %lse offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?xf32>
    ```

    **Constraints:**
    - `logits` and `targets` as for `cross_entropy_stats`;
    - `grad` is a 0-d tensor of the logits' element type;
    - `lse` has the leading dimensions of `logits` (where static) and its
      element type;
    - `offset` is an `index`; the result has the type of `logits`;
    - `classes`, when present, is positive.
  }];
  let arguments = (ins LMC_FloatTensor:$logits, LMC_IdTensor:$targets,
                       LMC_ScalarFloatTensor:$grad, LMC_FloatTensor:$lse,
                       Index:$offset, OptionalAttr<I64Attr>:$classes);
  let results = (outs LMC_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $targets `,` $grad `,` $lse `offset` `(` $offset `)`
    (`classes` `(` $classes^ `)`)? attr-dict `:` type($logits) `,`
    type($targets) `,` type($grad) `,` type($lse)
  }];
  let hasVerifier = 1;
}

#endif // LMC_DIALECT_LMC_IR_LMCSHARDINGOPS_TD
