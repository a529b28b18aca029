"""Write a small GPT-style model with grouped-query attention, for tests.

Usage: gqa_model.py --kv-heads 2,1 [--heads 4] [--d-model 64] -o F.mlir

One block per entry of --kv-heads (its key/value head count): pre-LayerNorm,
separate q, k and v projections without bias (k and v of kv_heads * D
columns, D = d_model / heads), lmc.causal_attention with heads and kv_heads,
an output projection, and a GELU MLP; learned positions (context 64),
vocabulary 256 (the byte tokenizer's), the LM head tied to the embedding.
Not the stock builder's output: the GPT-2 builder has no key/value heads.
"""

import argparse

VOCAB, CTX = 256, 64


def t(*shape):
    return "tensor<" + "".join(f"{d}x" for d in shape) + "f32>"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kv-heads", required=True)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("-o", required=True)
    args = ap.parse_args()
    kvs = [int(x) for x in args.kv_heads.split(",")]
    H, C = args.heads, args.d_model
    D, F = C // H, 4 * C
    dyn = lambda c: f"tensor<?x?x{c}xf32>"
    params = [("wte.weight", (VOCAB, C), "normal, std = 2.000000e-02"),
              ("wpe.weight", (CTX, C), "normal, std = 2.000000e-02")]
    body = [
        f'%wte = lmc.param_ref @"wte.weight" : {t(VOCAB, C)}',
        f'%wpe = lmc.param_ref @"wpe.weight" : {t(CTX, C)}',
        f"%tok = lmc.embedding %wte[%tokens] : {t(VOCAB, C)}, tensor<?x?xi32>",
        f"%pos = lmc.position_embedding %wpe like %tokens : {t(CTX, C)}, "
        "tensor<?x?xi32>",
        f"%x0 = lmc.add %tok, %pos : {dyn(C)}",
    ]

    def ref(name, shape):
        return f'lmc.param_ref @"{name}" : {t(*shape)}'

    for i, kv in enumerate(kvs):
        ckv = kv * D
        p = f"h.{i}."
        x, n = f"%x{2 * i}", f"%b{i}_"
        layer = [
            (p + "ln_1.weight", (C,), "ones"), (p + "ln_1.bias", (C,), "zeros"),
            (p + "attn.q_proj.weight", (C, C), "normal, std = 2.000000e-02"),
            (p + "attn.k_proj.weight", (C, ckv), "normal, std = 2.000000e-02"),
            (p + "attn.v_proj.weight", (C, ckv), "normal, std = 2.000000e-02"),
            (p + "attn.o_proj.weight", (C, C), "normal, std = 1.000000e-02"),
            (p + "ln_2.weight", (C,), "ones"), (p + "ln_2.bias", (C,), "zeros"),
            (p + "mlp.c_fc.weight", (C, F), "normal, std = 2.000000e-02"),
            (p + "mlp.c_proj.weight", (F, C), "normal, std = 1.000000e-02"),
        ]
        params += layer
        w = {name[len(p):]: f"{n}{j}" for j, (name, _, _) in enumerate(layer)}
        body += [f"{w[name[len(p):]]} = {ref(name, shape)}"
                 for name, shape, _ in layer]
        body += [
            f"{n}ln1 = lmc.layer_norm {x}, {w['ln_1.weight']}, {w['ln_1.bias']} "
            f"eps(1.000000e-05) : {dyn(C)}, {t(C)}",
            f"{n}q = lmc.matmul {n}ln1, {w['attn.q_proj.weight']} : {dyn(C)}, {t(C, C)}",
            f"{n}k = lmc.matmul {n}ln1, {w['attn.k_proj.weight']} : {dyn(C)}, {t(C, ckv)}",
            f"{n}v = lmc.matmul {n}ln1, {w['attn.v_proj.weight']} : {dyn(C)}, {t(C, ckv)}",
            f"{n}att = lmc.causal_attention {n}q, {n}k, {n}v heads({H}) "
            f"kv_heads({kv}) : {dyn(C)}, {dyn(ckv)}",
            f"{n}o = lmc.matmul {n}att, {w['attn.o_proj.weight']} : {dyn(C)}, {t(C, C)}",
            f"%x{2 * i + 1} = lmc.add {x}, {n}o : {dyn(C)}",
            f"{n}ln2 = lmc.layer_norm %x{2 * i + 1}, {w['ln_2.weight']}, "
            f"{w['ln_2.bias']} eps(1.000000e-05) : {dyn(C)}, {t(C)}",
            f"{n}fc = lmc.matmul {n}ln2, {w['mlp.c_fc.weight']} : {dyn(C)}, {t(C, F)}",
            f"{n}gelu = lmc.gelu {n}fc tanh : {dyn(F)}",
            f"{n}mp = lmc.matmul {n}gelu, {w['mlp.c_proj.weight']} : {dyn(F)}, {t(F, C)}",
            f"%x{2 * i + 2} = lmc.add %x{2 * i + 1}, {n}mp : {dyn(C)}",
        ]
    params += [("ln_f.weight", (C,), "ones"), ("ln_f.bias", (C,), "zeros")]
    last = f"%x{2 * len(kvs)}"
    body += [
        f'%lnf_w = {ref("ln_f.weight", (C,))}',
        f'%lnf_b = {ref("ln_f.bias", (C,))}',
        f"%lnf = lmc.layer_norm {last}, %lnf_w, %lnf_b eps(1.000000e-05) : "
        f"{dyn(C)}, {t(C)}",
        f"%logits = lmc.matmul %lnf, %wte transpose_b : {dyn(C)}, {t(VOCAB, C)}",
        f"%loss = lmc.cross_entropy %logits, %targets : {dyn(VOCAB)}, "
        "tensor<?x?xi32>",
        "return %loss : tensor<f32>",
    ]
    lines = ["lmc.model @gqa {"]
    lines += [f'  lmc.param @"{name}" : {t(*shape)} init({init})'
              for name, shape, init in params]
    lines.append("  func.func @forward(%tokens: tensor<?x?xi32>, "
                 "%targets: tensor<?x?xi32>) -> tensor<f32> {")
    lines += ["    " + line for line in body]
    lines += ["  }", "}"]
    with open(args.o, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
