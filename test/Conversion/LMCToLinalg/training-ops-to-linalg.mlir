// RUN: sed '/^\/\/ === static and dynamic sizes mixed ===$/,$d' %s | lmc-opt -convert-lmc-to-linalg -split-input-file | FileCheck %s
// RUN: sed -n '/^\/\/ === static and dynamic sizes mixed ===$/,$p' %s | lmc-opt -convert-lmc-to-linalg -split-input-file | FileCheck %s --check-prefix=MIXED

// The reference lowering of the ops of LMCTrainingOps.td, one case per op.
// Independent ops of a loop body are matched in any order, as their order
// follows the C++ evaluation order of arguments.

// Tests that zeros_like is a zero-filled tensor of the operand's run-time
// shape.

// CHECK-LABEL: func.func @zeros_like
// CHECK-SAME:    (%[[X:.+]]: tensor<?x64xf64>)
// CHECK:         %[[D0:.+]] = tensor.dim %[[X]], %{{.+}} : tensor<?x64xf64>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty(%[[D0]]) : tensor<?x64xf64>
// CHECK-NEXT:    %[[ZERO:.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %[[F:.+]] = linalg.fill ins(%[[ZERO]] : f64) outs(%[[E]] : tensor<?x64xf64>) -> tensor<?x64xf64>
// CHECK-NEXT:    return %[[F]]
// CHECK-NOT:     {{lmc\.[a-z_]+ [^=]}}
func.func @zeros_like(%x: tensor<?x64xf64>) -> tensor<?x64xf64> {
  %0 = lmc.zeros_like %x : tensor<?x64xf64>
  return %0 : tensor<?x64xf64>
}

// -----

// Tests that mul is one elementwise generic with an arith.mulf body.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @mul
// CHECK-SAME:    (%[[A:.+]]: tensor<?x8xf32>, %[[B:.+]]: tensor<?x8xf32>)
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}) : tensor<?x8xf32>
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[A]], %[[B]] : tensor<?x8xf32>, tensor<?x8xf32>) outs(%[[E]] : tensor<?x8xf32>)
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %[[Y:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[M:.+]] = arith.mulf %[[X]], %[[Y]] : f32
// CHECK-NEXT:      linalg.yield %[[M]] : f32
// CHECK:         return %[[R]]
func.func @mul(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = lmc.mul %a, %b : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Tests that reduce_sum is a generic with `reduction` at the summed loops,
// the output map dropping them, accumulating with arith.addf into a
// zero-filled tensor; over the leading dimensions (a bias gradient) and over
// all of them (a 0-d result).

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[LAST:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG:   #[[NONE:.+]] = affine_map<(d0, d1, d2) -> ()>
// CHECK-LABEL: func.func @reduce_sum
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>)
// CHECK:         %[[E:.+]] = tensor.empty() : tensor<64xf32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]] : tensor<64xf32>)
// CHECK-NEXT:    %[[R0:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[LAST]]], iterator_types = ["reduction", "reduction", "parallel"]}
// CHECK-SAME:      ins(%[[X]] : tensor<?x?x64xf32>) outs(%[[F]] : tensor<64xf32>)
// CHECK-NEXT:    ^bb0(%[[IN:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[IN]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         %[[E1:.+]] = tensor.empty() : tensor<f32>
// CHECK:         %[[F1:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[E1]] : tensor<f32>)
// CHECK-NEXT:    %[[R1:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[NONE]]], iterator_types = ["reduction", "reduction", "reduction"]}
// CHECK-SAME:      ins(%[[X]] : tensor<?x?x64xf32>) outs(%[[F1]] : tensor<f32>)
// CHECK:         return %[[R0]], %[[R1]]
func.func @reduce_sum(%x: tensor<?x?x64xf32>) -> (tensor<64xf32>, tensor<f32>) {
  %0 = lmc.reduce_sum %x dims [0, 1] : tensor<?x?x64xf32>
  %1 = lmc.reduce_sum %x dims [0, 1, 2] : tensor<?x?x64xf32>
  return %0, %1 : tensor<64xf32>, tensor<f32>
}

// -----

// Tests that broadcast is a generic over the shape of `like` that reads the
// input through a map without the broadcast dimensions (here the middle
// one) and yields it.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[SKIP1:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @broadcast
// CHECK-SAME:    (%[[IN:.+]]: tensor<2x64xf32>, %[[LIKE:.+]]: tensor<2x?x64xf32>)
// CHECK:         %[[T:.+]] = tensor.dim %[[LIKE]], %{{.+}} : tensor<2x?x64xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty(%[[T]]) : tensor<2x?x64xf32>
// CHECK-NEXT:    %[[R:.+]] = linalg.generic {indexing_maps = [#[[SKIP1]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[IN]] : tensor<2x64xf32>) outs(%[[E]] : tensor<2x?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      linalg.yield %[[V]] : f32
// CHECK:         return %[[R]]
func.func @broadcast(%b: tensor<2x64xf32>, %x: tensor<2x?x64xf32>) -> tensor<2x?x64xf32> {
  %0 = lmc.broadcast %b like %x dims [1] : tensor<2x64xf32>, tensor<2x?x64xf32>
  return %0 : tensor<2x?x64xf32>
}

// -----

// Tests that transpose is linalg.transpose swapping the last two
// dimensions, into an empty tensor with the swapped sizes.

// CHECK-LABEL: func.func @transpose
// CHECK-SAME:    (%[[X:.+]]: tensor<?x4x?xf32>)
// CHECK-DAG:     %[[D0:.+]] = tensor.dim %[[X]], %c0 : tensor<?x4x?xf32>
// CHECK-DAG:     %[[D2:.+]] = tensor.dim %[[X]], %c2 : tensor<?x4x?xf32>
// CHECK:         %[[E:.+]] = tensor.empty(%[[D0]], %[[D2]]) : tensor<?x?x4xf32>
// CHECK-NEXT:    %[[T:.+]] = linalg.transpose ins(%[[X]] : tensor<?x4x?xf32>) outs(%[[E]] : tensor<?x?x4xf32>) permutation = [0, 2, 1]
// CHECK-NEXT:    return %[[T]]
func.func @transpose(%x: tensor<?x4x?xf32>) -> tensor<?x?x4xf32> {
  %0 = lmc.transpose %x : tensor<?x4x?xf32>
  return %0 : tensor<?x?x4xf32>
}

// -----

// Tests that flatten is a tensor.collapse_shape of the leading dimensions,
// and that of a matrix keeps both dimensions.

// CHECK-LABEL: func.func @flatten
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[Y:.+]]: tensor<2x3x4x5xf64>, %[[M:.+]]: tensor<4x8xf32>)
// CHECK-NEXT:    %[[F0:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
// CHECK-NEXT:    %[[F1:.+]] = tensor.collapse_shape %[[Y]] {{\[}}[0, 1, 2], [3]] : tensor<2x3x4x5xf64> into tensor<24x5xf64>
// CHECK-NEXT:    %[[F2:.+]] = tensor.collapse_shape %[[M]] {{\[}}[0], [1]] : tensor<4x8xf32> into tensor<4x8xf32>
// CHECK-NEXT:    return %[[F0]], %[[F1]], %[[F2]]
func.func @flatten(%x: tensor<?x?x64xf32>, %y: tensor<2x3x4x5xf64>, %m: tensor<4x8xf32>)
    -> (tensor<?x64xf32>, tensor<24x5xf64>, tensor<4x8xf32>) {
  %0 = lmc.flatten %x : tensor<?x?x64xf32>
  %1 = lmc.flatten %y : tensor<2x3x4x5xf64>
  %2 = lmc.flatten %m : tensor<4x8xf32>
  return %0, %1, %2 : tensor<?x64xf32>, tensor<24x5xf64>, tensor<4x8xf32>
}

// -----

// Tests that unflatten is a tensor.expand_shape of the rows into the leading
// dimensions, with the run-time sizes of `like`; with more than one dynamic
// leading size it is a tensor.reshape by a shape tensor instead (upstream
// expand-strided-metadata crashes on the expand_shape).

// CHECK-LABEL: func.func @unflatten
// CHECK-SAME:    (%[[F:.+]]: tensor<?x64xf32>, %[[LIKE:.+]]: tensor<?x?x64xf32>, %[[G:.+]]: tensor<6x5xf64>, %[[L2:.+]]: tensor<2x3x5xf64>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[LIKE]], %c0 : tensor<?x?x64xf32>
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[LIKE]], %c1 : tensor<?x?x64xf32>
// CHECK:         %[[SHAPE:.+]] = tensor.from_elements %[[B]], %[[T]], %{{.+}} : tensor<3xindex>
// CHECK:         %[[U0:.+]] = tensor.reshape %[[F]](%[[SHAPE]]) : (tensor<?x64xf32>, tensor<3xindex>) -> tensor<?x?x64xf32>
// CHECK:         %[[U1:.+]] = tensor.expand_shape %[[G]] {{\[}}[0, 1], [2]] output_shape [2, 3, 5] : tensor<6x5xf64> into tensor<2x3x5xf64>
// CHECK-NEXT:    return %[[U0]], %[[U1]]
func.func @unflatten(%f: tensor<?x64xf32>, %x: tensor<?x?x64xf32>, %g: tensor<6x5xf64>, %l: tensor<2x3x5xf64>)
    -> (tensor<?x?x64xf32>, tensor<2x3x5xf64>) {
  %0 = lmc.unflatten %f like %x : tensor<?x64xf32>, tensor<?x?x64xf32>
  %1 = lmc.unflatten %g like %l : tensor<6x5xf64>, tensor<2x3x5xf64>
  return %0, %1 : tensor<?x?x64xf32>, tensor<2x3x5xf64>
}

// -----

// Tests that concat inserts each operand into an empty tensor at
// consecutive offsets of the last dimension (0, 64, 128).

// CHECK-LABEL: func.func @concat
// CHECK-SAME:    (%[[Q:.+]]: tensor<?x?x64xf32>, %[[K:.+]]: tensor<?x?x64xf32>, %[[V:.+]]: tensor<?x?x64xf32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[Q]], %c0 : tensor<?x?x64xf32>
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[Q]], %c1 : tensor<?x?x64xf32>
// CHECK:         %[[E:.+]] = tensor.empty(%[[B]], %[[T]]) : tensor<?x?x192xf32>
// CHECK-NEXT:    %[[I0:.+]] = tensor.insert_slice %[[Q]] into %[[E]][0, 0, 0] [%[[B]], %[[T]], 64] [1, 1, 1] : tensor<?x?x64xf32> into tensor<?x?x192xf32>
// CHECK-NEXT:    %[[I1:.+]] = tensor.insert_slice %[[K]] into %[[I0]][0, 0, 64] [%[[B]], %[[T]], 64] [1, 1, 1] : tensor<?x?x64xf32> into tensor<?x?x192xf32>
// CHECK-NEXT:    %[[I2:.+]] = tensor.insert_slice %[[V]] into %[[I1]][0, 0, 128] [%[[B]], %[[T]], 64] [1, 1, 1] : tensor<?x?x64xf32> into tensor<?x?x192xf32>
// CHECK-NEXT:    return %[[I2]]
func.func @concat(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>) -> tensor<?x?x192xf32> {
  %0 = lmc.concat %q, %k, %v : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  return %0 : tensor<?x?x192xf32>
}

// -----

// Tests that the tanh gelu_grad multiplies the gradient by the derivative of
// the tanh approximation: with u = k (x + c x^3), t = tanh(u),
// 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), k = sqrt(2/pi),
// c = 0.044715 (3 c = 0.134145).

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @gelu_grad_tanh
// CHECK-SAME:    (%[[XA:.+]]: tensor<?x8xf32>, %[[DYA:.+]]: tensor<?x8xf32>)
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[XA]], %[[DYA]] : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %[[G:.+]]: f32, %{{.+}}: f32):
// CHECK-DAG:       %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG:       %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:       %[[K:.+]] = arith.constant 0.797884{{[0-9]*}} : f32
// CHECK-DAG:       %[[C:.+]] = arith.constant 4.471500e-02 : f32
// CHECK-DAG:       %[[C3:.+]] = arith.constant 1.341450e-01 : f32
// CHECK-DAG:       %[[X2:.+]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK-DAG:       %[[X3:.+]] = arith.mulf %[[X2]], %[[X]] : f32
// CHECK-DAG:       %[[CX3:.+]] = arith.mulf %[[C]], %[[X3]] : f32
// CHECK-DAG:       %[[INNER:.+]] = arith.addf %[[X]], %[[CX3]] : f32
// CHECK-DAG:       %[[U:.+]] = arith.mulf %[[K]], %[[INNER]] : f32
// CHECK-DAG:       %[[T:.+]] = math.tanh %[[U]] : f32
// CHECK-DAG:       %[[C3X2:.+]] = arith.mulf %[[C3]], %[[X2]] : f32
// CHECK-DAG:       %[[DU0:.+]] = arith.addf %[[ONE]], %[[C3X2]] : f32
// CHECK-DAG:       %[[DU:.+]] = arith.mulf %[[K]], %[[DU0]] : f32
// CHECK-DAG:       %[[T2:.+]] = arith.mulf %[[T]], %[[T]] : f32
// CHECK-DAG:       %[[SECH2:.+]] = arith.subf %[[ONE]], %[[T2]] : f32
// CHECK-DAG:       %[[ONEPT:.+]] = arith.addf %[[ONE]], %[[T]] : f32
// CHECK-DAG:       %[[LEFT:.+]] = arith.mulf %[[HALF]], %[[ONEPT]] : f32
// CHECK-DAG:       %[[SD:.+]] = arith.mulf %[[SECH2]], %[[DU]] : f32
// CHECK-DAG:       %[[HX:.+]] = arith.mulf %[[HALF]], %[[X]] : f32
// CHECK-DAG:       %[[RIGHT:.+]] = arith.mulf %[[HX]], %[[SD]] : f32
// CHECK:           %[[D:.+]] = arith.addf %[[LEFT]], %[[RIGHT]] : f32
// CHECK-NEXT:      %[[R:.+]] = arith.mulf %[[G]], %[[D]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @gelu_grad_tanh(%x: tensor<?x8xf32>, %dy: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = lmc.gelu_grad %x, %dy tanh : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Tests that the exact gelu_grad multiplies the gradient by
// Phi(x) + x phi(x) = 0.5 (1 + erf(x / sqrt(2))) + x exp(-x^2 / 2) / sqrt(2 pi),
// in f64.

// CHECK-LABEL: func.func @gelu_grad_exact
// CHECK:         linalg.generic
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f64, %[[G:.+]]: f64, %{{.+}}: f64):
// CHECK-DAG:       %[[HALF:.+]] = arith.constant 5.000000e-01 : f64
// CHECK-DAG:       %[[ONE:.+]] = arith.constant 1.000000e+00 : f64
// CHECK-DAG:       %[[RSQRT2:.+]] = arith.constant 0.70710678118654{{[0-9]*}} : f64
// CHECK-DAG:       %[[MHALF:.+]] = arith.constant -5.000000e-01 : f64
// CHECK-DAG:       %[[RSQRT2PI:.+]] = arith.constant 0.39894228040143{{[0-9]*}} : f64
// CHECK-DAG:       %[[X2:.+]] = arith.mulf %[[X]], %[[X]] : f64
// CHECK-DAG:       %[[XS:.+]] = arith.mulf %[[X]], %[[RSQRT2]] : f64
// CHECK-DAG:       %[[ERF:.+]] = math.erf %[[XS]] : f64
// CHECK-DAG:       %[[ONEPE:.+]] = arith.addf %[[ONE]], %[[ERF]] : f64
// CHECK-DAG:       %[[CDF:.+]] = arith.mulf %[[HALF]], %[[ONEPE]] : f64
// CHECK-DAG:       %[[EXPARG:.+]] = arith.mulf %[[MHALF]], %[[X2]] : f64
// CHECK-DAG:       %[[EXP:.+]] = math.exp %[[EXPARG]] : f64
// CHECK-DAG:       %[[PDF:.+]] = arith.mulf %[[RSQRT2PI]], %[[EXP]] : f64
// CHECK-DAG:       %[[XPDF:.+]] = arith.mulf %[[X]], %[[PDF]] : f64
// CHECK:           %[[D:.+]] = arith.addf %[[CDF]], %[[XPDF]] : f64
// CHECK-NEXT:      %[[R:.+]] = arith.mulf %[[G]], %[[D]] : f64
// CHECK-NEXT:      linalg.yield %[[R]] : f64
func.func @gelu_grad_exact(%x: tensor<4x8xf64>, %dy: tensor<4x8xf64>) -> tensor<4x8xf64> {
  %0 = lmc.gelu_grad %x, %dy exact : tensor<4x8xf64>
  return %0 : tensor<4x8xf64>
}

// -----

// Tests that layer_norm_grad recomputes the row statistics (the row sum of x
// and the row sum of squared deviations, as in the forward lowering), takes
// the row sums of dy w and of dy w xhat, then dx = rstd (dy w - mean(dy w) -
// xhat mean(dy w xhat)) elementwise, and the weight and bias gradients as
// sums over the rows (loops 0 and 1 are reductions) of dy xhat and dy. The
// mean uses 1/C = 1/64 and rstd = rsqrt(var + eps).

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[CHAN:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @layer_norm_grad
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64xf32>, %[[DY:.+]]: tensor<?x?x64xf32>)
// CHECK-DAG:     %[[INVC:.+]] = arith.constant 1.562500e-02 : f32
// CHECK-DAG:     %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// Row sum of x.
// CHECK:         %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]] : tensor<?x?x64xf32>) outs(%{{.+}} : tensor<?x?xf32>)
// CHECK:           arith.addf
// Row sum of squared deviations.
// CHECK:         %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]], %[[SUM]] : tensor<?x?x64xf32>, tensor<?x?xf32>)
// CHECK-NEXT:    ^bb0(%[[XV:.+]]: f32, %[[SV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[MEAN:.+]] = arith.mulf %[[SV]], %[[INVC]] : f32
// CHECK-NEXT:      %[[DEV:.+]] = arith.subf %[[XV]], %[[MEAN]] : f32
// CHECK-NEXT:      %[[DEV2:.+]] = arith.mulf %[[DEV]], %[[DEV]] : f32
// CHECK-NEXT:      %[[NEW:.+]] = arith.addf %[[DEV2]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[NEW]] : f32
// Row sum of dy w.
// CHECK:         %[[SUMG:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[CHAN]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[DY]], %[[W]] : tensor<?x?x64xf32>, tensor<64xf32>)
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[WV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[GW:.+]] = arith.mulf %[[G]], %[[WV]] : f32
// CHECK-NEXT:      %[[NEW:.+]] = arith.addf %[[GW]], %[[ACC]] : f32
// Row sum of dy w xhat.
// CHECK:         %[[SUMGX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[CHAN]], #[[ID3]], #[[ROW]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[DY]], %[[W]], %[[X]], %[[SUM]], %[[SQ]] :
// CHECK:           math.rsqrt
// dx.
// CHECK:         %[[DX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[CHAN]], #[[ID3]], #[[ROW]], #[[ROW]], #[[ROW]], #[[ROW]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[DY]], %[[W]], %[[X]], %[[SUM]], %[[SQ]], %[[SUMG]], %[[SUMGX]] :
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[WV:.+]]: f32, %[[XV:.+]]: f32, %[[SV:.+]]: f32, %[[QV:.+]]: f32, %[[SG:.+]]: f32, %[[SGX:.+]]: f32, %{{.+}}: f32):
// CHECK-DAG:       %[[MEAN:.+]] = arith.mulf %[[SV]], %[[INVC]] : f32
// CHECK-DAG:       %[[VAR:.+]] = arith.mulf %[[QV]], %[[INVC]] : f32
// CHECK-DAG:       %[[VE:.+]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK-DAG:       %[[RSTD:.+]] = math.rsqrt %[[VE]] : f32
// CHECK-DAG:       %[[XC:.+]] = arith.subf %[[XV]], %[[MEAN]] : f32
// CHECK-DAG:       %[[XHAT:.+]] = arith.mulf %[[XC]], %[[RSTD]] : f32
// CHECK-DAG:       %[[GW:.+]] = arith.mulf %[[G]], %[[WV]] : f32
// CHECK-DAG:       %[[MGX:.+]] = arith.mulf %[[SGX]], %[[INVC]] : f32
// CHECK-DAG:       %[[XMGX:.+]] = arith.mulf %[[XHAT]], %[[MGX]] : f32
// CHECK-DAG:       %[[MG:.+]] = arith.mulf %[[SG]], %[[INVC]] : f32
// CHECK-DAG:       %[[T0:.+]] = arith.subf %[[GW]], %[[MG]] : f32
// CHECK-DAG:       %[[T1:.+]] = arith.subf %[[T0]], %[[XMGX]] : f32
// CHECK:           %[[R:.+]] = arith.mulf %[[RSTD]], %[[T1]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
// dw: sum over the rows of dy xhat.
// CHECK:         %[[DW:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ID3]], #[[ROW]], #[[ROW]], #[[CHAN]]], iterator_types = ["reduction", "reduction", "parallel"]}
// CHECK-SAME:      ins(%[[DY]], %[[X]], %[[SUM]], %[[SQ]] :
// CHECK-SAME:      outs(%{{.+}} : tensor<64xf32>)
// CHECK:           math.rsqrt
// db: sum over the rows of dy.
// CHECK:         %[[DB:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[CHAN]]], iterator_types = ["reduction", "reduction", "parallel"]}
// CHECK-SAME:      ins(%[[DY]] : tensor<?x?x64xf32>) outs(%{{.+}} : tensor<64xf32>)
// CHECK:         return %[[DX]], %[[DW]], %[[DB]]
func.func @layer_norm_grad(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) {
  %dx, %dw, %db = lmc.layer_norm_grad %x, %w, %dy eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32>
  return %dx, %dw, %db : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>
}

// -----

// Tests that rms_norm_grad recomputes the row sum of x^2 (as in the forward
// lowering), takes the row sum of dy w x, then dx = r (dy w - x r^2 sum(dy w
// x) / C) elementwise with r = rsqrt(sum(x^2) / C + eps), and the weight
// gradient as the sum over the rows (loops 0 and 1 are reductions) of
// dy x r.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[CHAN:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @rms_norm_grad
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64xf32>, %[[DY:.+]]: tensor<?x?x64xf32>)
// CHECK-DAG:     %[[INVC:.+]] = arith.constant 1.562500e-02 : f32
// CHECK-DAG:     %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// CHECK:         %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]] : tensor<?x?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[XV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[X2:.+]] = arith.mulf %[[XV]], %[[XV]] : f32
// CHECK-NEXT:      arith.addf %[[X2]], %[[ACC]] : f32
// CHECK:         %[[SGX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[CHAN]], #[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[DY]], %[[W]], %[[X]] :
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[WV:.+]]: f32, %[[XV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[GW:.+]] = arith.mulf %[[G]], %[[WV]] : f32
// CHECK-NEXT:      %[[GWX:.+]] = arith.mulf %[[GW]], %[[XV]] : f32
// CHECK-NEXT:      arith.addf %[[GWX]], %[[ACC]] : f32
// CHECK:         %[[DX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[CHAN]], #[[ID3]], #[[ROW]], #[[ROW]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[DY]], %[[W]], %[[X]], %[[SQ]], %[[SGX]] :
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[WV:.+]]: f32, %[[XV:.+]]: f32, %[[QV:.+]]: f32, %[[SV:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[MS:.+]] = arith.mulf %[[QV]], %[[INVC]] : f32
// CHECK-NEXT:      %[[MSE:.+]] = arith.addf %[[MS]], %[[EPS]] : f32
// CHECK-NEXT:      %[[R:.+]] = math.rsqrt %[[MSE]] : f32
// CHECK-NEXT:      %[[GW:.+]] = arith.mulf %[[G]], %[[WV]] : f32
// CHECK-NEXT:      %[[MGX:.+]] = arith.mulf %[[SV]], %[[INVC]] : f32
// CHECK-NEXT:      %[[R2:.+]] = arith.mulf %[[R]], %[[R]] : f32
// CHECK-NEXT:      %[[K:.+]] = arith.mulf %[[R2]], %[[MGX]] : f32
// CHECK-NEXT:      %[[XK:.+]] = arith.mulf %[[XV]], %[[K]] : f32
// CHECK-NEXT:      %[[T:.+]] = arith.subf %[[GW]], %[[XK]] : f32
// CHECK-NEXT:      %[[D:.+]] = arith.mulf %[[R]], %[[T]] : f32
// CHECK-NEXT:      linalg.yield %[[D]] : f32
// CHECK:         %[[DW:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ID3]], #[[ROW]], #[[CHAN]]], iterator_types = ["reduction", "reduction", "parallel"]}
// CHECK-SAME:      ins(%[[DY]], %[[X]], %[[SQ]] :
// CHECK:           math.rsqrt
// CHECK:         return %[[DX]], %[[DW]]
func.func @rms_norm_grad(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<64xf32>) {
  %dx, %dw = lmc.rms_norm_grad %x, %w, %dy eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32>
  return %dx, %dw : tensor<?x?x64xf32>, tensor<64xf32>
}

// -----

// Tests that softmax_grad takes the row sum of y g (a reduction over the
// last loop into a zero-filled [B, H, T] tensor), then y (g - sum)
// elementwise.

// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @softmax_grad
// CHECK-SAME:    (%[[Y:.+]]: tensor<?x2x?x?xf32>, %[[G:.+]]: tensor<?x2x?x?xf32>)
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x2x?xf32>
// CHECK:         %[[F:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[E]] : tensor<?x2x?xf32>)
// CHECK-NEXT:    %[[DOT:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[Y]], %[[G]] : tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>) outs(%[[F]] : tensor<?x2x?xf32>)
// CHECK-NEXT:    ^bb0(%[[YV:.+]]: f32, %[[GV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[P:.+]] = arith.mulf %[[YV]], %[[GV]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[P]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]], #[[ROW]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[Y]], %[[G]], %[[DOT]] : tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>, tensor<?x2x?xf32>)
// CHECK-NEXT:    ^bb0(%[[YV:.+]]: f32, %[[GV:.+]]: f32, %[[DV:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[GV]], %[[DV]] : f32
// CHECK-NEXT:      %[[M:.+]] = arith.mulf %[[YV]], %[[D]] : f32
// CHECK-NEXT:      linalg.yield %[[M]] : f32
// CHECK:         return %[[R]]
func.func @softmax_grad(%y: tensor<?x2x?x?xf32>, %dy: tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32> {
  %0 = lmc.softmax_grad %y, %dy : tensor<?x2x?x?xf32>
  return %0 : tensor<?x2x?x?xf32>
}

// -----

// Tests that embedding_grad is a dense 4-loop reduction (v, c, b, t) into a
// zero-filled static table: grad read at (b, t, c), ids at (b, t), the
// result at (v, c); the body adds grad where ids[b, t] == v (linalg.index 0)
// and keeps the accumulator elsewhere (cmpi + select).

// CHECK-DAG:   #[[GRAD:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3, d1)>
// CHECK-DAG:   #[[IDS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-LABEL: func.func @embedding_grad
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>, %[[TOK:.+]]: tensor<?x?xi32>)
// CHECK:         %[[E:.+]] = tensor.empty() : tensor<256x64xf32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]] : tensor<256x64xf32>)
// CHECK-NEXT:    %[[R:.+]] = linalg.generic {indexing_maps = [#[[GRAD]], #[[IDS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
// CHECK-SAME:      ins(%[[DX]], %[[TOK]] : tensor<?x?x64xf32>, tensor<?x?xi32>) outs(%[[F]] : tensor<256x64xf32>)
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[ID:.+]]: i32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[V:.+]] = linalg.index 0 : index
// CHECK-NEXT:      %[[IDX:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK-NEXT:      %[[HIT:.+]] = arith.cmpi eq, %[[IDX]], %[[V]] : index
// CHECK-NEXT:      %[[SUM:.+]] = arith.addf %[[ACC]], %[[G]] : f32
// CHECK-NEXT:      %[[SEL:.+]] = arith.select %[[HIT]], %[[SUM]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[SEL]] : f32
// CHECK:         return %[[R]]
func.func @embedding_grad(%dx: tensor<?x?x64xf32>, %tokens: tensor<?x?xi32>) -> tensor<256x64xf32> {
  %0 = lmc.embedding_grad %dx[%tokens] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  return %0 : tensor<256x64xf32>
}

// -----

// Tests that embedding_grad with an offset passes it as a third, scalar
// input (where convert-lmc-to-runtime finds it) and compares ids - offset
// with the row.

// CHECK-DAG:   #[[GRAD:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3, d1)>
// CHECK-DAG:   #[[IDS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG:   #[[SCALAR:.+]] = affine_map<(d0, d1, d2, d3) -> ()>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-LABEL: func.func @embedding_grad_offset
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>, %[[TOK:.+]]: tensor<?x?xi32>, %[[OFF:.+]]: index)
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[GRAD]], #[[IDS]], #[[SCALAR]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
// CHECK-SAME:      ins(%[[DX]], %[[TOK]], %[[OFF]] : tensor<?x?x64xf32>, tensor<?x?xi32>, index) outs(%{{.+}} : tensor<128x64xf32>)
// CHECK-SAME:      lmc.library_call = {kernel = "embedding_grad"}
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[ID:.+]]: i32, %[[O:.+]]: index, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[V:.+]] = linalg.index 0 : index
// CHECK-NEXT:      %[[IDX:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK-NEXT:      %[[ROW:.+]] = arith.subi %[[IDX]], %[[O]] : index
// CHECK-NEXT:      %[[HIT:.+]] = arith.cmpi eq, %[[ROW]], %[[V]] : index
// CHECK-NEXT:      %[[SUM:.+]] = arith.addf %[[ACC]], %[[G]] : f32
// CHECK-NEXT:      %[[SEL:.+]] = arith.select %[[HIT]], %[[SUM]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[SEL]] : f32
// CHECK:         return %[[R]]
func.func @embedding_grad_offset(%dx: tensor<?x?x64xf32>, %tokens: tensor<?x?xi32>, %off: index) -> tensor<128x64xf32> {
  %0 = lmc.embedding_grad %dx[%tokens] offset(%off) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
  return %0 : tensor<128x64xf32>
}

// -----

// Tests that embedding_grad into an accumulator reduces into it: the
// accumulator is the loops' init, no zero fill.

// CHECK-LABEL: func.func @embedding_grad_into
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>, %[[TOK:.+]]: tensor<?x?xi32>, %[[ACC:.+]]: tensor<256x64xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         %[[R:.+]] = linalg.generic
// CHECK-SAME:      ins(%[[DX]], %[[TOK]] : tensor<?x?x64xf32>, tensor<?x?xi32>) outs(%[[ACC]] : tensor<256x64xf32>)
// CHECK-SAME:      lmc.library_call = {kernel = "embedding_grad"}
// CHECK:         return %[[R]]
func.func @embedding_grad_into(%dx: tensor<?x?x64xf32>, %tokens: tensor<?x?xi32>, %acc: tensor<256x64xf32>) -> tensor<256x64xf32> {
  %0 = lmc.embedding_grad %dx[%tokens] into(%acc) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  return %0 : tensor<256x64xf32>
}

// -----

// Tests embedding_grad with i64 ids and f64: the same loops.

// CHECK-LABEL: func.func @embedding_grad_i64
// CHECK:         linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
// CHECK-SAME:      ins(%{{.+}}, %{{.+}} : tensor<2x5x4xf64>, tensor<2x5xi64>) outs(%{{.+}} : tensor<10x4xf64>)
// CHECK-NEXT:    ^bb0(%{{.+}}: f64, %[[ID:.+]]: i64, %{{.+}}: f64):
// CHECK-NEXT:      linalg.index 0 : index
// CHECK-NEXT:      arith.index_cast %[[ID]] : i64 to index
func.func @embedding_grad_i64(%dx: tensor<2x5x4xf64>, %ids: tensor<2x5xi64>) -> tensor<10x4xf64> {
  %0 = lmc.embedding_grad %dx[%ids] : tensor<2x5x4xf64>, tensor<2x5xi64> -> tensor<10x4xf64>
  return %0 : tensor<10x4xf64>
}

// -----

// Tests that position_embedding_grad sums grad over the batch (loops (t, c,
// b), grad read at (b, t, c)) into a zero-filled [T, C] tensor, then inserts
// it into the first T rows of a zero-filled [context, C] table.

// CHECK-DAG:   #[[GRAD:.+]] = affine_map<(d0, d1, d2) -> (d2, d0, d1)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @position_embedding_grad
// CHECK-SAME:    (%[[DX:.+]]: tensor<?x?x64xf32>)
// CHECK:         %[[T:.+]] = tensor.dim %[[DX]], %c1 : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty(%[[T]]) : tensor<?x64xf32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]] : tensor<?x64xf32>)
// CHECK-NEXT:    %[[ROWS:.+]] = linalg.generic {indexing_maps = [#[[GRAD]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[DX]] : tensor<?x?x64xf32>) outs(%[[F]] : tensor<?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[G:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[G]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         %[[TE:.+]] = tensor.empty() : tensor<128x64xf32>
// CHECK-NEXT:    %[[TZ:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[TABLE:.+]] = linalg.fill ins(%[[TZ]] : f32) outs(%[[TE]] : tensor<128x64xf32>)
// CHECK-NEXT:    %[[R:.+]] = tensor.insert_slice %[[ROWS]] into %[[TABLE]][0, 0] [%[[T]], 64] [1, 1] : tensor<?x64xf32> into tensor<128x64xf32>
// CHECK-NEXT:    return %[[R]]
func.func @position_embedding_grad(%dx: tensor<?x?x64xf32>) -> tensor<128x64xf32> {
  %0 = lmc.position_embedding_grad %dx : tensor<?x?x64xf32> -> tensor<128x64xf32>
  return %0 : tensor<128x64xf32>
}

// -----

// Tests that cross_entropy_grad computes the row max (from -inf) and the row
// sum of exp(x - max), the scale grad / N with N the product of the target
// dimensions (as an unsigned integer converted to float), then
// (softmax - onehot(target)) * scale elementwise, the one-hot a select of 1
// or 0 on target == linalg.index 2.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @cross_entropy_grad
// CHECK-SAME:    (%[[L:.+]]: tensor<?x?x256xf32>, %[[T:.+]]: tensor<?x?xi32>, %[[DL:.+]]: tensor<f32>)
// CHECK:         %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK:         %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:           arith.maximumf
// CHECK:         %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[L]], %[[MAX]] :
// CHECK:           math.exp
// CHECK:         %[[ONEI:.+]] = arith.constant 1 : index
// CHECK:         %[[B:.+]] = tensor.dim %[[T]], %{{.+}} : tensor<?x?xi32>
// CHECK-NEXT:    %[[N0:.+]] = arith.muli %[[ONEI]], %[[B]] : index
// CHECK:         %[[TT:.+]] = tensor.dim %[[T]], %{{.+}} : tensor<?x?xi32>
// CHECK-NEXT:    %[[N:.+]] = arith.muli %[[N0]], %[[TT]] : index
// CHECK-NEXT:    %[[NI:.+]] = arith.index_castui %[[N]] : index to i64
// CHECK-NEXT:    %[[NF:.+]] = arith.uitofp %[[NI]] : i64 to f32
// CHECK-NEXT:    %[[G:.+]] = tensor.extract %[[DL]][] : tensor<f32>
// CHECK-NEXT:    %[[SCALE:.+]] = arith.divf %[[G]], %[[NF]] : f32
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[ROW]], #[[ROW]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[L]], %[[MAX]], %[[SUM]], %[[T]] : tensor<?x?x256xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xi32>)
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %[[M:.+]]: f32, %[[S:.+]]: f32, %[[TGT:.+]]: i32, %{{.+}}: f32):
// CHECK-NEXT:      %[[XM:.+]] = arith.subf %[[X]], %[[M]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[XM]] : f32
// CHECK-NEXT:      %[[P:.+]] = arith.divf %[[E]], %[[S]] : f32
// CHECK-NEXT:      %[[V:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[TI:.+]] = arith.index_cast %[[TGT]] : i32 to index
// CHECK-NEXT:      %[[HIT:.+]] = arith.cmpi eq, %[[TI]], %[[V]] : index
// CHECK-DAG:       %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:       %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK:           %[[OH:.+]] = arith.select %[[HIT]], %[[ONE]], %[[ZERO]] : f32
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[P]], %[[OH]] : f32
// CHECK-NEXT:      %[[RV:.+]] = arith.mulf %[[D]], %[[SCALE]] : f32
// CHECK-NEXT:      linalg.yield %[[RV]] : f32
// CHECK:         return %[[R]]
func.func @cross_entropy_grad(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) -> tensor<?x?x256xf32> {
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return %0 : tensor<?x?x256xf32>
}

// -----

// Tests that cross_entropy_grad with its result stored as bfloat16
// (lmc-bf16-storage) computes in float32 into a bfloat16 tensor, each value
// rounded once (arith.truncf) as it is yielded.

// CHECK-LABEL: func.func @cross_entropy_grad_bf16
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x256xbf16>
// CHECK:         linalg.generic
// CHECK-SAME:      outs(%[[E]] : tensor<?x?x256xbf16>)
// CHECK:           %[[RV:.+]] = arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:      %[[RB:.+]] = arith.truncf %[[RV]] : f32 to bf16
// CHECK-NEXT:      linalg.yield %[[RB]] : bf16
func.func @cross_entropy_grad_bf16(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) -> tensor<?x?x256xbf16> {
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32> -> tensor<?x?x256xbf16>
  return %0 : tensor<?x?x256xbf16>
}

// -----

// Tests that cross_entropy_grad over padded logits (classes(250)) masks the
// padding out of the row max and sum as cross_entropy does, and yields
// exactly 0 in the padding columns (a select on linalg.index 2 < 250).

// CHECK-LABEL: func.func @cross_entropy_grad_padded
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           %[[C1:.+]] = arith.cmpi ult, %{{.+}}, %c250{{.*}} : index
// CHECK-NEXT:      arith.select %[[C1]]
// CHECK-NEXT:      arith.maximumf
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           %[[C2:.+]] = arith.cmpi ult, %{{.+}}, %c250{{.*}} : index
// CHECK-NEXT:      arith.select %[[C2]]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           %[[OH:.+]] = arith.select %{{.+}}, %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:      %[[D:.+]] = arith.subf %{{.+}}, %[[OH]] : f32
// CHECK-NEXT:      %[[RV:.+]] = arith.mulf %[[D]], %{{.+}} : f32
// CHECK-NEXT:      %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[COL:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[N:.+]] = arith.constant 250 : index
// CHECK-NEXT:      %[[IN:.+]] = arith.cmpi ult, %[[COL]], %[[N]] : index
// CHECK-NEXT:      %[[G:.+]] = arith.select %[[IN]], %[[RV]], %[[Z]] : f32
// CHECK-NEXT:      linalg.yield %[[G]] : f32
func.func @cross_entropy_grad_padded(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) -> tensor<?x?x256xf32> {
  %0 = lmc.cross_entropy_grad %l, %t, %d classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return %0 : tensor<?x?x256xf32>
}

// -----

// Tests that adamw computes the bias corrections 1 - beta^t with
// t = step + 1 once outside the loop (math.powf), then one generic over
// identity maps that reads the gradient and writes into the parameter and
// the moments themselves (so that bufferization can update them in place):
// g = grad * grad_scale, m' = beta1 m + (1 - beta1) g,
// v' = beta2 v + (1 - beta2) g^2,
// p' = p - lr (m' / bc1 / (sqrt(v' / bc2) + eps) + wd p), yielding
// (p', m', v').

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @adamw
// CHECK-SAME:    (%[[P:[a-z0-9]+]]: tensor<64x192xf32>, %[[G:[a-z0-9]+]]: tensor<64x192xf32>, %[[M:[a-z0-9]+]]: tensor<64x192xf32>, %[[V:[a-z0-9]+]]: tensor<64x192xf32>,
// CHECK-SAME:    %[[LR:[a-z0-9]+]]: f32, %[[GS:[a-z0-9]+]]: f32, %[[STEP:[a-z0-9]+]]: i64, %[[B1:[a-z0-9]+]]: f32, %[[B2:[a-z0-9]+]]: f32, %[[EPS:[a-z0-9]+]]: f32, %[[WD:[a-z0-9]+]]: f32)
// CHECK-DAG:     %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:     %[[ONEI:.+]] = arith.constant 1 : i64
// CHECK-DAG:     %[[T:.+]] = arith.addi %[[STEP]], %[[ONEI]] : i64
// CHECK-DAG:     %[[TF:.+]] = arith.sitofp %[[T]] : i64 to f32
// CHECK-DAG:     %[[B1T:.+]] = math.powf %[[B1]], %[[TF]] : f32
// CHECK-DAG:     %[[BC1:.+]] = arith.subf %[[ONE]], %[[B1T]] : f32
// CHECK-DAG:     %[[B2T:.+]] = math.powf %[[B2]], %[[TF]] : f32
// CHECK-DAG:     %[[BC2:.+]] = arith.subf %[[ONE]], %[[B2T]] : f32
// CHECK-DAG:     %[[OMB1:.+]] = arith.subf %[[ONE]], %[[B1]] : f32
// CHECK-DAG:     %[[OMB2:.+]] = arith.subf %[[ONE]], %[[B2]] : f32
// CHECK-NOT:     tensor.empty
// CHECK:         %[[R:.+]]:3 = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[G]] : tensor<64x192xf32>)
// CHECK-SAME:      outs(%[[P]], %[[M]], %[[V]] : tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>)
// CHECK-NEXT:    ^bb0(%[[GV:.+]]: f32, %[[PV:.+]]: f32, %[[MV:.+]]: f32, %[[VV:.+]]: f32):
// CHECK-DAG:       %[[GSC:.+]] = arith.mulf %[[GV]], %[[GS]] : f32
// CHECK-DAG:       %[[M1A:.+]] = arith.mulf %[[B1]], %[[MV]] : f32
// CHECK-DAG:       %[[M1B:.+]] = arith.mulf %[[OMB1]], %[[GSC]] : f32
// CHECK-DAG:       %[[MNEW:.+]] = arith.addf %[[M1A]], %[[M1B]] : f32
// CHECK-DAG:       %[[G2:.+]] = arith.mulf %[[GSC]], %[[GSC]] : f32
// CHECK-DAG:       %[[V1A:.+]] = arith.mulf %[[B2]], %[[VV]] : f32
// CHECK-DAG:       %[[V1B:.+]] = arith.mulf %[[OMB2]], %[[G2]] : f32
// CHECK-DAG:       %[[VNEW:.+]] = arith.addf %[[V1A]], %[[V1B]] : f32
// CHECK-DAG:       %[[MHAT:.+]] = arith.divf %[[MNEW]], %[[BC1]] : f32
// CHECK-DAG:       %[[VHAT:.+]] = arith.divf %[[VNEW]], %[[BC2]] : f32
// CHECK-DAG:       %[[SQ:.+]] = math.sqrt %[[VHAT]] : f32
// CHECK-DAG:       %[[DEN:.+]] = arith.addf %[[SQ]], %[[EPS]] : f32
// CHECK-DAG:       %[[UPD:.+]] = arith.divf %[[MHAT]], %[[DEN]] : f32
// CHECK-DAG:       %[[DEC:.+]] = arith.mulf %[[WD]], %[[PV]] : f32
// CHECK-DAG:       %[[TOT:.+]] = arith.addf %[[UPD]], %[[DEC]] : f32
// CHECK-DAG:       %[[STEPV:.+]] = arith.mulf %[[LR]], %[[TOT]] : f32
// CHECK-DAG:       %[[PNEW:.+]] = arith.subf %[[PV]], %[[STEPV]] : f32
// CHECK:           linalg.yield %[[PNEW]], %[[MNEW]], %[[VNEW]] : f32, f32, f32
// CHECK:         return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @adamw(%p: tensor<64x192xf32>, %g: tensor<64x192xf32>, %m: tensor<64x192xf32>, %v: tensor<64x192xf32>,
                 %lr: f32, %s: f32, %t: i64, %b1: f32, %b2: f32, %eps: f32, %wd: f32)
    -> (tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>) {
  %p1, %m1, %v1 = lmc.adamw %p, %g, %m, %v lr(%lr) grad_scale(%s) step(%t)
      betas(%b1, %b2) eps(%eps) weight_decay(%wd) : tensor<64x192xf32>, f32, i64
  return %p1, %m1, %v1 : tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>
}

// -----

// Tests that adamw with a 0-d tensor grad_scale (computed on the device,
// lmc-device-scalars) reads it in the loop: a second input broadcast to
// every element (a map without results), the update unchanged.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[BCAST:.+]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @adamw_device_scale
// CHECK-SAME:    (%[[P:[a-z0-9]+]]: tensor<64x192xf32>, %[[G:[a-z0-9]+]]: tensor<64x192xf32>, %{{.+}}: f32, %[[GS:[a-z0-9]+]]: tensor<f32>, %{{.+}}: i64)
// CHECK-NOT:     tensor.extract
// CHECK:         %[[R:.+]]:3 = linalg.generic {indexing_maps = [#[[ID2]], #[[BCAST]], #[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[G]], %[[GS]] : tensor<64x192xf32>, tensor<f32>)
// CHECK-SAME:      outs(%[[P]], %[[P]], %[[P]] : tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>)
// CHECK-NEXT:    ^bb0(%[[GV:.+]]: f32, %[[SV:.+]]: f32, %[[PV:.+]]: f32, %[[MV:.+]]: f32, %[[VV:.+]]: f32):
// CHECK-NEXT:      %[[GSC:.+]] = arith.mulf %[[GV]], %[[SV]] : f32
// CHECK:           linalg.yield
// CHECK:         return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @adamw_device_scale(%p: tensor<64x192xf32>, %g: tensor<64x192xf32>, %lr: f32, %s: tensor<f32>, %t: i64)
    -> (tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>) {
  %p1, %m1, %v1 = lmc.adamw %p, %g, %p, %p lr(%lr) grad_scale(%s) step(%t)
      betas(%lr, %lr) eps(%lr) weight_decay(%lr) : tensor<64x192xf32>, f32, i64, tensor<f32>
  return %p1, %m1, %v1 : tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>
}

// -----

// Tests adamw on a dynamic f64 vector with an i32 step: the step constant
// has the step's type, the powers follow the parameter's element type, and
// the update writes into its (dynamically sized) operands.

// CHECK-DAG:   #[[ID1:.+]] = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @adamw_f64
// CHECK-SAME:    (%[[P:[a-z0-9]+]]: tensor<?xf64>,
// CHECK-DAG:     %[[ONEI:.+]] = arith.constant 1 : i32
// CHECK-DAG:     %[[T:.+]] = arith.addi %{{.+}}, %[[ONEI]] : i32
// CHECK-DAG:     %[[TF:.+]] = arith.sitofp %[[T]] : i32 to f64
// CHECK-DAG:     math.powf %{{.+}}, %[[TF]] : f64
// CHECK:         linalg.generic {indexing_maps = [#[[ID1]], #[[ID1]], #[[ID1]], #[[ID1]]], iterator_types = ["parallel"]}
// CHECK-SAME:      ins(%[[P]] : tensor<?xf64>) outs(%[[P]], %[[P]], %[[P]] : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>)
// CHECK:           linalg.yield %{{.+}}, %{{.+}}, %{{.+}} : f64, f64, f64
func.func @adamw_f64(%p: tensor<?xf64>, %x: f64, %t: i32) -> (tensor<?xf64>, tensor<?xf64>, tensor<?xf64>) {
  %p1, %m1, %v1 = lmc.adamw %p, %p, %p, %p lr(%x) grad_scale(%x) step(%t)
      betas(%x, %x) eps(%x) weight_decay(%x) : tensor<?xf64>, f64, i32
  return %p1, %m1, %v1 : tensor<?xf64>, tensor<?xf64>, tensor<?xf64>
}

// -----

// Tests that causal_mask `zero` (the gradient of the mask) selects 0.0
// instead of -inf for the future positions.

// CHECK-LABEL: func.func @causal_mask_zero
// CHECK:         linalg.generic
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[I:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[J:.+]] = linalg.index 3 : index
// CHECK-NEXT:      %[[FUT:.+]] = arith.cmpi ugt, %[[J]], %[[I]] : index
// CHECK-NEXT:      %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[R:.+]] = arith.select %[[FUT]], %[[ZERO]], %[[X]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @causal_mask_zero(%s: tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32> {
  %0 = lmc.causal_mask %s zero : tensor<?x2x?x?xf32>
  return %0 : tensor<?x2x?x?xf32>
}

// -----

// Tests that silu_grad is grad * s (1 + x (1 - s)) elementwise, with the
// overflow-free sigmoid s of lmc.silu.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @silu_grad
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f64, %[[G:.+]]: f64, %{{.+}}: f64):
// CHECK-DAG:       %[[ONE:.+]] = arith.constant 1.000000e+00 : f64
// CHECK:           %[[A:.+]] = math.absf %[[X]] : f64
// CHECK-NEXT:      %[[NA:.+]] = arith.negf %[[A]] : f64
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[NA]] : f64
// CHECK-NEXT:      %[[D:.+]] = arith.addf %{{.+}}, %[[E]] : f64
// CHECK-NEXT:      %[[POS:.+]] = arith.divf %{{.+}}, %[[D]] : f64
// CHECK-NEXT:      %[[ZERO:.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      %[[GE:.+]] = arith.cmpf oge, %[[X]], %[[ZERO]] : f64
// CHECK-NEXT:      %[[NEG:.+]] = arith.mulf %[[E]], %[[POS]] : f64
// CHECK-NEXT:      %[[S:.+]] = arith.select %[[GE]], %[[POS]], %[[NEG]] : f64
// CHECK-NEXT:      %[[OMS:.+]] = arith.subf %[[ONE]], %[[S]] : f64
// CHECK-NEXT:      %[[XO:.+]] = arith.mulf %[[X]], %[[OMS]] : f64
// CHECK-NEXT:      %[[P:.+]] = arith.addf %[[ONE]], %[[XO]] : f64
// CHECK-NEXT:      %[[DS:.+]] = arith.mulf %[[S]], %[[P]] : f64
// CHECK-NEXT:      %[[R:.+]] = arith.mulf %[[G]], %[[DS]] : f64
// CHECK-NEXT:      linalg.yield %[[R]] : f64
func.func @silu_grad(%x: tensor<?x256xf64>, %dy: tensor<?x256xf64>) -> tensor<?x256xf64> {
  %0 = lmc.silu_grad %x, %dy : tensor<?x256xf64>
  return %0 : tensor<?x256xf64>
}

// -----

// === static and dynamic sizes mixed ===

// Tests that unflatten lowers when the input and `like` differ in which
// sizes are static (the verifier accepts both, as the sizes may agree at run
// time): dynamic rows into static leading sizes, and static rows into
// dynamic ones. The result is an expand_shape into the result type, with the
// sizes reconciled by a tensor.cast.

// MIXED-LABEL: func.func @unflatten_dynamic_into_static
// MIXED-SAME:    -> tensor<2x7x3xf64>
// MIXED:         tensor.expand_shape
// MIXED:         return %{{.+}} : tensor<2x7x3xf64>
func.func @unflatten_dynamic_into_static(%d: tensor<?x?xf64>, %l: tensor<2x7x3xf64>) -> tensor<2x7x3xf64> {
  %0 = lmc.unflatten %d like %l : tensor<?x?xf64>, tensor<2x7x3xf64>
  return %0 : tensor<2x7x3xf64>
}

// -----

// MIXED-LABEL: func.func @unflatten_static_into_dynamic
// MIXED-SAME:    -> tensor<?x?x64xf32>
// MIXED:         tensor.cast %{{.+}} : tensor<8x64xf32> to tensor<?x64xf32>
// MIXED:         tensor.reshape
// MIXED:         return %{{.+}} : tensor<?x?x64xf32>
func.func @unflatten_static_into_dynamic(%b: tensor<8x64xf32>, %a: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.unflatten %b like %a : tensor<8x64xf32>, tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}
