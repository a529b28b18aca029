// RUN: lmc-opt %s -convert-lmc-to-linalg -convert-lmc-to-runtime -split-input-file | FileCheck %s

// The lowering of the ops of LMCShardingOps.td, one case per op.

// Tests that axis_index stays for convert-lmc-to-runtime, which calls the
// runtime's axis index with the axis mask of the axis (dp 1, tp 2) and casts
// the i64 coordinate to index; the function is declared once, privately, in
// the module, also when the ops sit in an lmc.model that
// convert-lmc-to-linalg dissolves.

// CHECK:       module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// CHECK-NEXT:    func.func private @lmcrt_axis_index(i32) -> i64{{$}}
// CHECK-NOT:     func.func private @lmcrt_axis_index
// CHECK-LABEL:   func.func @coordinates() -> (index, index)
// CHECK-NEXT:      %[[TWO:.+]] = arith.constant 2 : i32
// CHECK-NEXT:      %[[TP64:.+]] = call @lmcrt_axis_index(%[[TWO]]) : (i32) -> i64
// CHECK-NEXT:      %[[TP:.+]] = arith.index_cast %[[TP64]] : i64 to index
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant 1 : i32
// CHECK-NEXT:      %[[DP64:.+]] = call @lmcrt_axis_index(%[[ONE]]) : (i32) -> i64
// CHECK-NEXT:      %[[DP:.+]] = arith.index_cast %[[DP64]] : i64 to index
// CHECK-NEXT:      return %[[TP]], %[[DP]] : index, index
// CHECK-NOT:     lmc.model
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @coordinates() -> (index, index) {
    %tp = lmc.axis_index "tp"
    %dp = lmc.axis_index "dp"
    return %tp, %dp : index, index
  }
}

// -----

// Tests that cross_entropy_stats computes the row maximum and the sum of
// exp(x - max) over the block, picks the target's logit where
// target - offset lies in [0, V) (one unsigned compare; column 0 is read
// otherwise and 0 yielded), and assembles the triples along a new last
// dimension of 3 by linalg.index.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @stats
// CHECK-SAME:    (%[[L:.+]]: tensor<?x?x128xf32>, %[[T:.+]]: tensor<?x?xi32>, %[[OFF:.+]]: index)
// CHECK:         %[[MAX:.+]] = linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[L]] : tensor<?x?x128xf32>)
// CHECK:           arith.maximumf
// CHECK:         %[[SUM:.+]] = linalg.generic {{.+}} ins(%[[L]], %[[MAX]] : tensor<?x?x128xf32>, tensor<?x?xf32>)
// CHECK:           math.exp
// CHECK:         %[[V:.+]] = arith.constant 128 : index
// CHECK:         %[[PICK:.+]] = linalg.generic {{.+}} ins(%[[T]] : tensor<?x?xi32>)
// CHECK:           %[[IDX:.+]] = arith.index_cast %{{.+}} : i32 to index
// CHECK-NEXT:      %[[COL:.+]] = arith.subi %[[IDX]], %[[OFF]] : index
// CHECK-NEXT:      %[[IN:.+]] = arith.cmpi ult, %[[COL]], %[[V]] : index
// CHECK-NEXT:      %[[I0:.+]] = linalg.index 0 : index
// CHECK-NEXT:      %[[I1:.+]] = linalg.index 1 : index
// CHECK-NEXT:      %[[SAFE:.+]] = arith.select %[[IN]], %[[COL]], %{{.+}} : index
// CHECK-NEXT:      %[[X:.+]] = tensor.extract %[[L]][%[[I0]], %[[I1]], %[[SAFE]]] : tensor<?x?x128xf32>
// CHECK-NEXT:      %[[Y:.+]] = arith.select %[[IN]], %[[X]], %{{.+}} : f32
// CHECK-NEXT:      linalg.yield %[[Y]] : f32
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x3xf32>
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[ROW3]], #[[ROW3]], #[[ROW3]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[MAX]], %[[SUM]], %[[PICK]] : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) outs(%[[E]] : tensor<?x?x3xf32>)
// CHECK-NEXT:    ^bb0(%[[M:.+]]: f32, %[[S:.+]]: f32, %[[P:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[K:.+]] = linalg.index 2 : index
// CHECK:           %[[IS0:.+]] = arith.cmpi eq, %[[K]], %{{.+}} : index
// CHECK:           %[[IS1:.+]] = arith.cmpi eq, %[[K]], %{{.+}} : index
// CHECK-NEXT:      %[[SP:.+]] = arith.select %[[IS1]], %[[S]], %[[P]] : f32
// CHECK-NEXT:      %[[MSP:.+]] = arith.select %[[IS0]], %[[M]], %[[SP]] : f32
// CHECK-NEXT:      linalg.yield %[[MSP]] : f32
// CHECK:         return %[[R]]
func.func @stats(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %off: index) -> tensor<?x?x3xf32> {
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>
  return %0 : tensor<?x?x3xf32>
}

// -----

// Tests that cross_entropy_stats and cross_entropy_shard_grad over a block
// of padded logits (classes(250)) mask by the GLOBAL column, offset +
// linalg.index 2 < 250: out of the block's max (-inf) and sum (0), and a
// gradient of exactly 0.

// CHECK-LABEL: func.func @padded_block
// CHECK-SAME:    %[[OFF:[^:]+]]: index
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT:      %[[COL:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[GCOL:.+]] = arith.addi %[[COL]], %[[OFF]] : index
// CHECK-NEXT:      %[[N:.+]] = arith.constant 250 : index
// CHECK-NEXT:      %[[IN:.+]] = arith.cmpi ult, %[[GCOL]], %[[N]] : index
// CHECK-NEXT:      %[[V:.+]] = arith.select %[[IN]], %{{.+}}, %[[NINF]] : f32
// CHECK-NEXT:      arith.maximumf %[[V]]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           %[[E:.+]] = math.exp
// CHECK:           %[[GCOL2:.+]] = arith.addi %{{.+}}, %[[OFF]] : index
// CHECK:           %[[IN2:.+]] = arith.cmpi ult, %[[GCOL2]], %{{.+}} : index
// CHECK-NEXT:      arith.select %[[IN2]], %[[E]], %{{.+}} : f32
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           %[[RV:.+]] = arith.mulf
// CHECK-NEXT:      %[[GC:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[GG:.+]] = arith.addi %[[GC]], %[[OFF]] : index
// CHECK-NEXT:      %[[NN:.+]] = arith.constant 250 : index
// CHECK-NEXT:      %[[IN3:.+]] = arith.cmpi ult, %[[GG]], %[[NN]] : index
// CHECK-NEXT:      %[[G:.+]] = arith.select %[[IN3]], %[[RV]], %{{.+}} : f32
// CHECK-NEXT:      linalg.yield %[[G]] : f32
func.func @padded_block(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>,
                        %lse: tensor<?x?xf32>, %off: index)
    -> (tensor<?x?x3xf32>, tensor<?x?x128xf32>) {
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) classes(250) : tensor<?x?x128xf32>, tensor<?x?xi32>
  %1 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) classes(250) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?xf32>
  return %0, %1 : tensor<?x?x3xf32>, tensor<?x?x128xf32>
}

// -----

// Tests that cross_entropy_combine reads m, s and t of every block as
// stride-3 slices, reduces them to M = max m, S = sum s exp(m - M) and
// T = sum t, returns lse = log S + M, and the loss as the sum of lse - T
// over all positions divided by their number.

// CHECK-LABEL: func.func @combine
// CHECK-SAME:    (%[[S:.+]]: tensor<?x?x6xf32>)
// CHECK:         %[[SM:.+]] = tensor.extract_slice %[[S]][0, 0, 0] [%{{.+}}, %{{.+}}, 2] [1, 1, 3] : tensor<?x?x6xf32> to tensor<?x?x2xf32>
// CHECK-NEXT:    %[[SS:.+]] = tensor.extract_slice %[[S]][0, 0, 1] [%{{.+}}, %{{.+}}, 2] [1, 1, 3] : tensor<?x?x6xf32> to tensor<?x?x2xf32>
// CHECK-NEXT:    %[[ST:.+]] = tensor.extract_slice %[[S]][0, 0, 2] [%{{.+}}, %{{.+}}, 2] [1, 1, 3] : tensor<?x?x6xf32> to tensor<?x?x2xf32>
// CHECK:         %[[M:.+]] = linalg.generic {{.+}} ins(%[[SM]] : tensor<?x?x2xf32>)
// CHECK:           arith.maximumf
// CHECK:         %[[SUM:.+]] = linalg.generic {{.+}} ins(%[[SS]], %[[SM]], %[[M]] : tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?xf32>)
// CHECK-NEXT:    ^bb0(%[[SV:.+]]: f32, %[[MV:.+]]: f32, %[[MAX:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[MV]], %[[MAX]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[D]] : f32
// CHECK-NEXT:      %[[W:.+]] = arith.mulf %[[SV]], %[[E]] : f32
// CHECK-NEXT:      %[[A:.+]] = arith.addf %[[W]], %[[ACC]] : f32
// CHECK:         %[[T:.+]] = linalg.generic {{.+}} ins(%[[ST]] : tensor<?x?x2xf32>)
// CHECK:           arith.addf
// CHECK:         %[[LSE:.+]] = linalg.generic {{.+}} ins(%[[M]], %[[SUM]] : tensor<?x?xf32>, tensor<?x?xf32>)
// CHECK-NEXT:    ^bb0(%[[MV2:.+]]: f32, %[[SV2:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[LOG:.+]] = math.log %[[SV2]] : f32
// CHECK-NEXT:      arith.addf %[[LOG]], %[[MV2]] : f32
// CHECK:         %[[TOTAL:.+]] = linalg.generic {{.+}} iterator_types = ["reduction", "reduction"]} ins(%[[LSE]], %[[T]] : tensor<?x?xf32>, tensor<?x?xf32>) outs(%{{.+}} : tensor<f32>)
// CHECK:           arith.subf
// CHECK:         %[[N:.+]] = arith.uitofp %{{.+}} : i64 to f32
// CHECK:         %[[LOSS:.+]] = linalg.generic {{.+}} ins(%[[TOTAL]] : tensor<f32>)
// CHECK:           arith.divf %{{.+}}, %[[N]] : f32
// CHECK:         return %[[LOSS]], %[[LSE]] : tensor<f32>, tensor<?x?xf32>
func.func @combine(%s: tensor<?x?x6xf32>) -> (tensor<f32>, tensor<?x?xf32>) {
  %loss, %lse = lmc.cross_entropy_combine %s : tensor<?x?x6xf32>
  return %loss, %lse : tensor<f32>, tensor<?x?xf32>
}

// -----

// Tests that cross_entropy_shard_grad is one elementwise generic:
// (exp(x - lse) - onehot(target - offset == column)) * grad / N, with N the
// product of the logits' leading sizes.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @shard_grad
// CHECK-SAME:    (%[[L:.+]]: tensor<?x?x128xf64>, %[[T:.+]]: tensor<?x?xi64>, %[[G:.+]]: tensor<f64>, %[[LSE:.+]]: tensor<?x?xf64>, %[[OFF:.+]]: index)
// CHECK:         %[[DL:.+]] = tensor.extract %[[G]][] : tensor<f64>
// CHECK:         %[[B:.+]] = tensor.dim %[[L]], %{{.+}} : tensor<?x?x128xf64>
// CHECK:         %[[TT:.+]] = tensor.dim %[[L]], %{{.+}} : tensor<?x?x128xf64>
// CHECK:         %[[N:.+]] = arith.uitofp %{{.+}} : i64 to f64
// CHECK-NEXT:    %[[SCALE:.+]] = arith.divf %[[DL]], %[[N]] : f64
// CHECK:         linalg.generic {indexing_maps = [#[[ID3]], #[[ROW3]], #[[ROW3]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[L]], %[[LSE]], %[[T]] : tensor<?x?x128xf64>, tensor<?x?xf64>, tensor<?x?xi64>)
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f64, %[[E:.+]]: f64, %[[ID:.+]]: i64, %{{.+}}: f64):
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[X]], %[[E]] : f64
// CHECK-NEXT:      %[[P:.+]] = math.exp %[[D]] : f64
// CHECK-NEXT:      %[[V:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[IDX:.+]] = arith.index_cast %[[ID]] : i64 to index
// CHECK-NEXT:      %[[COL:.+]] = arith.subi %[[IDX]], %[[OFF]] : index
// CHECK-NEXT:      %[[HIT:.+]] = arith.cmpi eq, %[[COL]], %[[V]] : index
// CHECK-NEXT:      %[[ONE:.+]] = arith.select %[[HIT]], %{{.+}}, %{{.+}} : f64
// CHECK-NEXT:      %[[DIFF:.+]] = arith.subf %[[P]], %[[ONE]] : f64
// CHECK-NEXT:      %[[R:.+]] = arith.mulf %[[DIFF]], %[[SCALE]] : f64
// CHECK-NEXT:      linalg.yield %[[R]] : f64
func.func @shard_grad(%l: tensor<?x?x128xf64>, %t: tensor<?x?xi64>, %g: tensor<f64>, %lse: tensor<?x?xf64>, %off: index) -> tensor<?x?x128xf64> {
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<?x?x128xf64>, tensor<?x?xi64>, tensor<f64>, tensor<?x?xf64>
  return %0 : tensor<?x?x128xf64>
}
