"""Single-op numeric checks of the reference lowering against NumPy.

Usage: ops_numeric.py gen OUT.mlir     writes @main, which runs each op on
                                       fixed inputs and prints the result
       ops_numeric.py check RUN.txt    compares what @main printed with NumPy

Each case prints a line "case NAME", a line "sizes, D0, D1, ..." and the
result's elements as f32 bit patterns, one per line (vector.print only). Inputs are deterministic (a fixed NumPy seed) and
written into the MLIR as dense constants, cast to dynamic sizes so that the
lowering takes its dynamic-shape path.
"""

import math
import re
import sys

import numpy as np

RTOL = 1e-5
ATOL = 1e-6


def _inputs():
    rng = np.random.default_rng(1234)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    return {
        "x": f(3, 5) * 2.0,          # gelu, softmax input
        "ln_x": f(2, 3, 8) * 3.0 + 1.0,
        "ln_w": f(8),
        "ln_b": f(8),
        "a": f(6, 4),                # matmul transpose_a: a^T [4, 6] x b [6, 3]
        "b": f(6, 3),
        "s": f(2, 4, 4),             # causal mask then softmax
        "q": f(1, 5, 8),             # causal attention, 2 heads
        "k": f(1, 5, 8),
        "v": f(1, 5, 8),
        "mx": f(2, 3, 6),            # lmc.matmul_bias: [2, 3, 6] x [6, 4]
        "mw": f(6, 4),
        "mwt": f(4, 6),              # the same with transpose_b
        "mb": f(4),
        "rms_w": f(8),
        "rope_x": f(2, 5, 16),       # rope: 2 heads of 8 (or 4 heads of 4)
        # silu far into both tails, where a naive sigmoid overflows exp(-x).
        "sx": np.array([[-1000.0, -100.0, -30.0, -5.0],
                        [-1.0, -1e-3, 0.0, 1e-3],
                        [1.0, 5.0, 30.0, 1000.0]], dtype=np.float32),
    }


def _gelu_exact(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _silu(x):
    e = np.exp(-np.abs(x))
    return x * np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def _layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _rms_norm(x, w, eps=1e-5):
    return x / np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + eps) * w


def _rope(x, head_dim, theta, offset=0, inverse=False):
    """Hugging Face Llama's form: inv_freq = 1 / theta^(arange(0, D, 2) / D),
    emb = cat(freqs, freqs), x * cos + rotate_half(x) * sin with
    rotate_half(x) = cat(-x2, x1); the inverse rotates by -angle."""
    B, T, C = x.shape
    D = head_dim
    inv_freq = 1.0 / theta ** (np.arange(0, D, 2) / D)
    freqs = np.outer(np.arange(offset, offset + T), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)           # [T, D]
    cos, sin = np.cos(emb), np.sin(emb) * (-1.0 if inverse else 1.0)
    xh = x.reshape(B, T, C // D, D).transpose(0, 2, 1, 3)   # [B, H, T, D]
    rot = np.concatenate([-xh[..., D // 2:], xh[..., :D // 2]], axis=-1)
    out = xh * cos + rot * sin
    return out.transpose(0, 2, 1, 3).reshape(B, T, C)


def _causal_mask(s):
    t = s.shape[-1]
    future = np.triu(np.ones((t, t), dtype=bool), k=1)
    return np.where(future, -np.inf, s)


def _attention(q, k, v, heads):
    B, T, C = q.shape
    D = C // heads
    split = lambda z: z.reshape(B, T, heads, D).transpose(0, 2, 1, 3)
    qh, kh, vh = split(q), split(k), split(v)
    p = _softmax(_causal_mask(qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(D)))
    return (p @ vh).transpose(0, 2, 1, 3).reshape(B, T, C)


def expected():
    i = {k: v.astype(np.float64) for k, v in _inputs().items()}
    return {
        "gelu_exact": _gelu_exact(i["x"]),
        "gelu_tanh": _gelu_tanh(i["x"]),
        "silu": _silu(i["x"]),
        "silu_extremes": _silu(i["sx"]),
        "softmax": _softmax(i["x"]),
        "layer_norm": _layer_norm(i["ln_x"], i["ln_w"], i["ln_b"]),
        "rms_norm": _rms_norm(i["ln_x"], i["rms_w"]),
        "rope": _rope(i["rope_x"], 8, 10000.0),
        "rope_offset": _rope(i["rope_x"], 4, 500.0, offset=7),
        "rope_inverse": _rope(i["rope_x"], 8, 10000.0, offset=3, inverse=True),
        "matmul_transpose_a": i["a"].T @ i["b"],
        "masked_softmax": _softmax(_causal_mask(i["s"])),
        "causal_attention": _attention(i["q"], i["k"], i["v"], heads=2),
        "matmul_bias": i["mx"] @ i["mwt"].T + i["mb"],
        "matmul_bias_gelu": _gelu_tanh(i["mx"] @ i["mw"] + i["mb"]),
        "matmul_bias_pre": i["mx"] @ i["mw"] + i["mb"],
    }


def _ty(shape, dynamic=False):
    dims = ["?" if dynamic else str(d) for d in shape]
    return "tensor<" + "x".join(dims) + "xf32>"


def _dense(a):
    return "dense<" + np.array2string(
        a, separator=", ", threshold=10 ** 9, floatmode="unique",
        max_line_width=10 ** 9).replace("\n", "") + ">"


def gen(path):
    ins = _inputs()
    lines = ["func.func @main() {"]
    for name, a in ins.items():
        lines.append(f"  %{name}_c = arith.constant {_dense(a)} : {_ty(a.shape)}")
        # Activations get dynamic sizes; weights stay static.
        if name in ("ln_w", "ln_b", "rms_w", "b", "mw", "mwt", "mb"):
            lines.append(f"  %{name} = tensor.cast %{name}_c : {_ty(a.shape)} to {_ty(a.shape)}")
        elif name == "ln_x":
            lines.append(f"  %{name} = tensor.cast %{name}_c : {_ty(a.shape)} to tensor<?x?x8xf32>")
        elif name == "rope_x":
            lines.append(f"  %{name} = tensor.cast %{name}_c : {_ty(a.shape)} to tensor<?x?x16xf32>")
        elif name in ("q", "k", "v"):
            lines.append(f"  %{name} = tensor.cast %{name}_c : {_ty(a.shape)} to tensor<?x?x8xf32>")
        else:
            lines.append(f"  %{name} = tensor.cast %{name}_c : {_ty(a.shape)} to {_ty(a.shape, True)}")
    lines.append("  %off7 = arith.constant 7 : index")
    lines.append("  %off3 = arith.constant 3 : index")
    d2, d3 = "tensor<?x?xf32>", "tensor<?x?x?xf32>"
    cases = [
        ("gelu_exact", f"lmc.gelu %x exact : {d2}", d2, 2),
        ("gelu_tanh", f"lmc.gelu %x tanh : {d2}", d2, 2),
        ("silu", f"lmc.silu %x : {d2}", d2, 2),
        ("silu_extremes", f"lmc.silu %sx : {d2}", d2, 2),
        ("softmax", f"lmc.softmax %x : {d2}", d2, 2),
        ("layer_norm", "lmc.layer_norm %ln_x, %ln_w, %ln_b eps(1.000000e-05) : "
                       "tensor<?x?x8xf32>, tensor<8xf32>", "tensor<?x?x8xf32>", 3),
        ("rms_norm", "lmc.rms_norm %ln_x, %rms_w eps(1.000000e-05) : "
                     "tensor<?x?x8xf32>, tensor<8xf32>", "tensor<?x?x8xf32>", 3),
        ("rope", "lmc.rope %rope_x head_dim(8) theta(1.000000e+04) : tensor<?x?x16xf32>",
         "tensor<?x?x16xf32>", 3),
        ("rope_offset", "lmc.rope %rope_x head_dim(4) theta(5.000000e+02) offset(%off7) : "
         "tensor<?x?x16xf32>", "tensor<?x?x16xf32>", 3),
        ("rope_inverse", "lmc.rope %rope_x head_dim(8) theta(1.000000e+04) offset(%off3) "
         "inverse : tensor<?x?x16xf32>", "tensor<?x?x16xf32>", 3),
        ("matmul_transpose_a", f"lmc.matmul %a, %b transpose_a : {d2}, tensor<6x3xf32>",
         "tensor<?x3xf32>", 2),
        ("causal_attention", "lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x8xf32>",
         "tensor<?x?x8xf32>", 3),
    ]
    for name, op, ty, rank in cases:
        lines += _print_case(name, f"%{name} = {op}", name, ty, rank)
    lines += ["  %masked = lmc.causal_mask %s : " + d3]
    lines += _print_case("masked_softmax", "%masked_softmax = lmc.softmax %masked : " + d3,
                         "masked_softmax", d3, 3)
    mb3 = "tensor<?x?x4xf32>"
    lines += _print_case(
        "matmul_bias", "%matmul_bias = lmc.matmul_bias %mx, %mwt, %mb transpose_b : "
        f"{d3}, tensor<4x6xf32>, tensor<4xf32> -> {mb3}", "matmul_bias", mb3, 3)
    lines += _print_case(
        "matmul_bias_gelu", "%matmul_bias_gelu, %matmul_bias_pre = lmc.matmul_bias "
        f"%mx, %mw, %mb gelu(tanh) : {d3}, tensor<6x4xf32>, tensor<4xf32> -> {mb3}, {mb3}",
        "matmul_bias_gelu", mb3, 3)
    lines += _print_case("matmul_bias_pre", "// the pre-activation of the case above",
                         "matmul_bias_pre", mb3, 3)
    lines += ["  return", "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _print_case(name, op_line, value, ty, rank):
    """Print "case NAME", "sizes ...", then the elements in row-major order as
    f32 bit patterns (i32), one per line, so that nothing is lost to
    formatting. Only the C runner utilities (vector.print) are needed."""
    flat = "tensor<?xf32>"
    reassoc = "[[" + ", ".join(str(d) for d in range(rank)) + "]]"
    lines = [
        f'  vector.print str "case {name}\\n"',
        f"  {op_line}",
        f'  vector.print str "sizes"',
    ]
    for d in range(rank):
        lines += [f"  %{value}_c{d} = arith.constant {d} : index",
                  f"  %{value}_d{d} = tensor.dim %{value}, %{value}_c{d} : {ty}",
                  f"  vector.print punctuation <comma>",
                  f"  vector.print %{value}_d{d} : index punctuation <no_punctuation>"]
    lines += [
        "  vector.print punctuation <newline>",
        f"  %{value}_dyn = tensor.cast %{value} : {ty} to tensor<{'?x' * rank}f32>",
        f"  %{value}_flat = tensor.collapse_shape %{value}_dyn {reassoc} : tensor<{'?x' * rank}f32> into {flat}",
        f"  %{value}_zero = arith.constant 0 : index",
        f"  %{value}_one = arith.constant 1 : index",
        f"  %{value}_n = tensor.dim %{value}_flat, %{value}_zero : {flat}",
        f"  scf.for %{value}_i = %{value}_zero to %{value}_n step %{value}_one {{",
        f"    %{value}_e = tensor.extract %{value}_flat[%{value}_i] : {flat}",
        f"    %{value}_bits = arith.bitcast %{value}_e : f32 to i32",
        f"    vector.print %{value}_bits : i32",
        "  }",
    ]
    return lines


def parse(text):
    """case name -> (sizes, values) from the runner's output."""
    out = {}
    chunks = re.split(r"^case (\S+)$", text, flags=re.M)
    for i in range(1, len(chunks), 2):
        name, body = chunks[i], chunks[i + 1].split("\n")
        body = [line.strip() for line in body if line.strip()]
        if not body or not body[0].startswith("sizes"):
            raise SystemExit(f"FAIL: no sizes printed for case {name}")
        sizes = tuple(int(d) for d in body[0][len("sizes"):].split(",") if d.strip())
        bits = np.array([int(v) for v in body[1:]], dtype=np.int64)
        values = (bits & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64)
        out[name] = (sizes, values)
    return out


def check(path):
    with open(path) as f:
        got = parse(f.read())
    ok = True
    for name, want in expected().items():
        if name not in got:
            print(f"FAIL: case {name} was not printed")
            ok = False
            continue
        sizes, values = got[name]
        if sizes != want.shape or values.size != want.size:
            print(f"FAIL: case {name}: sizes {sizes}, expected {want.shape}")
            ok = False
            continue
        err = np.max(np.abs(values - want.ravel()) / (ATOL + RTOL * np.abs(want.ravel())))
        status = "ok" if err <= 1.0 else "FAIL"
        ok &= status == "ok"
        print(f"{status}: case {name} shape {list(sizes)} "
              f"max_abs_err {np.max(np.abs(values - want.ravel())):.3e}")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
