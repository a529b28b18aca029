//===- Error.cpp - Small helpers shared by the runtime --------------------===//

#include "Core/Error.h"

#include <cstdio>
#include <cstdlib>

namespace lmcrt {

std::string toHex(unsigned long long value) {
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", value);
  return buffer;
}

bool parseHex(const std::string &text, unsigned long long &value) {
  if (text.empty() || text.size() > 16)
    return false;
  value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return false;
    value = value << 4 | static_cast<unsigned>(digit);
  }
  return true;
}

std::string formatFloat(float value) {
  // The shortest %g text that reads back as the same float.
  char buffer[64];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision,
                  static_cast<double>(value));
    if (std::strtof(buffer, nullptr) == value)
      break;
  }
  return buffer;
}

} // namespace lmcrt
