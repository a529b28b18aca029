//===- FakeCudaTrainer.cpp - A trainer linked like a cuda program ---------===//
//
// Stands in for the object of `lmc compile --target cuda`: it defines the
// compiled model's entry points (a fake one-parameter model whose
// description says `target cuda`) and, like the object's global constructor
// and destructor, records a module image with mgpuModuleLoad before `main`
// and unloads it at exit. It has no `main`: linked with liblmcrt_cuda.a
// before liblmcrt.a, the CUDA runtime's `main` runs the trainer
// (test/Runtime/cuda-no-gpu.test). On a machine without a GPU the trainer
// must say so in one line and exit with status 2.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>

extern "C" void *mgpuModuleLoad(void *data, size_t size);
extern "C" void mgpuModuleUnload(void *module);
extern "C" void *_mlir_memref_to_llvm_alloc(uint64_t size);

namespace {

const char kDescription[] = "lmc-model 2\n"
                            "name fake-cuda\n"
                            "dtype f32\n"
                            "target cuda\n"
                            "vocab 16\n"
                            "context 8\n"
                            "params 1 16\n"
                            "param w 0 1 16 normal 0.02 1\n"
                            "end\n";

// Not a real image: the runtime only records it until a kernel is needed.
char fakeImage[] = "not a cubin";
void *module = nullptr;

__attribute__((constructor)) void loadKernels() {
  module = mgpuModuleLoad(fakeImage, sizeof(fakeImage));
}
__attribute__((destructor)) void unloadKernels() { mgpuModuleUnload(module); }

} // namespace

extern "C" void _mlir_ciface_lmc_train_step(
    lmcrt_train_step_result *result, lmcrt_memref_f32_1d *, lmcrt_memref_f32_1d *,
    lmcrt_memref_f32_1d *, int64_t, float lr, float, int64_t, int64_t, float,
    float, float, float, float, lmcrt_memref_i32_2d *, lmcrt_memref_i32_2d *,
    float) {
  *result = {1.0f, 0.0f, lr, 0.0f};
}

extern "C" float _mlir_ciface_lmc_eval_step(lmcrt_memref_f32_1d *,
                                            lmcrt_memref_i32_2d *,
                                            lmcrt_memref_i32_2d *) {
  return 1.0f;
}

extern "C" void _mlir_ciface_lmc_logits(lmcrt_memref_f32_2d *result,
                                        lmcrt_memref_f32_1d *,
                                        lmcrt_memref_i32_2d *tokens) {
  int64_t b = tokens->sizes[0];
  auto *l = static_cast<float *>(_mlir_memref_to_llvm_alloc(b * 16 * 4));
  std::memset(l, 0, b * 16 * 4);
  *result = {l, l, 0, {b, 16}, {16, 1}};
}

extern "C" void _mlir_ciface_lmc_model_info(lmcrt_memref_i8_1d *result) {
  size_t n = sizeof(kDescription) - 1;
  auto *text = static_cast<int8_t *>(_mlir_memref_to_llvm_alloc(n));
  std::memcpy(text, kDescription, n);
  *result = {text, text, 0, {static_cast<int64_t>(n)}, {1}};
}
