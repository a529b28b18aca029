// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule and constraint of the ops of
// LMCCollectiveOps.td, in the order of that file. Rules checked by result
// type inference report while parsing the custom form; rules the custom form
// cannot express use the generic form.

//===----------------------------------------------------------------------===//
// lmc.all_reduce (and the axis rules shared by every collective)
//===----------------------------------------------------------------------===//

// Tests that an all_reduce has at least one operand (generic form).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.all_reduce' op expects at least one operand}}
    "lmc.all_reduce"() <{axes = ["dp"]}> : () -> ()
    return
  }
}

// -----

// Tests that all_reduce operands are float tensors.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xi32>) {
    // expected-error @+1 {{'lmc.all_reduce' op operand #0 must be variadic of ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xi32>'}}
    %0 = lmc.all_reduce %x over ["dp"] : tensor<4xi32>
    return
  }
}

// -----

// Tests that each result has the type of its operand (generic form).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+2 {{'lmc.all_reduce' op inferred type(s) 'tensor<4xf32>' are incompatible with return type(s) of operation 'tensor<2xf32>'}}
    // expected-error @+1 {{'lmc.all_reduce' op failed to infer returned types}}
    %0 = "lmc.all_reduce"(%x) <{axes = ["dp"]}> : (tensor<4xf32>) -> tensor<2xf32>
    return
  }
}

// -----

// Tests that a collective names at least one mesh axis.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce' op must name at least one mesh axis}}
    %0 = lmc.all_reduce %x over [] : tensor<4xf32>
    return
  }
}

// -----

// Tests that a collective needs a mesh in scope.

lmc.model @m {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce' op has no mesh in scope: an enclosing lmc.model or module needs an 'lmc.mesh' attribute}}
    %0 = lmc.all_reduce %x over ["dp"] : tensor<4xf32>
    return
  }
}

// -----

// Tests that the axes are axes of the mesh in scope.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce' op mesh axis 'pp' is not in the mesh #lmc.mesh<dp = 2, tp = 2>}}
    %0 = lmc.all_reduce %x over ["dp", "pp"] : tensor<4xf32>
    return
  }
}

// -----

// Tests that the axes resolve against the nearest mesh: the model's mesh
// hides the module's.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
    func.func @f(%x: tensor<4xf32>) {
      // expected-error @+1 {{'lmc.all_reduce' op mesh axis 'dp' is not in the mesh #lmc.mesh<tp = 2>}}
      %0 = lmc.all_reduce %x over ["dp"] : tensor<4xf32>
      return
    }
  }
}

// -----

// Tests that an axis is not repeated.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce' op mesh axis 'dp' is listed twice}}
    %0 = lmc.all_reduce %x over ["dp", "tp", "dp"] : tensor<4xf32>
    return
  }
}

// -----

// Tests that the axes are strings.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce' op attribute 'axes' failed to satisfy constraint: string array attribute}}
    %0 = "lmc.all_reduce"(%x) <{axes = [0]}> : (tensor<4xf32>) -> tensor<4xf32>
    return
  }
}

// -----

//===----------------------------------------------------------------------===//
// lmc.all_gather
//===----------------------------------------------------------------------===//

// Tests that dim is within the rank of the input.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op dim 2 is out of range for rank 2}}
    %0 = lmc.all_gather %x over ["tp"] dim 2 : tensor<4x32xf32> -> tensor<4x32xf32>
    return
  }
}

// -----

// Tests that a negative dim is out of range too.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op dim -1 is out of range for rank 2}}
    %0 = lmc.all_gather %x over ["tp"] dim -1 : tensor<4x32xf32> -> tensor<4x32xf32>
    return
  }
}

// -----

// Tests that the gathered dimension is multiplied by the group size.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f(%x: tensor<4x?x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op result must be 'tensor<4x?x128xf32>' (dimension 2 multiplied by 4, the number of ranks in a group), got 'tensor<4x?x64xf32>'}}
    %0 = lmc.all_gather %x over ["dp", "tp"] dim 2 : tensor<4x?x32xf32> -> tensor<4x?x64xf32>
    return
  }
}

// -----

// Tests that a dynamic gathered dimension stays dynamic.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<?x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op result must be 'tensor<?x32xf32>' (dimension 0 multiplied by 2, the number of ranks in a group), got 'tensor<8x32xf32>'}}
    %0 = lmc.all_gather %x over ["tp"] dim 0 : tensor<?x32xf32> -> tensor<8x32xf32>
    return
  }
}

// -----

// Tests that the other dimensions are unchanged.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x?x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op result must be 'tensor<4x?x64xf32>' (dimension 2 multiplied by 2, the number of ranks in a group), got 'tensor<4x8x64xf32>'}}
    %0 = lmc.all_gather %x over ["tp"] dim 2 : tensor<4x?x32xf32> -> tensor<4x8x64xf32>
    return
  }
}

// -----

// Tests that the result has the rank of the input.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op result must be 'tensor<4x64xf32>' (dimension 1 multiplied by 2, the number of ranks in a group), got 'tensor<256xf32>'}}
    %0 = lmc.all_gather %x over ["tp"] dim 1 : tensor<4x32xf32> -> tensor<256xf32>
    return
  }
}

// -----

// Tests that the result has the element type of the input.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather' op result must be 'tensor<4x64xf32>' (dimension 1 multiplied by 2, the number of ranks in a group), got 'tensor<4x64xf64>'}}
    %0 = lmc.all_gather %x over ["tp"] dim 1 : tensor<4x32xf32> -> tensor<4x64xf64>
    return
  }
}

// -----

// Tests that all_gather takes float or signless integer tensors.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4xf16>) {
    // expected-error @+1 {{'lmc.all_gather' op operand #0 must be ranked tensor of 32-bit float or 64-bit float or 8-bit signless integer or 16-bit signless integer or 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xf16>'}}
    %0 = lmc.all_gather %x over ["tp"] dim 0 : tensor<4xf16> -> tensor<8xf16>
    return
  }
}

// -----

// Tests that all_gather checks its axes (here: no mesh in scope).

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.all_gather' op has no mesh in scope}}
  %0 = lmc.all_gather %x over ["tp"] dim 0 : tensor<4xf32> -> tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.reduce_scatter
//===----------------------------------------------------------------------===//

// Tests that dim is within the rank of the input.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<8x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op dim 2 is out of range for rank 2}}
    %0 = lmc.reduce_scatter %x over ["dp"] dim 2 : tensor<8x64xf32> -> tensor<4x64xf32>
    return
  }
}

// -----

// Tests that a static scattered dimension is divisible by the group size.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f(%x: tensor<6x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op dimension 0 (size 6) is not divisible by 4, the number of ranks along mesh axes dp, tp}}
    %0 = lmc.reduce_scatter %x over ["dp", "tp"] dim 0 : tensor<6x64xf32> -> tensor<1x64xf32>
    return
  }
}

// -----

// Tests that the scattered dimension is divided by the group size.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<8x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op result must be 'tensor<4x64xf32>' (dimension 0 divided by 2, the number of ranks in a group), got 'tensor<8x64xf32>'}}
    %0 = lmc.reduce_scatter %x over ["dp"] dim 0 : tensor<8x64xf32> -> tensor<8x64xf32>
    return
  }
}

// -----

// Tests that a dynamic scattered dimension stays dynamic.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<?x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op result must be 'tensor<?x64xf32>' (dimension 0 divided by 2, the number of ranks in a group), got 'tensor<4x64xf32>'}}
    %0 = lmc.reduce_scatter %x over ["dp"] dim 0 : tensor<?x64xf32> -> tensor<4x64xf32>
    return
  }
}

// -----

// Tests that the other dimensions and the element type are unchanged.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<8x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op result must be 'tensor<4x64xf32>' (dimension 0 divided by 2, the number of ranks in a group), got 'tensor<4x32xf64>'}}
    %0 = lmc.reduce_scatter %x over ["dp"] dim 0 : tensor<8x64xf32> -> tensor<4x32xf64>
    return
  }
}

// -----

// Tests that reduce_scatter takes float tensors.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<8xi32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<8xi32>'}}
    %0 = lmc.reduce_scatter %x over ["dp"] dim 0 : tensor<8xi32> -> tensor<4xi32>
    return
  }
}

// -----

// Tests that reduce_scatter checks its axes (here: an unknown axis).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<8xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter' op mesh axis 'tp' is not in the mesh #lmc.mesh<dp = 2>}}
    %0 = lmc.reduce_scatter %x over ["tp"] dim 0 : tensor<8xf32> -> tensor<4xf32>
    return
  }
}

// -----

//===----------------------------------------------------------------------===//
// lmc.all_reduce_start
//===----------------------------------------------------------------------===//

// Tests that an all_reduce_start has at least one operand (generic form).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.all_reduce_start' op expects at least one operand}}
    "lmc.all_reduce_start"() <{axes = ["dp"]}> : () -> ()
    return
  }
}

// -----

// Tests that result k is !lmc.pending of operand k's type (generic form).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+2 {{'lmc.all_reduce_start' op inferred type(s) '!lmc.pending<tensor<4xf32>>' are incompatible with return type(s) of operation '!lmc.pending<tensor<8xf32>>'}}
    // expected-error @+1 {{'lmc.all_reduce_start' op failed to infer returned types}}
    %p = "lmc.all_reduce_start"(%x) <{axes = ["dp"]}> : (tensor<4xf32>) -> !lmc.pending<tensor<8xf32>>
    %0 = lmc.wait %p : !lmc.pending<tensor<8xf32>>
    return
  }
}

// -----

// Tests that all_reduce_start checks its axes (here: a repeated axis).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce_start' op mesh axis 'dp' is listed twice}}
    %p = lmc.all_reduce_start %x over ["dp", "dp"] : tensor<4xf32>
    %0 = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests that every started collective is waited for.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>, %y: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce_start' op result #1 must be used exactly once, by an lmc.wait; it has 0 uses}}
    %p:2 = lmc.all_reduce_start %x, %y over ["dp"] : tensor<4xf32>, tensor<4xf32>
    %0 = lmc.wait %p#0 : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests that a started collective is waited for once only.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.all_reduce_start' op result #0 must be used exactly once, by an lmc.wait; it has 2 uses}}
    %p = lmc.all_reduce_start %x over ["dp"] : tensor<4xf32>
    %0 = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    %1 = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests that a pending value is used by an lmc.wait only.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) -> !lmc.pending<tensor<4xf32>> {
    // expected-error @+1 {{'lmc.all_reduce_start' op result #0 must be used by an lmc.wait in the same block, not by func.return}}
    %p = lmc.all_reduce_start %x over ["dp"] : tensor<4xf32>
    return %p : !lmc.pending<tensor<4xf32>>
  }
}

// -----

// Tests that the wait is in the block of the start.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    // expected-error @+1 {{'lmc.all_reduce_start' op result #0 must be used by an lmc.wait in the same block, not by lmc.wait}}
    %p = lmc.all_reduce_start %x over ["dp"] : tensor<4xf32>
    %0 = scf.execute_region -> tensor<4xf32> {
      %w = lmc.wait %p : !lmc.pending<tensor<4xf32>>
      scf.yield %w : tensor<4xf32>
    }
    return %0 : tensor<4xf32>
  }
}

// -----

//===----------------------------------------------------------------------===//
// lmc.all_gather_start
//===----------------------------------------------------------------------===//

// Tests that the pending result holds the gathered type.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather_start' op result must be 'tensor<4x64xf32>' (dimension 1 multiplied by 2, the number of ranks in a group), got 'tensor<4x32xf32>'}}
    %p = lmc.all_gather_start %x over ["tp"] dim 1 : tensor<4x32xf32> -> !lmc.pending<tensor<4x32xf32>>
    %0 = lmc.wait %p : !lmc.pending<tensor<4x32xf32>>
    return
  }
}

// -----

// Tests that all_gather_start checks dim and its axes (here: dim).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather_start' op dim 5 is out of range for rank 2}}
    %p = lmc.all_gather_start %x over ["tp"] dim 5 : tensor<4x32xf32> -> !lmc.pending<tensor<4x32xf32>>
    %0 = lmc.wait %p : !lmc.pending<tensor<4x32xf32>>
    return
  }
}

// -----

// Tests that an all_gather_start is waited for.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather_start' op result #0 must be used exactly once, by an lmc.wait; it has 0 uses}}
    %p = lmc.all_gather_start %x over ["tp"] dim 1 : tensor<4x32xf32> -> !lmc.pending<tensor<4x64xf32>>
    return
  }
}

// -----

// Tests that the result of all_gather_start is !lmc.pending.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x32xf32>) {
    // expected-error @+1 {{'lmc.all_gather_start' op result #0 must be the result of an asynchronous collective still in flight, but got 'tensor<4x64xf32>'}}
    %p = "lmc.all_gather_start"(%x) <{axes = ["tp"], dim = 1 : i64}> : (tensor<4x32xf32>) -> tensor<4x64xf32>
    return
  }
}

// -----

//===----------------------------------------------------------------------===//
// lmc.reduce_scatter_start
//===----------------------------------------------------------------------===//

// Tests that a static scattered dimension is divisible by the group size.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 4>} {
  func.func @f(%x: tensor<6x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter_start' op dimension 0 (size 6) is not divisible by 4, the number of ranks along mesh axes dp}}
    %p = lmc.reduce_scatter_start %x over ["dp"] dim 0 : tensor<6x64xf32> -> !lmc.pending<tensor<1x64xf32>>
    %0 = lmc.wait %p : !lmc.pending<tensor<1x64xf32>>
    return
  }
}

// -----

// Tests that the pending result holds the scattered type.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 4>} {
  func.func @f(%x: tensor<8x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter_start' op result must be 'tensor<2x64xf32>' (dimension 0 divided by 4, the number of ranks in a group), got 'tensor<4x64xf32>'}}
    %p = lmc.reduce_scatter_start %x over ["dp"] dim 0 : tensor<8x64xf32> -> !lmc.pending<tensor<4x64xf32>>
    %0 = lmc.wait %p : !lmc.pending<tensor<4x64xf32>>
    return
  }
}

// -----

// Tests that a reduce_scatter_start is waited for.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 4>} {
  func.func @f(%x: tensor<8x64xf32>) {
    // expected-error @+1 {{'lmc.reduce_scatter_start' op result #0 must be used exactly once, by an lmc.wait; it has 0 uses}}
    %p = lmc.reduce_scatter_start %x over ["dp"] dim 0 : tensor<8x64xf32> -> !lmc.pending<tensor<2x64xf32>>
    return
  }
}

// -----

// Tests that reduce_scatter_start checks its axes (here: no mesh in scope).

func.func @f(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'lmc.reduce_scatter_start' op has no mesh in scope}}
  %p = lmc.reduce_scatter_start %x over ["dp"] dim 0 : tensor<8x64xf32> -> !lmc.pending<tensor<2x64xf32>>
  %0 = lmc.wait %p : !lmc.pending<tensor<2x64xf32>>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.wait and !lmc.pending
//===----------------------------------------------------------------------===//

// Tests that a wait has at least one operand (generic form).

func.func @f() {
  // expected-error @+1 {{'lmc.wait' op expects at least one operand}}
  "lmc.wait"() : () -> ()
  return
}

// -----

// Tests that a wait waits for the result of an asynchronous collective.

func.func @f(%p: !lmc.pending<tensor<4xf32>>) -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.wait' op operand #0 must be a result of lmc.all_reduce_start, lmc.all_gather_start or lmc.reduce_scatter_start}}
  %0 = lmc.wait %p : !lmc.pending<tensor<4xf32>>
  return %0 : tensor<4xf32>
}

// -----

// Tests that result k is the tensor inside operand k (generic form).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    %p = lmc.all_reduce_start %x over ["dp"] : tensor<4xf32>
    // expected-error @+2 {{'lmc.wait' op inferred type(s) 'tensor<4xf32>' are incompatible with return type(s) of operation 'tensor<4xf64>'}}
    // expected-error @+1 {{'lmc.wait' op failed to infer returned types}}
    %0 = "lmc.wait"(%p) : (!lmc.pending<tensor<4xf32>>) -> tensor<4xf64>
    return
  }
}

// -----

// Tests that a wait takes !lmc.pending operands.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{operands must be !lmc.pending, got 'tensor<4xf32>'}}
  %0 = lmc.wait %x : tensor<4xf32>
  return
}

// -----

// Tests that !lmc.pending holds a ranked tensor type.

// expected-error @+2 {{invalid kind of type specified: expected builtin.tensor, but found 'f32'}}
// expected-error @+1 {{failed to parse LMC_PendingType parameter 'valueType' which is to be a `::mlir::RankedTensorType`}}
func.func @f(%p: !lmc.pending<f32>) {
  return
}
