//===- ParseDepth.cpp - Deeply nested input without a crash ---------------===//
//
// See ParseDepth.h.
//
//===----------------------------------------------------------------------===//

#include "lmc/Support/ParseDepth.h"

#include "llvm/Support/thread.h"

using namespace mlir::lmc;

std::optional<size_t> mlir::lmc::findTooDeepNesting(llvm::StringRef text,
                                                    unsigned limit) {
  size_t depth = 0;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (c == '"') {
      // A string literal: up to the closing quote, skipping escapes.
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
    } else if (c == '/' && i + 1 < e && text[i + 1] == '/') {
      while (i < e && text[i] != '\n')
        ++i;
    } else if (c == '{' || c == '(' || c == '[') {
      if (++depth > limit)
        return i;
    } else if ((c == '}' || c == ')' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

bool mlir::lmc::checkNesting(llvm::StringRef name, llvm::StringRef text,
                             llvm::raw_ostream &os) {
  std::optional<size_t> at = findTooDeepNesting(text);
  if (!at)
    return true;
  llvm::StringRef before = text.take_front(*at);
  size_t line = before.count('\n') + 1;
  size_t lineStart = before.rfind('\n');
  size_t column = *at - (lineStart == llvm::StringRef::npos ? 0 : lineStart + 1) + 1;
  os << name << ":" << line << ":" << column
     << ": error: nesting deeper than " << kMaxNesting
     << " levels of brackets ({, ( or [): the input is refused rather than "
        "parsed\n";
  return false;
}

void mlir::lmc::runWithLargeStack(llvm::function_ref<void()> fn) {
  llvm::thread worker(std::optional<unsigned>(kParseStackBytes),
                      [fn] { fn(); });
  worker.join();
}
