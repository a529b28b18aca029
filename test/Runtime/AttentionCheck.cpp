//===- AttentionCheck.cpp - Runs the runtime's attention kernels on files -===//
//
// lmcrt-attention-check B T HEADS D IN OUT [KV_HEADS]: reads q, k, v and
// dout (q and dout [B, T, HEADS * D], k and v [B, T, KV_HEADS * D], float32,
// in that order; KV_HEADS defaults to HEADS) from IN, runs
// lmcrt_attention_fwd_f32 and lmcrt_attention_bwd_f32, and writes out, lse
// ([B, HEADS, T]), dq, dk and dv to OUT, for test/Runtime/Inputs/
// attention_numpy.py to compare with NumPy.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

struct Desc3 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
};

struct Packed3 {
  Desc3 desc;
  lmcrt_unranked_memref memref;
  Packed3(float *data, int64_t d0, int64_t d1, int64_t d2)
      : desc{data, data, 0, {d0, d1, d2}, {d1 * d2, d2, 1}}, memref{3, &desc} {}
};

} // namespace

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: %s B T HEADS D IN OUT [KV_HEADS]\n", argv[0]);
    return 2;
  }
  int64_t B = std::atoll(argv[1]), T = std::atoll(argv[2]),
          H = std::atoll(argv[3]), D = std::atoll(argv[4]);
  int64_t Hkv = argc == 8 ? std::atoll(argv[7]) : H;
  int64_t n = B * T * H * D, nkv = B * T * Hkv * D, nl = B * H * T;
  std::vector<float> in(2 * n + 2 * nkv), out(2 * n + 2 * nkv + nl);
  FILE *f = std::fopen(argv[5], "rb");
  if (!f || std::fread(in.data(), sizeof(float), in.size(), f) != in.size()) {
    std::fprintf(stderr, "cannot read %s\n", argv[5]);
    return 1;
  }
  std::fclose(f);
  Packed3 q(in.data(), B, T, H * D), k(in.data() + n, B, T, Hkv * D),
      v(in.data() + n + nkv, B, T, Hkv * D),
      dout(in.data() + n + 2 * nkv, B, T, H * D);
  Packed3 y(out.data(), B, T, H * D), lse(out.data() + n, B, H, T),
      dq(out.data() + n + nl, B, T, H * D),
      dk(out.data() + 2 * n + nl, B, T, Hkv * D),
      dv(out.data() + 2 * n + nkv + nl, B, T, Hkv * D);
  _mlir_ciface_lmcrt_attention_fwd_f32(&q.memref, &k.memref, &v.memref,
                                       &y.memref, &lse.memref, H, Hkv);
  _mlir_ciface_lmcrt_attention_bwd_f32(
      &q.memref, &k.memref, &v.memref, &y.memref, &lse.memref, &dout.memref,
      &dq.memref, &dk.memref, &dv.memref, H, Hkv);
  f = std::fopen(argv[6], "wb");
  if (!f || std::fwrite(out.data(), sizeof(float), out.size(), f) != out.size())
    return 1;
  std::fclose(f);
  return 0;
}
