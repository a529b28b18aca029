//===- CudaMain.cpp - main of a --target cuda trainer ---------------------===//
//
// In liblmcrt_cuda.a, which a cuda trainer links before liblmcrt.a: the
// linker takes `main` from here and never pulls liblmcrt.a's Main.o (whose
// only symbol is `main`). It registers the CUDA device, which the trainer
// initialises once the flags, the model description and MPI are set up.
//
//===----------------------------------------------------------------------===//

#include "Cuda/CudaDevice.h"

#include "lmc/Runtime/lmcrt.h"

int main(int argc, char **argv) {
  lmcrt::cuda::registerCudaDevice();
  return lmcrt_main(argc, argv);
}
