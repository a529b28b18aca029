// RUN: lmc-opt %s --lmc-embedding-grad-accumulate -split-input-file | FileCheck %s

// Tests that the add of a tied head's weight gradient and the embedding
// gradient becomes the embedding gradient into the head's, with the
// embedding gradient on either side of the add.

// CHECK-LABEL: func.func @tied
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>, %[[IDS:.+]]: tensor<?x?xi32>, %[[DHEAD:.+]]: tensor<256x64xf32>)
// CHECK-NEXT:    %[[E:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] into(%[[DHEAD]]) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// CHECK-NEXT:    %[[F:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] into(%[[DHEAD]]) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// CHECK-NEXT:    return %[[E]], %[[F]]
func.func @tied(%dx: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>, %dhead: tensor<256x64xf32>) -> (tensor<256x64xf32>, tensor<256x64xf32>) {
  %e = lmc.embedding_grad %dx[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %t = lmc.add %dhead, %e : tensor<256x64xf32>
  %f = lmc.embedding_grad %dx[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %u = lmc.add %f, %dhead : tensor<256x64xf32>
  return %t, %u : tensor<256x64xf32>, tensor<256x64xf32>
}

// -----

// Tests that a block of a vocabulary-split table keeps its offset.

// CHECK-LABEL: func.func @block
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>, %[[IDS:.+]]: tensor<?x?xi32>, %[[OFF:.+]]: index, %[[DHEAD:.+]]: tensor<128x64xf32>)
// CHECK-NEXT:    %[[E:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] offset(%[[OFF]]) into(%[[DHEAD]])
// CHECK-NEXT:    return %[[E]]
func.func @block(%dx: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>, %off: index, %dhead: tensor<128x64xf32>) -> tensor<128x64xf32> {
  %e = lmc.embedding_grad %dx[%ids] offset(%off) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
  %t = lmc.add %e, %dhead : tensor<128x64xf32>
  return %t : tensor<128x64xf32>
}

// -----

// Tests what stays: an embedding gradient read elsewhere too, one that
// already accumulates (a second add stays an add), and the sum of two
// embedding gradients folds only one of them.

// CHECK-LABEL: func.func @stays
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>, %[[IDS:.+]]: tensor<?x?xi32>, %[[DHEAD:.+]]: tensor<256x64xf32>, %[[OTHER:.+]]: tensor<256x64xf32>)
// CHECK-NEXT:    %[[E:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// CHECK-NEXT:    %[[T:.+]] = lmc.add %[[DHEAD]], %[[E]]
// CHECK-NEXT:    %[[A:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] into(%[[DHEAD]])
// CHECK-NEXT:    %[[U:.+]] = lmc.add %[[A]], %[[OTHER]]
// CHECK-NEXT:    %[[G:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]] into(%[[G]])
// CHECK-NEXT:    return %[[T]], %[[E]], %[[U]], %[[S]]
func.func @stays(%dx: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>, %dhead: tensor<256x64xf32>, %other: tensor<256x64xf32>)
    -> (tensor<256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>) {
  %e = lmc.embedding_grad %dx[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %t = lmc.add %dhead, %e : tensor<256x64xf32>
  %a = lmc.embedding_grad %dx[%ids] into(%dhead) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %u = lmc.add %a, %other : tensor<256x64xf32>
  %f = lmc.embedding_grad %dx[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %g = lmc.embedding_grad %dx[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %s = lmc.add %f, %g : tensor<256x64xf32>
  return %t, %e, %u, %s : tensor<256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>
}
