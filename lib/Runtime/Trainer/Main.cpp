//===- Main.cpp - main of the trainer executable --------------------------===//
//
// In its own object so that linking a compiled model with liblmcrt.a gives an
// executable, while programs with their own main (the unit tests) do not
// pull it in.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

int main(int argc, char **argv) { return lmcrt_main(argc, argv); }
