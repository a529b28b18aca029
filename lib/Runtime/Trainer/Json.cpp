//===- Json.cpp - A minimal, strict JSON reader ---------------------------===//

#include "Trainer/Json.h"

#include <cstdio>

namespace lmcrt {
namespace json {

namespace {

constexpr int kMaxDepth = 64;

struct ParseError {
  size_t offset;
  std::string message;
};

class Parser {
public:
  explicit Parser(const std::string &text) : text(text) {}

  void parseDocument(Value &result) {
    skipSpace();
    parseValue(result, 0);
    skipSpace();
    if (pos != text.size())
      error("unexpected text after the JSON value");
  }

private:
  [[noreturn]] void error(const std::string &message) {
    throw ParseError{pos, message};
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool consume(const char *word) {
    size_t n = 0;
    while (word[n])
      ++n;
    if (text.compare(pos, n, word) != 0)
      return false;
    pos += n;
    return true;
  }

  void parseValue(Value &v, int depth) {
    if (depth > kMaxDepth)
      error("nesting deeper than 64");
    if (pos >= text.size())
      error("unexpected end of input");
    char c = text[pos];
    if (c == '{') {
      v.kind = Value::Kind::Object;
      ++pos;
      skipSpace();
      if (pos < text.size() && text[pos] == '}') {
        ++pos;
        return;
      }
      while (true) {
        skipSpace();
        if (pos >= text.size() || text[pos] != '"')
          error("expected a string key");
        std::string key;
        parseString(key);
        for (const std::string &k : v.keys)
          if (k == key)
            error("duplicate key " + quote(key));
        skipSpace();
        if (pos >= text.size() || text[pos] != ':')
          error("expected ':'");
        ++pos;
        skipSpace();
        v.keys.push_back(key);
        v.items.emplace_back();
        parseValue(v.items.back(), depth + 1);
        skipSpace();
        if (pos < text.size() && text[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < text.size() && text[pos] == '}') {
          ++pos;
          return;
        }
        error("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::Array;
      ++pos;
      skipSpace();
      if (pos < text.size() && text[pos] == ']') {
        ++pos;
        return;
      }
      while (true) {
        skipSpace();
        v.items.emplace_back();
        parseValue(v.items.back(), depth + 1);
        skipSpace();
        if (pos < text.size() && text[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < text.size() && text[pos] == ']') {
          ++pos;
          return;
        }
        error("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::String;
      parseString(v.string);
      return;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      parseInteger(v);
      return;
    }
    if (consume("true")) {
      v.kind = Value::Kind::Bool;
      v.boolean = true;
      return;
    }
    if (consume("false")) {
      v.kind = Value::Kind::Bool;
      return;
    }
    if (consume("null"))
      return;
    error("unexpected character");
  }

  void parseInteger(Value &v) {
    bool negative = text[pos] == '-';
    if (negative)
      ++pos;
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9')
      error("expected a digit");
    if (text[pos] == '0' && pos + 1 < text.size() && text[pos + 1] >= '0' &&
        text[pos + 1] <= '9')
      error("leading zero in a number");
    uint64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
      if (value > (static_cast<uint64_t>(INT64_MAX) - digit) / 10)
        error("integer out of range");
      value = value * 10 + digit;
      ++pos;
    }
    if (pos < text.size() &&
        (text[pos] == '.' || text[pos] == 'e' || text[pos] == 'E'))
      error("only integers are supported");
    v.kind = Value::Kind::Int;
    v.integer =
        negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  }

  unsigned hex4() {
    if (pos + 4 > text.size())
      error("truncated \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        error("bad \\u escape");
    }
    return value;
  }

  void parseString(std::string &out) {
    ++pos; // opening quote
    while (true) {
      if (pos >= text.size())
        error("unterminated string");
      unsigned char c = text[pos];
      if (c == '"') {
        ++pos;
        return;
      }
      if (c < 0x20)
        error("control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos;
        continue;
      }
      ++pos;
      if (pos >= text.size())
        error("unterminated string");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        unsigned cp = hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (!consume("\\u"))
            error("unpaired surrogate");
          unsigned low = hex4();
          if (low < 0xDC00 || low > 0xDFFF)
            error("unpaired surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          error("unpaired surrogate");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        --pos;
        error("bad escape");
      }
    }
  }

  static void appendUtf8(std::string &out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  const std::string &text;
  size_t pos = 0;
};

} // namespace

const Value *Value::find(const std::string &key) const {
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key)
      return &items[i];
  return nullptr;
}

bool parse(const std::string &text, Value &result, std::string &error) {
  try {
    result = Value();
    Parser(text).parseDocument(result);
    return true;
  } catch (const ParseError &e) {
    error = "JSON error at header byte " + std::to_string(e.offset) + ": " +
            e.message;
    return false;
  }
}

std::string quote(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

} // namespace json
} // namespace lmcrt
