"""The runtime's flash attention kernels against NumPy.

Usage: attention_numpy.py CHECK_TOOL WORKDIR

For each case (B, T, heads, D, kv_heads): random q, k, v and dout go to a file,
lmcrt-attention-check runs lmcrt_attention_fwd_f32 and _bwd_f32 on them, and
out, lse, dq, dk and dv are compared with NumPy in float64: the forward with
lmc.reference.causal_attention (on keys and values repeated to the query
heads when kv_heads is smaller), lse and the gradients from the materialised
probabilities (those of a key/value head summed over the query heads it
serves). Prints one "ok:" or "FAIL:" line per case and quantity.
"""

import math
import os
import subprocess
import sys

import numpy as np

from lmc.reference import causal_attention

RTOL = 1e-4
ATOL = 1e-5

# T below, at and across the kernels' 64-row blocks, T = 1; 1 to 4 heads;
# grouped-query (kv_heads dividing heads) and multi-query (kv_heads 1).
CASES = [(1, 1, 1, 4, 1), (2, 1, 3, 8, 3), (2, 7, 2, 16, 2), (1, 64, 2, 32, 2),
         (3, 65, 1, 8, 1), (2, 100, 4, 16, 4), (1, 129, 2, 64, 2),
         (2, 70, 4, 16, 2), (1, 130, 6, 8, 3), (2, 65, 4, 8, 1)]


def reference(q, k, v, dout, heads, kv_heads):
    B, T, C = q.shape
    D = C // heads
    G = heads // kv_heads
    split = lambda a, h: a.reshape(B, T, h, D).transpose(0, 2, 1, 3)
    merge = lambda a: a.transpose(0, 2, 1, 3).reshape(B, T, -1)
    # Key/value head j serves query heads j * G .. j * G + G - 1.
    qh, doh = split(q, heads), split(dout, heads)
    kh = np.repeat(split(k, kv_heads), G, axis=1)
    vh = np.repeat(split(v, kv_heads), G, axis=1)
    s = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(D)
    s = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), -np.inf, s)
    m = s.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(s - m).sum(axis=-1, keepdims=True)))[..., 0]
    p = np.exp(s - lse[..., None])
    dv = p.transpose(0, 1, 3, 2) @ doh
    dp = doh @ vh.transpose(0, 1, 3, 2)
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True)) / math.sqrt(D)
    dq, dk = ds @ kh, ds.transpose(0, 1, 3, 2) @ qh
    # Sum each group's gradients into its key/value head.
    group_sum = lambda a: a.reshape(B, kv_heads, G, T, D).sum(axis=2)
    out = causal_attention(q, merge(kh), merge(vh), heads)
    return out, lse, merge(dq), merge(group_sum(dk)), merge(group_sum(dv))


def main():
    tool, work = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(7)
    failed = False
    for B, T, H, D, HKV in CASES:
        C, CKV = H * D, HKV * D
        q, dout = (rng.standard_normal((B, T, C)).astype(np.float32)
                   for _ in range(2))
        k, v = (rng.standard_normal((B, T, CKV)).astype(np.float32)
                for _ in range(2))
        path_in = os.path.join(work, "in.bin")
        path_out = os.path.join(work, "out.bin")
        np.concatenate([a.ravel() for a in (q, k, v, dout)]).tofile(path_in)
        subprocess.run([tool, str(B), str(T), str(H), str(D), path_in,
                        path_out, str(HKV)], check=True)
        got = np.fromfile(path_out, dtype=np.float32)
        n, nkv, nl = B * T * C, B * T * CKV, B * H * T
        sizes = [n, nl, n, nkv, nkv]
        shapes = [(B, T, C), (B, H, T), (B, T, C), (B, T, CKV), (B, T, CKV)]
        want = reference(*(a.astype(np.float64) for a in (q, k, v, dout)), H,
                         HKV)
        offset = 0
        for name, size, shape, w in zip(("out", "lse", "dq", "dk", "dv"),
                                        sizes, shapes, want):
            g = got[offset:offset + size].reshape(shape)
            offset += size
            err = np.abs(g - w) / (ATOL / RTOL + np.abs(w))
            case = f"B {B} T {T} heads {H} D {D} {name}"
            if HKV != H:
                case = f"B {B} T {T} heads {H} kv_heads {HKV} D {D} {name}"
            if np.allclose(g, w, rtol=RTOL, atol=ATOL):
                print(f"ok: {case} (max rel {err.max():.1e})")
            else:
                failed = True
                print(f"FAIL: {case} (max rel {err.max():.1e})")
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
