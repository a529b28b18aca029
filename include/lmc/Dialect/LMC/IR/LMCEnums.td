//===- LMCEnums.td - Enumerations of the lmc dialect -------*- tablegen -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCENUMS_TD
#define LMC_DIALECT_LMC_IR_LMCENUMS_TD

include "mlir/IR/EnumAttr.td"

def LMC_InitZeros : I32EnumAttrCase<"zeros", 0>;
def LMC_InitOnes : I32EnumAttrCase<"ones", 1>;
def LMC_InitNormal : I32EnumAttrCase<"normal", 2>;
def LMC_InitKindAttr : I32EnumAttr<"InitKind",
    "initialiser of a parameter",
    [LMC_InitZeros, LMC_InitOnes, LMC_InitNormal]> {
  let cppNamespace = "::mlir::lmc";
}

def LMC_GeluTanh : I32EnumAttrCase<"tanh", 0>;
def LMC_GeluExact : I32EnumAttrCase<"exact", 1>;
def LMC_GeluApproximationAttr : I32EnumAttr<"GeluApproximation",
    "how GELU is computed: tanh approximation or exact (erf)",
    [LMC_GeluTanh, LMC_GeluExact]> {
  let cppNamespace = "::mlir::lmc";
}

#endif // LMC_DIALECT_LMC_IR_LMCENUMS_TD
