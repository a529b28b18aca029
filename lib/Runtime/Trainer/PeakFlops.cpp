//===- PeakFlops.cpp - Dense bf16 peak of GPUs, for MFU -------------------===//

#include "Trainer/PeakFlops.h"

#include <cctype>
#include <cstdio>
#include <vector>

namespace lmcrt {

namespace {

struct Card {
  const char *model;     // a word of the name ("H100")
  const char *qualifier; // another word that must be there too, or null
  double tflops;         // dense bf16, TFLOP/s
};

// Most specific first: a name matches the first entry whose words it has.
// Words are compared whole and without case, so that "L4" does not match
// "L40S" nor "A10" "A100".
const Card kCards[] = {
    {"H100", "PCIe", 756},   {"H100", "NVL", 835},   {"H100", nullptr, 989},
    {"GH200", nullptr, 989}, {"H200", "NVL", 835},   {"H200", nullptr, 989},
    {"H800", "PCIe", 756},   {"H800", nullptr, 989}, {"B200", nullptr, 2250},
    {"A100", nullptr, 312},  {"A800", nullptr, 312}, {"A30", nullptr, 165},
    {"A10", nullptr, 125},   {"L40S", nullptr, 362}, {"L40", nullptr, 181},
    {"L4", nullptr, 121},
};

/// The words of a device name: split at spaces, '-' and '_', upper case.
std::vector<std::string> words(const std::string &name) {
  std::vector<std::string> result;
  std::string word;
  for (char c : name + " ") {
    if (c == ' ' || c == '-' || c == '_') {
      if (!word.empty())
        result.push_back(word);
      word.clear();
    } else {
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return result;
}

bool has(const std::vector<std::string> &list, const char *word) {
  std::string upper;
  for (const char *c = word; *c; ++c)
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(*c)));
  for (const std::string &w : list)
    if (w == upper)
      return true;
  return false;
}

} // namespace

double peakBf16Tflops(const std::string &deviceName) {
  std::vector<std::string> list = words(deviceName);
  for (const Card &card : kCards)
    if (has(list, card.model) && (!card.qualifier || has(list, card.qualifier)))
      return card.tflops;
  return 0;
}

std::string mfuText(double flopsPerSecond, double peakTflops, int gpus) {
  if (peakTflops <= 0 || gpus <= 0)
    return "n/a";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%",
                100.0 * flopsPerSecond / (peakTflops * 1e12 * gpus));
  return text;
}

} // namespace lmcrt
