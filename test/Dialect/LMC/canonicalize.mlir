// RUN: lmc-opt %s -canonicalize -split-input-file | FileCheck %s

// Tests that scaling by 1 folds away.

// CHECK-LABEL: func.func @scale_by_one
// CHECK-SAME:    (%[[X:.+]]: tensor<?x2x?x?xf32>)
// CHECK-NOT:     lmc.scale
// CHECK:         return %[[X]] : tensor<?x2x?x?xf32>
func.func @scale_by_one(%x: tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32> {
  %0 = lmc.scale %x by 1.0 : tensor<?x2x?x?xf32>
  return %0 : tensor<?x2x?x?xf32>
}

// -----

// Tests that a scale other than 1 stays.

// CHECK-LABEL: func.func @scale_by_two
// CHECK-SAME:    (%[[X:.+]]: tensor<4xf64>)
// CHECK:         %[[S:.+]] = lmc.scale %[[X]] by 2.000000e+00 : tensor<4xf64>
// CHECK-NEXT:    return %[[S]] : tensor<4xf64>
func.func @scale_by_two(%x: tensor<4xf64>) -> tensor<4xf64> {
  %0 = lmc.scale %x by 2.0 : tensor<4xf64>
  return %0 : tensor<4xf64>
}

// -----

// Tests that a scale of a scale combines into one, with the product of the
// factors.

// CHECK-LABEL: func.func @scale_of_scale
// CHECK-SAME:    (%[[X:.+]]: tensor<?x4xf32>)
// CHECK:         %[[S:.+]] = lmc.scale %[[X]] by 6.000000e+00 : tensor<?x4xf32>
// CHECK-NOT:     lmc.scale
// CHECK:         return %[[S]] : tensor<?x4xf32>
func.func @scale_of_scale(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = lmc.scale %x by 2.0 : tensor<?x4xf32>
  %1 = lmc.scale %0 by 3.0 : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// Tests that a chain of three scales combines into one.

// CHECK-LABEL: func.func @scale_chain
// CHECK-SAME:    (%[[X:.+]]: tensor<?x4xf32>)
// CHECK:         %[[S:.+]] = lmc.scale %[[X]] by -1.200000e+01 : tensor<?x4xf32>
// CHECK-NOT:     lmc.scale
// CHECK:         return %[[S]] : tensor<?x4xf32>
func.func @scale_chain(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = lmc.scale %x by 2.0 : tensor<?x4xf32>
  %1 = lmc.scale %0 by 3.0 : tensor<?x4xf32>
  %2 = lmc.scale %1 by -2.0 : tensor<?x4xf32>
  return %2 : tensor<?x4xf32>
}

// -----

// Tests that scales whose product is 1 cancel out.

// CHECK-LABEL: func.func @scales_cancel
// CHECK-SAME:    (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-NOT:     lmc.scale
// CHECK:         return %[[X]] : tensor<?x4xf32>
func.func @scales_cancel(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = lmc.scale %x by 4.0 : tensor<?x4xf32>
  %1 = lmc.scale %0 by 0.25 : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// Tests that the inner scale stays when it has another use; the outer one
// still reads the input directly.

// CHECK-LABEL: func.func @scale_shared
// CHECK-SAME:    (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-DAG:     %[[A:.+]] = lmc.scale %[[X]] by 2.000000e+00 : tensor<?x4xf32>
// CHECK-DAG:     %[[B:.+]] = lmc.scale %[[X]] by 6.000000e+00 : tensor<?x4xf32>
// CHECK:         return %[[A]], %[[B]]
func.func @scale_shared(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %0 = lmc.scale %x by 2.0 : tensor<?x4xf32>
  %1 = lmc.scale %0 by 3.0 : tensor<?x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// Tests that scales whose product overflows to infinity do not combine: the
// combined op would have a non-finite factor, which the verifier rejects.

// CHECK-LABEL: func.func @scale_overflow
// CHECK-SAME:    (%[[X:.+]]: tensor<?x4xf32>)
// CHECK:         %[[A:.+]] = lmc.scale %[[X]] by {{9.99+[0-9]*E\+199}} : tensor<?x4xf32>
// CHECK-NEXT:    %[[B:.+]] = lmc.scale %[[A]] by {{9.99+[0-9]*E\+199}} : tensor<?x4xf32>
// CHECK-NEXT:    return %[[B]] : tensor<?x4xf32>
func.func @scale_overflow(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = lmc.scale %x by 1.0e200 : tensor<?x4xf32>
  %1 = lmc.scale %0 by 1.0e200 : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// Tests that merge_heads(split_heads(x)) folds to x.

// CHECK-LABEL: func.func @merge_of_split
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>)
// CHECK-NOT:     lmc.split_heads
// CHECK-NOT:     lmc.merge_heads
// CHECK:         return %[[X]] : tensor<?x?x64xf32>
func.func @merge_of_split(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.split_heads %x heads(2) : tensor<?x?x64xf32>
  %1 = lmc.merge_heads %0 : tensor<?x2x?x32xf32>
  return %1 : tensor<?x?x64xf32>
}

// -----

// Tests that split_heads(merge_heads(x)) folds to x with the same head count.

// CHECK-LABEL: func.func @split_of_merge
// CHECK-SAME:    (%[[X:.+]]: tensor<2x3x5x16xf64>)
// CHECK-NOT:     lmc.merge_heads
// CHECK-NOT:     lmc.split_heads
// CHECK:         return %[[X]] : tensor<2x3x5x16xf64>
func.func @split_of_merge(%x: tensor<2x3x5x16xf64>) -> tensor<2x3x5x16xf64> {
  %0 = lmc.merge_heads %x : tensor<2x3x5x16xf64>
  %1 = lmc.split_heads %0 heads(3) : tensor<2x5x48xf64>
  return %1 : tensor<2x3x5x16xf64>
}

// -----

// Tests that split_heads(merge_heads(x)) with a different head count does not
// fold: it regroups the channels.

// CHECK-LABEL: func.func @split_of_merge_other_heads
// CHECK-SAME:    (%[[X:.+]]: tensor<?x2x?x32xf32>)
// CHECK:         %[[M:.+]] = lmc.merge_heads %[[X]] : tensor<?x2x?x32xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.split_heads %[[M]] heads(4) : tensor<?x?x64xf32>
// CHECK-NEXT:    return %[[S]] : tensor<?x4x?x16xf32>
func.func @split_of_merge_other_heads(%x: tensor<?x2x?x32xf32>) -> tensor<?x4x?x16xf32> {
  %0 = lmc.merge_heads %x : tensor<?x2x?x32xf32>
  %1 = lmc.split_heads %0 heads(4) : tensor<?x?x64xf32>
  return %1 : tensor<?x4x?x16xf32>
}

// -----

// Tests that merge_heads does not fold through another op between it and
// split_heads.

// CHECK-LABEL: func.func @no_fold_through_other_ops
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>)
// CHECK:         %[[S:.+]] = lmc.split_heads %[[X]] heads(2) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[P:.+]] = lmc.softmax %[[S]] : tensor<?x2x?x32xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.merge_heads %[[P]] : tensor<?x2x?x32xf32>
// CHECK-NEXT:    return %[[M]], %[[S]] : tensor<?x?x64xf32>, tensor<?x2x?x32xf32>
func.func @no_fold_through_other_ops(%x: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x2x?x32xf32>) {
  %0 = lmc.split_heads %x heads(2) : tensor<?x?x64xf32>
  %1 = lmc.softmax %0 : tensor<?x2x?x32xf32>
  %2 = lmc.merge_heads %1 : tensor<?x2x?x32xf32>
  return %2, %0 : tensor<?x?x64xf32>, tensor<?x2x?x32xf32>
}

// -----

// Tests that merge_heads(split_heads(x)) folds even when the split_heads has
// another use, which keeps it alive.

// CHECK-LABEL: func.func @merge_of_shared_split
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>)
// CHECK:         %[[S:.+]] = lmc.split_heads %[[X]] heads(2) : tensor<?x?x64xf32>
// CHECK-NOT:     lmc.merge_heads
// CHECK:         return %[[X]], %[[S]] : tensor<?x?x64xf32>, tensor<?x2x?x32xf32>
func.func @merge_of_shared_split(%x: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x2x?x32xf32>) {
  %0 = lmc.split_heads %x heads(2) : tensor<?x?x64xf32>
  %1 = lmc.merge_heads %0 : tensor<?x2x?x32xf32>
  return %1, %0 : tensor<?x?x64xf32>, tensor<?x2x?x32xf32>
}

// -----

// Tests that repeat_heads and repeat_heads_grad by 1 fold away, and that
// other counts stay.

// CHECK-LABEL: func.func @repeat_heads_once
// CHECK-SAME:    (%[[X:.+]]: tensor<?x2x?x16xf32>)
// CHECK-NEXT:    %[[R:.+]] = lmc.repeat_heads %[[X]] times(2) : tensor<?x2x?x16xf32>
// CHECK-NEXT:    %[[G:.+]] = lmc.repeat_heads_grad %[[R]] times(4) : tensor<?x4x?x16xf32>
// CHECK-NEXT:    return %[[X]], %[[X]], %[[G]]
func.func @repeat_heads_once(%x: tensor<?x2x?x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x16xf32>) {
  %0 = lmc.repeat_heads %x times(1) : tensor<?x2x?x16xf32>
  %1 = lmc.repeat_heads_grad %x times(1) : tensor<?x2x?x16xf32>
  %2 = lmc.repeat_heads %x times(2) : tensor<?x2x?x16xf32>
  %3 = lmc.repeat_heads_grad %2 times(4) : tensor<?x4x?x16xf32>
  return %0, %1, %3 : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x16xf32>
}
