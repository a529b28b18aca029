//===- LMCTypes.td - Types of the lmc dialect --------------*- tablegen -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCTYPES_TD
#define LMC_DIALECT_LMC_IR_LMCTYPES_TD

include "lmc/Dialect/LMC/IR/LMCDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"

class LMC_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<LMC_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def LMC_PendingType : LMC_Type<"Pending", "pending"> {
  let summary = "the result of an asynchronous collective still in flight";
  let description = [{
    What an asynchronous collective (`all_reduce_start`, `all_gather_start`,
    `reduce_scatter_start`) or receive (`recv_start`) returns: a transfer that has been issued and
    whose result, a tensor of type `valueType`, becomes available when
    `lmc.wait` is applied to it. Between the two the program may compute,
    which is how communication overlaps computation.

    Example:

    ```mlir
    %p = lmc.all_reduce_start %g over ["dp"] : tensor<64x256xf32>
    // %p : !lmc.pending<tensor<64x256xf32>>
    %g2 = lmc.wait %p : !lmc.pending<tensor<64x256xf32>>
    ```

    **Constraints:**
    - `valueType` is a ranked tensor type.
  }];
  let parameters = (ins
    TypeParameter<"::mlir::RankedTensorType",
                  "the tensor type that lmc.wait yields">:$valueType);
  let assemblyFormat = "`<` $valueType `>`";
  let builders = [
    TypeBuilderWithInferredContext<(ins "::mlir::RankedTensorType":$valueType),
      [{ return $_get(valueType.getContext(), valueType); }]>
  ];
}

#endif // LMC_DIALECT_LMC_IR_LMCTYPES_TD
