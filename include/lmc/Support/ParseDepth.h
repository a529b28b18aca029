//===- ParseDepth.h - Deeply nested input without a crash -------*- C++ -*-===//
//
// MLIR's parser is recursive: every nested region, block, op, attribute or
// type takes stack frames, and about 4000 nested regions overflowed the
// 8 MiB main stack of lmc-opt and lmc compile (a segmentation fault). The
// tools therefore parse (and run) on a thread with a large stack
// (kParseStackBytes, reserved, committed only as used), and refuse input
// nested deeper than kMaxNesting brackets before parsing it, with a located
// error. At about 2.5 KiB of stack per level, kMaxNesting levels take a
// fraction of the stack; the limit is far beyond any model, and keeps the
// time bounded too (4000 nested modules took 0.8 s to parse, verify and
// print, 50000 took 6 minutes).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_SUPPORT_PARSEDEPTH_H
#define LMC_SUPPORT_PARSEDEPTH_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <optional>

namespace mlir::lmc {

/// The deepest bracket nesting ({, (, [) accepted in an input file.
constexpr unsigned kMaxNesting = 10000;
/// The stack of the thread the tools parse and compile on.
constexpr unsigned kParseStackBytes = 512u << 20;

/// The offset of the first bracket nested deeper than `limit` in MLIR text
/// `text` (brackets inside string literals and `//` comments do not count),
/// or std::nullopt.
std::optional<size_t> findTooDeepNesting(llvm::StringRef text,
                                         unsigned limit = kMaxNesting);

/// Prints `name:line:col: error: ...` to `os` and returns false when `text`
/// is nested deeper than kMaxNesting; true otherwise.
bool checkNesting(llvm::StringRef name, llvm::StringRef text,
                  llvm::raw_ostream &os);

/// Runs `fn` on a thread with a kParseStackBytes stack and waits for it.
void runWithLargeStack(llvm::function_ref<void()> fn);

} // namespace mlir::lmc

#endif // LMC_SUPPORT_PARSEDEPTH_H
