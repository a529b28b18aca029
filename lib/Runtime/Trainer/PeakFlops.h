//===- PeakFlops.h - Dense bf16 peak of GPUs, for MFU -----------*- C++ -*-===//
//
// Model FLOPs utilisation (MFU) is the model's FLOPs per second (the
// trainer's FLOPs/step over the step time) over the peak of the hardware.
// The peak is the dense (not 2:4 sparse) bf16 tensor-core throughput of the
// GPU from NVIDIA's data sheets, looked up by the device name the CUDA
// driver reports (cuDeviceGetName: "NVIDIA H100 80GB HBM3",
// "NVIDIA A100-SXM4-80GB", ...). A card not in the table has no peak: its MFU
// is printed as n/a.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_PEAKFLOPS_H
#define LMC_LIB_RUNTIME_PEAKFLOPS_H

#include <string>

namespace lmcrt {

/// The dense bf16 peak in TFLOP/s of the GPU named `deviceName`, or 0 for
/// a card not in the table.
double peakBf16Tflops(const std::string &deviceName);

/// "12.3%" for `flopsPerSecond` achieved on `gpus` GPUs of `peakTflops`
/// each; "n/a" when the peak is unknown (0).
std::string mfuText(double flopsPerSecond, double peakTflops, int gpus);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_PEAKFLOPS_H
