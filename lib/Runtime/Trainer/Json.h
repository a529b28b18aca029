//===- Json.h - A minimal, strict JSON reader -------------------*- C++ -*-===//
//
// Enough JSON for safetensors headers: objects, arrays, strings, integers,
// true/false/null. Fractions and exponents are rejected, as are duplicate
// object keys, nesting deeper than 64, control characters in strings, bad
// escapes and anything after the top-level value but whitespace.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_JSON_H
#define LMC_LIB_RUNTIME_JSON_H

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {
namespace json {

struct Value {
  enum class Kind { Null, Bool, Int, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Value> items;      // Array elements or Object values
  std::vector<std::string> keys; // Object keys, in order (parallel to items)

  /// The member `key` of an Object, or null.
  const Value *find(const std::string &key) const;
};

/// Parses `text`. On error returns false and sets `error` to a message with
/// the byte offset of the problem.
bool parse(const std::string &text, Value &result, std::string &error);

/// A JSON string literal of `text` (quotes included).
std::string quote(const std::string &text);

} // namespace json
} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_JSON_H
