"""Numeric checks of the vocabulary-parallel ops against NumPy.

Usage: vocab_parallel.py gen OUT.mlir     writes @main, which runs the cases
                                          and prints their results
       vocab_parallel.py check RUN.txt    compares what @main printed with
                                          NumPy (and the sharded results with
                                          the unsharded ops' results)

Cross-entropy: the logits are split along the vocabulary into P = 1, 2 and 4
blocks (tensor.extract_slice); each block's lmc.cross_entropy_stats (with
the block's first column as offset) are concatenated (lmc.concat) and
reduced by lmc.cross_entropy_combine; each block's
lmc.cross_entropy_shard_grad is concatenated back to the full vocabulary.
The loss and the gradient must be those of lmc.cross_entropy and
lmc.cross_entropy_grad on the whole logits, and NumPy's. Logits of rank 3
[3, 5, V] and rank 2 [7, V] (odd leading sizes, dynamic at the ops), f32 and
f64, and a loss gradient of 0.75.

Padded vocabulary: the same with `classes(7)` (columns 7.. are padding,
set to large logits that would dominate an unmasked loss): the loss and
the gradient are NumPy's over the first 7 columns, the gradient exactly 0
in the padding; split into 2 and 4 blocks, the last blocks hold padding
only (masked by their global column index, offset + column).

Embedding: a table of 8 rows split into halves (offsets 0 and 4). The
halves' lmc.embedding results summed are the whole table's embedding; their
lmc.embedding_grad results stacked are the whole table's gradient.

Each case prints "case NAME", "sizes, D0, ..." and the elements in row-major
order as bit patterns (i32 for f32, i64 for f64), one per line.
"""

import re
import sys

import numpy as np

VOCAB = 16
CLASSES = 7  # of the padded cases: columns 7..15 are padding
BLOCKS = (1, 2, 4)
DLOSS = 0.75
TOL = {"f32": (1e-5, 1e-7), "f64": (1e-12, 1e-15)}  # (rtol, atol)
NP = {"f32": np.float32, "f64": np.float64}


def _rng():
    return np.random.default_rng(20240611)


def ce_inputs():
    """name -> (logits, targets, dtype, classes or None)."""
    rng = _rng()
    out = {}
    for dtype in ("f32", "f64"):
        for shape in ((3, 5), (7,)):
            logits = (rng.standard_normal(shape + (VOCAB,)) * 3.0).astype(NP[dtype])
            targets = rng.integers(0, VOCAB, size=shape).astype(np.int32)
            out[f"ce_{dtype}_r{len(shape) + 1}"] = (logits, targets, dtype, None)
    # Padded: large logits in the padding, targets among the classes.
    for dtype in ("f32", "f64"):
        for shape in ((3, 5), (7,)):
            logits = (rng.standard_normal(shape + (VOCAB,)) * 3.0).astype(NP[dtype])
            logits[..., CLASSES:] = 40.0
            targets = rng.integers(0, CLASSES, size=shape).astype(np.int32)
            out[f"cep_{dtype}_r{len(shape) + 1}"] = (logits, targets, dtype, CLASSES)
    return out


def emb_inputs():
    """name -> (table [8, 3], ids [2, 5], grad [2, 5, 3], dtype)."""
    rng = _rng()
    out = {}
    for dtype in ("f32", "f64"):
        table = rng.standard_normal((8, 3)).astype(NP[dtype])
        ids = rng.integers(0, 8, size=(2, 5)).astype(np.int32)
        grad = rng.standard_normal((2, 5, 3)).astype(NP[dtype])
        out[f"emb_{dtype}"] = (table, ids, grad, dtype)
    return out


# ---- NumPy references (float64) --------------------------------------------


def ce_reference(logits, targets, classes=None):
    """Loss, gradient and log-sum-exp; with `classes`, over the first
    `classes` columns only, the gradient 0 in the others."""
    if classes is not None:
        loss, g, lse = ce_reference(logits[..., :classes], targets)
        grad = np.zeros(logits.shape)
        grad[..., :classes] = g
        return loss, grad, lse
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]
    picked = np.take_along_axis(x, targets[..., None].astype(np.int64), axis=-1)[..., 0]
    n = targets.size
    loss = np.mean(lse - picked)
    p = np.exp(x - lse[..., None])
    onehot = np.zeros_like(x)
    np.put_along_axis(onehot, targets[..., None].astype(np.int64), 1.0, axis=-1)
    grad = (p - onehot) * DLOSS / n
    return loss, grad, lse


def expected():
    """case name -> (dtype, expected values as float64 array)."""
    out = {}
    for name, (logits, targets, dtype, classes) in ce_inputs().items():
        loss, grad, lse = ce_reference(logits, targets, classes)
        out[f"{name}_full_loss"] = (dtype, np.array(loss))
        out[f"{name}_full_grad"] = (dtype, grad)
        for p in BLOCKS:
            out[f"{name}_p{p}_loss"] = (dtype, np.array(loss))
            out[f"{name}_p{p}_lse"] = (dtype, lse)
            out[f"{name}_p{p}_grad"] = (dtype, grad)
    for name, (table, ids, grad, dtype) in emb_inputs().items():
        t = table.astype(np.float64)
        out[f"{name}_full"] = (dtype, t[ids])
        out[f"{name}_halves"] = (dtype, t[ids])
        g = np.zeros((8, 3))
        np.add.at(g, ids, grad.astype(np.float64))
        out[f"{name}_grad_full"] = (dtype, g)
        out[f"{name}_grad_lo"] = (dtype, g[:4])
        out[f"{name}_grad_hi"] = (dtype, g[4:])
    return out


# ---- MLIR generation -------------------------------------------------------


def _ty(shape, et, dynamic=()):
    dims = ["?" if i in dynamic else str(d) for i, d in enumerate(shape)]
    return "tensor<" + "".join(d + "x" for d in dims) + et + ">"


def _dense(a):
    if a.dtype.kind == "f":
        text = np.array2string(a, separator=", ", threshold=10 ** 9,
                               floatmode="unique", max_line_width=10 ** 9)
    else:
        text = np.array2string(a, separator=", ", threshold=10 ** 9,
                               max_line_width=10 ** 9)
    return "dense<" + text.replace("\n", "") + ">"


def _const(lines, name, a, et, dynamic):
    """%name: the constant `a` cast to a type with `dynamic` dimensions."""
    static = _ty(a.shape, et)
    lines.append(f"  %{name}_c = arith.constant {_dense(a)} : {static}")
    lines.append(f"  %{name} = tensor.cast %{name}_c : {static} to "
                 f"{_ty(a.shape, et, dynamic)}")


def _print(lines, case, value, rank, et):
    """Prints "case", the sizes and the bit patterns of `value`, whose type
    is fully dynamic of `rank` (or 0-d)."""
    bits = "i32" if et == "f32" else "i64"
    p = f"{case}_pr"
    lines.append(f'  vector.print str "case {case}\\n"')
    lines.append('  vector.print str "sizes"')
    dyn = "tensor<" + "?x" * rank + et + ">"
    for d in range(rank):
        lines += [f"  %{p}_c{d} = arith.constant {d} : index",
                  f"  %{p}_d{d} = tensor.dim %{value}, %{p}_c{d} : {dyn}",
                  "  vector.print punctuation <comma>",
                  f"  vector.print %{p}_d{d} : index punctuation <no_punctuation>"]
    lines.append("  vector.print punctuation <newline>")
    if rank == 0:
        lines += [f"  %{p}_e = tensor.extract %{value}[] : tensor<{et}>",
                  f"  %{p}_b = arith.bitcast %{p}_e : {et} to {bits}",
                  f"  vector.print %{p}_b : {bits}"]
        return
    flat = f"tensor<?x{et}>"
    reassoc = "[[" + ", ".join(str(d) for d in range(rank)) + "]]"
    lines += [
        f"  %{p}_flat = tensor.collapse_shape %{value} {reassoc} : {dyn} into {flat}",
        f"  %{p}_zero = arith.constant 0 : index",
        f"  %{p}_one = arith.constant 1 : index",
        f"  %{p}_n = tensor.dim %{p}_flat, %{p}_zero : {flat}",
        f"  scf.for %{p}_i = %{p}_zero to %{p}_n step %{p}_one {{",
        f"    %{p}_e = tensor.extract %{p}_flat[%{p}_i] : {flat}",
        f"    %{p}_b = arith.bitcast %{p}_e : {et} to {bits}",
        f"    vector.print %{p}_b : {bits}",
        "  }",
    ]


def _dynamic(lines, name, value, ty, rank, et):
    """%name: `value` of type `ty` cast to a fully dynamic type."""
    lines.append(f"  %{name} = tensor.cast %{value} : {ty} to "
                 f"tensor<{'?x' * rank}{et}>")


def _gen_ce(lines, name, logits, targets, et, classes):
    rank = logits.ndim
    cl = f" classes({classes})" if classes is not None else ""
    lead = tuple(range(rank - 1))
    _const(lines, f"{name}_l", logits, et, lead)
    _const(lines, f"{name}_t", targets, "i32", lead)
    lty = _ty(logits.shape, et, lead)
    tty = _ty(targets.shape, "i32", lead)
    lines.append(f"  %{name}_g = arith.constant dense<{DLOSS}> : tensor<{et}>")
    # The unsharded ops.
    lines.append(f"  %{name}_full_loss = lmc.cross_entropy %{name}_l, %{name}_t{cl} : "
                 f"{lty}, {tty}")
    lines.append(f"  %{name}_fg = lmc.cross_entropy_grad %{name}_l, %{name}_t, %{name}_g{cl} : "
                 f"{lty}, {tty}, tensor<{et}>")
    _dynamic(lines, f"{name}_full_grad", f"{name}_fg", lty, rank, et)
    _print(lines, f"{name}_full_loss", f"{name}_full_loss", 0, et)
    _print(lines, f"{name}_full_grad", f"{name}_full_grad", rank, et)
    # Leading sizes, for the slices.
    for d in range(rank - 1):
        lines.append(f"  %{name}_i{d} = arith.constant {d} : index")
        lines.append(f"  %{name}_n{d} = tensor.dim %{name}_l, %{name}_i{d} : {lty}")
    for p in BLOCKS:
        width = VOCAB // p
        bty = _ty(logits.shape[:-1] + (width,), et, lead)
        sty = _ty(logits.shape[:-1] + (3,), et, lead)
        q = f"{name}_p{p}"
        stats, blocks, offsets = [], [], []
        for k in range(p):
            sizes = ", ".join([f"%{name}_n{d}" for d in range(rank - 1)] + [str(width)])
            starts = ", ".join(["0"] * (rank - 1) + [str(k * width)])
            ones = ", ".join(["1"] * rank)
            lines.append(f"  %{q}_b{k} = tensor.extract_slice %{name}_l[{starts}] [{sizes}] "
                         f"[{ones}] : {lty} to {bty}")
            lines.append(f"  %{q}_o{k} = arith.constant {k * width} : index")
            lines.append(f"  %{q}_s{k} = lmc.cross_entropy_stats %{q}_b{k}, %{name}_t "
                         f"offset(%{q}_o{k}){cl} : {bty}, {tty}")
            stats.append(f"%{q}_s{k}")
            blocks.append(f"%{q}_b{k}")
            offsets.append(f"%{q}_o{k}")
        cat_ty = _ty(logits.shape[:-1] + (3 * p,), et, lead)
        lines.append(f"  %{q}_cat = lmc.concat {', '.join(stats)} : "
                     f"{', '.join([sty] * p)}")
        lines.append(f"  %{q}_loss, %{q}_lse0 = lmc.cross_entropy_combine %{q}_cat : {cat_ty}")
        lse_ty = _ty(logits.shape[:-1], et, lead)
        grads = []
        for k in range(p):
            lines.append(f"  %{q}_g{k} = lmc.cross_entropy_shard_grad {blocks[k]}, %{name}_t, "
                         f"%{name}_g, %{q}_lse0 offset({offsets[k]}){cl} : {bty}, {tty}, "
                         f"tensor<{et}>, {lse_ty}")
            grads.append(f"%{q}_g{k}")
        lines.append(f"  %{q}_gcat = lmc.concat {', '.join(grads)} : {', '.join([bty] * p)}")
        _dynamic(lines, f"{q}_grad", f"{q}_gcat", lty, rank, et)
        _dynamic(lines, f"{q}_lse", f"{q}_lse0", lse_ty, rank - 1, et)
        _print(lines, f"{q}_loss", f"{q}_loss", 0, et)
        _print(lines, f"{q}_lse", f"{q}_lse", rank - 1, et)
        _print(lines, f"{q}_grad", f"{q}_grad", rank, et)


def _gen_emb(lines, name, table, ids, grad, et):
    _const(lines, f"{name}_w", table, et, ())
    _const(lines, f"{name}_ids", ids, "i32", (0, 1))
    _const(lines, f"{name}_dy", grad, et, (0, 1))
    wty, ity = _ty((8, 3), et), "tensor<?x?xi32>"
    hty = _ty((4, 3), et)
    xty = f"tensor<?x?x3x{et}>"
    lines.append(f"  %{name}_full = lmc.embedding %{name}_w[%{name}_ids] : {wty}, {ity}")
    lines.append(f"  %{name}_lo = tensor.extract_slice %{name}_w[0, 0] [4, 3] [1, 1] : {wty} to {hty}")
    lines.append(f"  %{name}_hi = tensor.extract_slice %{name}_w[4, 0] [4, 3] [1, 1] : {wty} to {hty}")
    lines.append(f"  %{name}_o0 = arith.constant 0 : index")
    lines.append(f"  %{name}_o4 = arith.constant 4 : index")
    lines.append(f"  %{name}_elo = lmc.embedding %{name}_lo[%{name}_ids] offset(%{name}_o0) : {hty}, {ity}")
    lines.append(f"  %{name}_ehi = lmc.embedding %{name}_hi[%{name}_ids] offset(%{name}_o4) : {hty}, {ity}")
    lines.append(f"  %{name}_esum = lmc.add %{name}_elo, %{name}_ehi : {xty}")
    _dynamic(lines, f"{name}_fd", f"{name}_full", xty, 3, et)
    _dynamic(lines, f"{name}_hd", f"{name}_esum", xty, 3, et)
    _print(lines, f"{name}_full", f"{name}_fd", 3, et)
    _print(lines, f"{name}_halves", f"{name}_hd", 3, et)
    lines.append(f"  %{name}_gf = lmc.embedding_grad %{name}_dy[%{name}_ids] : {xty}, {ity} -> {wty}")
    lines.append(f"  %{name}_glo = lmc.embedding_grad %{name}_dy[%{name}_ids] offset(%{name}_o0) : "
                 f"{xty}, {ity} -> {hty}")
    lines.append(f"  %{name}_ghi = lmc.embedding_grad %{name}_dy[%{name}_ids] offset(%{name}_o4) : "
                 f"{xty}, {ity} -> {hty}")
    for part, value, ty in (("grad_full", "gf", wty), ("grad_lo", "glo", hty),
                            ("grad_hi", "ghi", hty)):
        _dynamic(lines, f"{name}_{part}", f"{name}_{value}", ty, 2, et)
        _print(lines, f"{name}_{part}", f"{name}_{part}", 2, et)


def gen(path):
    lines = ["func.func @main() {"]
    for name, (logits, targets, et, classes) in ce_inputs().items():
        _gen_ce(lines, name, logits, targets, et, classes)
    for name, (table, ids, grad, et) in emb_inputs().items():
        _gen_emb(lines, name, table, ids, grad, et)
    lines += ["  return", "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---- Checking --------------------------------------------------------------


def parse(text, dtypes):
    """case name -> (sizes, values as float64)."""
    out = {}
    chunks = re.split(r"^case (\S+)$", text, flags=re.M)
    for i in range(1, len(chunks), 2):
        name, body = chunks[i], chunks[i + 1].split("\n")
        body = [line.strip() for line in body if line.strip()]
        if not body or not body[0].startswith("sizes"):
            raise SystemExit(f"FAIL: no sizes printed for case {name}")
        sizes = tuple(int(d) for d in body[0][len("sizes"):].split(",") if d.strip())
        bits = np.array([int(v) for v in body[1:]], dtype=np.int64)
        if dtypes.get(name) == "f64":
            values = bits.view(np.float64)
        else:
            values = (bits & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
        out[name] = (sizes, values.astype(np.float64))
    return out


def _close(got, want, dtype):
    rtol, atol = TOL[dtype]
    err = np.abs(got - want)
    return np.max(err / (atol + rtol * np.abs(want)), initial=0.0), np.max(err, initial=0.0)


def check(path):
    want = expected()
    with open(path) as f:
        got = parse(f.read(), {k: v[0] for k, v in want.items()})
    ok = True
    for name, (dtype, values) in want.items():
        if name not in got:
            print(f"FAIL: case {name} was not printed")
            ok = False
            continue
        sizes, printed = got[name]
        if sizes != values.shape or printed.size != values.size:
            print(f"FAIL: case {name}: sizes {sizes}, expected {values.shape}")
            ok = False
            continue
        ratio, err = _close(printed, values.ravel(), dtype)
        # The sharded results against the unsharded ops' (same precision).
        twin = None
        m = re.match(r"(cep?_\w+?)_p\d+_(loss|grad)$", name)
        if m:
            twin = f"{m.group(1)}_full_{m.group(2)}"
        elif name.endswith("_halves"):
            twin = name[: -len("_halves")] + "_full"
        if twin and twin in got:
            ratio = max(ratio, _close(printed, got[twin][1], dtype)[0])
        # A padded gradient is exactly 0 in the padding.
        if name.startswith("cep_") and name.endswith("_grad"):
            pad = printed.reshape(sizes)[..., CLASSES:]
            if np.any(pad != 0.0):
                print(f"FAIL: case {name}: {np.count_nonzero(pad)} padding "
                      "gradients are not exactly 0")
                ratio = np.inf
        status = "ok" if ratio <= 1.0 else "FAIL"
        ok &= status == "ok"
        print(f"{status}: case {name} shape {list(sizes)} max_abs_err {err:.3e}")
    # The halves of the embedding gradient stack to the whole table's.
    for name in emb_inputs():
        lo, hi, full = (got.get(f"{name}_grad_{p}") for p in ("lo", "hi", "full"))
        if lo and hi and full:
            dtype = want[f"{name}_grad_full"][0]
            ratio, err = _close(np.concatenate([lo[1], hi[1]]), full[1], dtype)
            status = "ok" if ratio <= 1.0 else "FAIL"
            ok &= status == "ok"
            print(f"{status}: {name} gradient halves stacked = whole table max_abs_err {err:.3e}")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
