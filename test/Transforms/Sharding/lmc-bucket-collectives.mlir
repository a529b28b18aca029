// RUN: lmc-opt %s -split-input-file --lmc-bucket-collectives="bucket-bytes=150" | FileCheck %s
// RUN: lmc-opt %s -split-input-file --lmc-bucket-collectives="bucket-bytes=0" | FileCheck %s --check-prefix=EACH
// RUN: lmc-opt %s -split-input-file --lmc-bucket-collectives | FileCheck %s --check-prefix=ONE
// RUN: lmc-opt %s -split-input-file --lmc-bucket-collectives="bucket-bytes=150 report" -o /dev/null | FileCheck %s --check-prefix=REPORT

// Tests that the ZeRO-1 shape (three gradients reduce-scattered over dp=2 as
// each is produced, waited for at their first use; the updated pieces
// all-gathered, waited for at the end) becomes, with 150-byte buckets, one
// bucket of the first two (128 + 32 bytes) of each kind, the 16-byte third
// left alone; that a bucket starts after its
// last gradient and is waited for before its first member's wait; that
// each rank's pieces are packed contiguously (dimension 0: one reshape) and
// unpacked by slices; and that with bucket-bytes=0 nothing changes.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @zero1(%g1: tensor<8x4xf32>, %g2: tensor<8xf32>, %g3: tensor<4xf32>)
      -> (tensor<8x4xf32>, tensor<8xf32>, tensor<4xf32>) {
    %a = lmc.scale %g1 by 1.0 : tensor<8x4xf32>
    %p1 = lmc.reduce_scatter_start %a over ["dp"] dim 0 : tensor<8x4xf32> -> !lmc.pending<tensor<4x4xf32>>
    %b = lmc.scale %g2 by 1.0 : tensor<8xf32>
    %p2 = lmc.reduce_scatter_start %b over ["dp"] dim 0 : tensor<8xf32> -> !lmc.pending<tensor<4xf32>>
    %c = lmc.scale %g3 by 1.0 : tensor<4xf32>
    %p3 = lmc.reduce_scatter_start %c over ["dp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<2xf32>>
    %s1 = lmc.wait %p1 : !lmc.pending<tensor<4x4xf32>>
    %u1 = lmc.scale %s1 by 2.0 : tensor<4x4xf32>
    %q1 = lmc.all_gather_start %u1 over ["dp"] dim 0 : tensor<4x4xf32> -> !lmc.pending<tensor<8x4xf32>>
    %s2 = lmc.wait %p2 : !lmc.pending<tensor<4xf32>>
    %u2 = lmc.scale %s2 by 2.0 : tensor<4xf32>
    %q2 = lmc.all_gather_start %u2 over ["dp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<8xf32>>
    %s3 = lmc.wait %p3 : !lmc.pending<tensor<2xf32>>
    %u3 = lmc.scale %s3 by 2.0 : tensor<2xf32>
    %q3 = lmc.all_gather_start %u3 over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
    %r1 = lmc.wait %q1 : !lmc.pending<tensor<8x4xf32>>
    %r2 = lmc.wait %q2 : !lmc.pending<tensor<8xf32>>
    %r3 = lmc.wait %q3 : !lmc.pending<tensor<4xf32>>
    return %r1, %r2, %r3 : tensor<8x4xf32>, tensor<8xf32>, tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @zero1
// CHECK:       %[[A:.+]] = lmc.scale %{{.+}} by 1.000000e+00 : tensor<8x4xf32>
// CHECK-NEXT:  %[[B:.+]] = lmc.scale %{{.+}} by 1.000000e+00 : tensor<8xf32>
// CHECK-NEXT:  %[[E:.+]] = tensor.empty() : tensor<2x20xf32>
// CHECK-NEXT:  %[[FA:.+]] = tensor.collapse_shape %[[A]] {{\[}}[0, 1]] : tensor<8x4xf32> into tensor<32xf32>
// CHECK-NEXT:  %[[RA:.+]] = tensor.expand_shape %[[FA]] {{\[}}[0, 1]] output_shape [2, 16] : tensor<32xf32> into tensor<2x16xf32>
// CHECK-NEXT:  %[[K1:.+]] = tensor.insert_slice %[[RA]] into %[[E]][0, 0] [2, 16] [1, 1] : tensor<2x16xf32> into tensor<2x20xf32>
// CHECK-NEXT:  %[[RB:.+]] = tensor.expand_shape %[[B]] {{\[}}[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK-NEXT:  %[[K2:.+]] = tensor.insert_slice %[[RB]] into %[[K1]][0, 16] [2, 4] [1, 1] : tensor<2x4xf32> into tensor<2x20xf32>
// CHECK-NEXT:  %[[P:.+]] = lmc.reduce_scatter_start %[[K2]] over ["dp"] dim 0 : tensor<2x20xf32> -> !lmc.pending<tensor<1x20xf32>>
// CHECK-NEXT:  %[[C:.+]] = lmc.scale %{{.+}} by 1.000000e+00 : tensor<4xf32>
// CHECK-NEXT:  %[[P3:.+]] = lmc.reduce_scatter_start %[[C]] over ["dp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<2xf32>>
// CHECK-NEXT:  %[[W:.+]] = lmc.wait %[[P]] : !lmc.pending<tensor<1x20xf32>>
// CHECK-NEXT:  %[[X1:.+]] = tensor.extract_slice %[[W]][0, 0] [1, 16] [1, 1] : tensor<1x20xf32> to tensor<16xf32>
// CHECK-NEXT:  %[[S1:.+]] = tensor.expand_shape %[[X1]] {{\[}}[0, 1]] output_shape [4, 4] : tensor<16xf32> into tensor<4x4xf32>
// CHECK-NEXT:  %[[S2:.+]] = tensor.extract_slice %[[W]][0, 16] [1, 4] [1, 1] : tensor<1x20xf32> to tensor<4xf32>
// CHECK-NEXT:  %[[U1:.+]] = lmc.scale %[[S1]] by 2.000000e+00 : tensor<4x4xf32>
// CHECK-NEXT:  %[[U2:.+]] = lmc.scale %[[S2]] by 2.000000e+00 : tensor<4xf32>
// CHECK-NEXT:  %[[G:.+]] = tensor.empty() : tensor<1x20xf32>
// CHECK-NEXT:  %[[F1:.+]] = tensor.collapse_shape %[[U1]] {{\[}}[0, 1]] : tensor<4x4xf32> into tensor<16xf32>
// CHECK-NEXT:  %[[G1:.+]] = tensor.insert_slice %[[F1]] into %[[G]][0, 0] [1, 16] [1, 1] : tensor<16xf32> into tensor<1x20xf32>
// CHECK-NEXT:  %[[G2:.+]] = tensor.insert_slice %[[U2]] into %[[G1]][0, 16] [1, 4] [1, 1] : tensor<4xf32> into tensor<1x20xf32>
// CHECK-NEXT:  %[[Q:.+]] = lmc.all_gather_start %[[G2]] over ["dp"] dim 0 : tensor<1x20xf32> -> !lmc.pending<tensor<2x20xf32>>
// CHECK-NEXT:  %[[S3:.+]] = lmc.wait %[[P3]] : !lmc.pending<tensor<2xf32>>
// CHECK-NEXT:  %[[U3:.+]] = lmc.scale %[[S3]] by 2.000000e+00 : tensor<2xf32>
// CHECK-NEXT:  %[[Q3:.+]] = lmc.all_gather_start %[[U3]] over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
// CHECK-NEXT:  %[[R:.+]] = lmc.wait %[[Q]] : !lmc.pending<tensor<2x20xf32>>
// CHECK-NEXT:  %[[Y1:.+]] = tensor.extract_slice %[[R]][0, 0] [2, 16] [1, 1] : tensor<2x20xf32> to tensor<2x16xf32>
// CHECK-NEXT:  %[[Z1:.+]] = tensor.collapse_shape %[[Y1]] {{\[}}[0, 1]] : tensor<2x16xf32> into tensor<32xf32>
// CHECK-NEXT:  %[[R1:.+]] = tensor.expand_shape %[[Z1]] {{\[}}[0, 1]] output_shape [8, 4] : tensor<32xf32> into tensor<8x4xf32>
// CHECK-NEXT:  %[[Y2:.+]] = tensor.extract_slice %[[R]][0, 16] [2, 4] [1, 1] : tensor<2x20xf32> to tensor<2x4xf32>
// CHECK-NEXT:  %[[R2:.+]] = tensor.collapse_shape %[[Y2]] {{\[}}[0, 1]] : tensor<2x4xf32> into tensor<8xf32>
// CHECK-NEXT:  %[[R3:.+]] = lmc.wait %[[Q3]] : !lmc.pending<tensor<4xf32>>
// CHECK-NEXT:  return %[[R1]], %[[R2]], %[[R3]]

// EACH-LABEL: func.func @zero1
// EACH-COUNT-3: lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<{{[0-9x]+}}xf32> ->
// EACH-COUNT-3: lmc.all_gather_start
// EACH-NOT:     tensor.insert_slice

// Tests that with the default 25 MiB all three of each kind form one bucket.
// ONE-LABEL: func.func @zero1
// ONE:       lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<2x22xf32> -> !lmc.pending<tensor<1x22xf32>>
// ONE-NOT:   lmc.reduce_scatter_start
// ONE:       lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<1x22xf32> -> !lmc.pending<tensor<2x22xf32>>
// ONE-NOT:   lmc.all_gather_start
// ONE-LABEL: func.func @late

// Tests the report: per function, kind and group, the per-tensor
// collectives, the buckets that replace them, and their payload.
// REPORT:      lmc-bucket-collectives report: buckets of at least 150 bytes (tensors merged in program order)
// REPORT-NEXT:   function     collective     axis  tensors  buckets  payload bytes
// REPORT-NEXT:   zero1        reduce_scatter dp          3        2            176
// REPORT-NEXT:   zero1        all_gather     dp          3        2            176
// REPORT:      lmc-bucket-collectives report
// REPORT:        zero3        all_gather     dp          2        1            160
// REPORT-NEXT:   zero3        all_gather     tp          1        1             32

// -----

// Tests that a reduce-scatter whose input is computed from the result of an
// earlier member's wait is not hoisted above that wait: it starts a bucket
// of its own, after it (and a later one joins it there).

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @late(%g1: tensor<8xf32>, %g3: tensor<8xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
    %p1 = lmc.reduce_scatter_start %g1 over ["dp"] dim 0 : tensor<8xf32> -> !lmc.pending<tensor<4xf32>>
    %s1 = lmc.wait %p1 : !lmc.pending<tensor<4xf32>>
    %h = lmc.concat %s1, %s1 : tensor<4xf32>, tensor<4xf32>
    %p2 = lmc.reduce_scatter_start %h over ["dp"] dim 0 : tensor<8xf32> -> !lmc.pending<tensor<4xf32>>
    %p3 = lmc.reduce_scatter_start %g3 over ["dp"] dim 0 : tensor<8xf32> -> !lmc.pending<tensor<4xf32>>
    %s2 = lmc.wait %p2 : !lmc.pending<tensor<4xf32>>
    %s3 = lmc.wait %p3 : !lmc.pending<tensor<4xf32>>
    return %s1, %s2, %s3 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @late
// CHECK:       %[[P1:.+]] = lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<8xf32> -> !lmc.pending<tensor<4xf32>>
// CHECK-NEXT:  %[[S1:.+]] = lmc.wait %[[P1]] : !lmc.pending<tensor<4xf32>>
// CHECK-NEXT:  %[[H:.+]] = lmc.concat %[[S1]], %[[S1]]
// CHECK-NEXT:  tensor.empty() : tensor<2x8xf32>
// CHECK:       tensor.insert_slice %{{.+}} into %{{.+}}[0, 4] [2, 4]
// CHECK-NEXT:  %[[P:.+]] = lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<2x8xf32> -> !lmc.pending<tensor<1x8xf32>>
// CHECK-NEXT:  %[[W:.+]] = lmc.wait %[[P]] : !lmc.pending<tensor<1x8xf32>>
// CHECK-NEXT:  %[[S2:.+]] = tensor.extract_slice %[[W]][0, 0] [1, 4] [1, 1]
// CHECK-NEXT:  %[[S3:.+]] = tensor.extract_slice %[[W]][0, 4] [1, 4] [1, 1]
// CHECK-NEXT:  return %[[S1]], %[[S2]], %[[S3]]

// -----

// Tests the ZeRO-3 shape over dp=2: parameters that live sharded along
// dimension 1 (a [4, 2] piece of a [4, 4] whole, and a [2, 2, 3] piece of
// [2, 4, 3]) all-gathered before their use, the second layer's gather
// prefetched while the first computes. With dimensions before the gathered
// one, each rank's piece is a strided slice: packed as a whole piece per
// rank, unpacked one rank at a time. The bucket starts where the first
// member did (not hoisted to the top of the function, where the inputs
// exist) and is waited for before the first use; gathers over another
// axis (tp) stay apart.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @zero3(%w1: tensor<4x2xf32>, %w2: tensor<2x2x3xf32>, %x: tensor<4x4xf32>, %t: tensor<4xf32>)
      -> (tensor<4x4xf32>, tensor<2x4x3xf32>, tensor<8xf32>) {
    %y = lmc.scale %x by 3.0 : tensor<4x4xf32>
    %p1 = lmc.all_gather_start %w1 over ["dp"] dim 1 : tensor<4x2xf32> -> !lmc.pending<tensor<4x4xf32>>
    %pt = lmc.all_gather_start %t over ["tp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<8xf32>>
    %p2 = lmc.all_gather_start %w2 over ["dp"] dim 1 : tensor<2x2x3xf32> -> !lmc.pending<tensor<2x4x3xf32>>
    %a1 = lmc.wait %p1 : !lmc.pending<tensor<4x4xf32>>
    %z = lmc.add %y, %a1 : tensor<4x4xf32>
    %a2 = lmc.wait %p2 : !lmc.pending<tensor<2x4x3xf32>>
    %at = lmc.wait %pt : !lmc.pending<tensor<8xf32>>
    return %z, %a2, %at : tensor<4x4xf32>, tensor<2x4x3xf32>, tensor<8xf32>
  }
}

// CHECK-LABEL: func.func @zero3
// CHECK:       lmc.scale
// CHECK-NEXT:  %[[E:.+]] = tensor.empty() : tensor<1x20xf32>
// CHECK-NEXT:  %[[F1:.+]] = tensor.collapse_shape %{{.+}} {{\[}}[0, 1]] : tensor<4x2xf32> into tensor<8xf32>
// CHECK-NEXT:  %[[K1:.+]] = tensor.insert_slice %[[F1]] into %[[E]][0, 0] [1, 8] [1, 1]
// CHECK-NEXT:  %[[F2:.+]] = tensor.collapse_shape %{{.+}} {{\[}}[0, 1, 2]] : tensor<2x2x3xf32> into tensor<12xf32>
// CHECK-NEXT:  %[[K2:.+]] = tensor.insert_slice %[[F2]] into %[[K1]][0, 8] [1, 12] [1, 1]
// CHECK-NEXT:  %[[P:.+]] = lmc.all_gather_start %[[K2]] over ["dp"] dim 0 : tensor<1x20xf32> -> !lmc.pending<tensor<2x20xf32>>
// CHECK-NEXT:  %[[PT:.+]] = lmc.all_gather_start %{{.+}} over ["tp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<8xf32>>
// CHECK-NEXT:  %[[W:.+]] = lmc.wait %[[P]] : !lmc.pending<tensor<2x20xf32>>
// CHECK-NEXT:  %[[O1:.+]] = tensor.empty() : tensor<4x4xf32>
// CHECK-NEXT:  %[[X10:.+]] = tensor.extract_slice %[[W]][0, 0] [1, 8] [1, 1] : tensor<2x20xf32> to tensor<8xf32>
// CHECK-NEXT:  %[[E10:.+]] = tensor.expand_shape %[[X10]] {{\[}}[0, 1]] output_shape [4, 2]
// CHECK-NEXT:  %[[I10:.+]] = tensor.insert_slice %[[E10]] into %[[O1]][0, 0] [4, 2] [1, 1]
// CHECK-NEXT:  %[[X11:.+]] = tensor.extract_slice %[[W]][1, 0] [1, 8] [1, 1] : tensor<2x20xf32> to tensor<8xf32>
// CHECK-NEXT:  %[[E11:.+]] = tensor.expand_shape %[[X11]] {{\[}}[0, 1]] output_shape [4, 2]
// CHECK-NEXT:  %[[A1:.+]] = tensor.insert_slice %[[E11]] into %[[I10]][0, 2] [4, 2] [1, 1]
// CHECK:       tensor.extract_slice %[[W]][1, 8] [1, 12] [1, 1] : tensor<2x20xf32> to tensor<12xf32>
// CHECK-NEXT:  tensor.expand_shape %{{.+}} {{\[}}[0, 1, 2]] output_shape [2, 2, 3]
// CHECK-NEXT:  %[[A2:.+]] = tensor.insert_slice %{{.+}} into %{{.+}}[0, 2, 0] [2, 2, 3] [1, 1, 1]
// CHECK-NEXT:  %[[Z:.+]] = lmc.add %{{.+}}, %[[A1]]
// CHECK-NEXT:  %[[AT:.+]] = lmc.wait %[[PT]] : !lmc.pending<tensor<8xf32>>
// CHECK-NEXT:  return %[[Z]], %[[A2]], %[[AT]]

// -----

// Tests the reduce-scatter of the ZeRO-3 shape: gradients scattered along
// dimension 1 (each rank's piece strided) are packed one slice per rank,
// into that rank's row.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @scatter_dim1(%g1: tensor<2x4xf32>, %g2: tensor<6xf32>) -> (tensor<2x2xf32>, tensor<3xf32>) {
    %p1 = lmc.reduce_scatter_start %g1 over ["dp"] dim 1 : tensor<2x4xf32> -> !lmc.pending<tensor<2x2xf32>>
    %p2 = lmc.reduce_scatter_start %g2 over ["dp"] dim 0 : tensor<6xf32> -> !lmc.pending<tensor<3xf32>>
    %s1, %s2 = lmc.wait %p1, %p2 : !lmc.pending<tensor<2x2xf32>>, !lmc.pending<tensor<3xf32>>
    return %s1, %s2 : tensor<2x2xf32>, tensor<3xf32>
  }
}

// CHECK-LABEL: func.func @scatter_dim1
// CHECK-NEXT:  %[[E:.+]] = tensor.empty() : tensor<2x7xf32>
// CHECK-NEXT:  %[[R0:.+]] = tensor.extract_slice %{{.+}}[0, 0] [2, 2] [1, 1] : tensor<2x4xf32> to tensor<2x2xf32>
// CHECK-NEXT:  %[[F0:.+]] = tensor.collapse_shape %[[R0]]
// CHECK-NEXT:  %[[K0:.+]] = tensor.insert_slice %[[F0]] into %[[E]][0, 0] [1, 4] [1, 1]
// CHECK-NEXT:  %[[R1:.+]] = tensor.extract_slice %{{.+}}[0, 2] [2, 2] [1, 1] : tensor<2x4xf32> to tensor<2x2xf32>
// CHECK-NEXT:  %[[F1:.+]] = tensor.collapse_shape %[[R1]]
// CHECK-NEXT:  %[[K1:.+]] = tensor.insert_slice %[[F1]] into %[[K0]][1, 0] [1, 4] [1, 1]
// CHECK-NEXT:  %[[X:.+]] = tensor.expand_shape %{{.+}} {{\[}}[0, 1]] output_shape [2, 3]
// CHECK-NEXT:  %[[K2:.+]] = tensor.insert_slice %[[X]] into %[[K1]][0, 4] [2, 3] [1, 1]
// CHECK-NEXT:  %[[P:.+]] = lmc.reduce_scatter_start %[[K2]] over ["dp"] dim 0 : tensor<2x7xf32> -> !lmc.pending<tensor<1x7xf32>>
// CHECK-NEXT:  %[[W:.+]] = lmc.wait %[[P]]
// CHECK-NOT:   lmc.wait
// CHECK:       return

// -----

// Tests that buckets do not reach over their own wait (ZeRO-3's layers):
// layer 0's two gathers, started at the top and waited for together, form
// one bucket; layer 1's, started right after layer 0's wait (the prefetch
// while layer 0 computes), form a second, started there, not hoisted into
// the first.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @layers(%a0: tensor<2xf32>, %b0: tensor<2xf32>, %a1: tensor<2xf32>, %b1: tensor<2xf32>, %x: tensor<4xf32>) -> tensor<4xf32> {
    %pa0 = lmc.all_gather_start %a0 over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
    %pb0 = lmc.all_gather_start %b0 over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
    %ga0, %gb0 = lmc.wait %pa0, %pb0 : !lmc.pending<tensor<4xf32>>, !lmc.pending<tensor<4xf32>>
    %pa1 = lmc.all_gather_start %a1 over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
    %pb1 = lmc.all_gather_start %b1 over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
    %y0 = lmc.mul %x, %ga0 : tensor<4xf32>
    %z0 = lmc.add %y0, %gb0 : tensor<4xf32>
    %ga1, %gb1 = lmc.wait %pa1, %pb1 : !lmc.pending<tensor<4xf32>>, !lmc.pending<tensor<4xf32>>
    %y1 = lmc.mul %z0, %ga1 : tensor<4xf32>
    %z1 = lmc.add %y1, %gb1 : tensor<4xf32>
    return %z1 : tensor<4xf32>
  }
}

// CHECK-LABEL: func.func @layers
// CHECK:       %[[P0:.+]] = lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<1x4xf32> -> !lmc.pending<tensor<2x4xf32>>
// CHECK-NEXT:  %[[W0:.+]] = lmc.wait %[[P0]] : !lmc.pending<tensor<2x4xf32>>
// CHECK:       tensor.empty() : tensor<1x4xf32>
// CHECK:       %[[P1:.+]] = lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<1x4xf32> -> !lmc.pending<tensor<2x4xf32>>
// CHECK-NEXT:  lmc.mul
// CHECK-NEXT:  lmc.add
// CHECK-NEXT:  %[[W1:.+]] = lmc.wait %[[P1]] : !lmc.pending<tensor<2x4xf32>>
// CHECK-NOT:   lmc.wait
// CHECK:       return
