// RUN: lmc-opt %s -convert-lmc-to-linalg -split-input-file | FileCheck %s
// RUN: lmc-opt %s -convert-lmc-to-linalg=runtime-row-reductions -split-input-file | FileCheck %s --check-prefix=ROWS

// Tests that add is one elementwise linalg.generic over identity maps, with
// dynamic sizes read by tensor.dim and an arith.addf body.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @add
// CHECK-SAME:    (%[[A:.+]]: tensor<?x64xf32>, %[[B:.+]]: tensor<?x64xf32>)
// CHECK:         %[[C0:.+]] = arith.constant 0 : index
// CHECK:         %[[D0:.+]] = tensor.dim %[[A]], %[[C0]] : tensor<?x64xf32>
// CHECK:         %[[E:.+]] = tensor.empty(%[[D0]]) : tensor<?x64xf32>
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[A]], %[[B]] : tensor<?x64xf32>, tensor<?x64xf32>) outs(%[[E]] : tensor<?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %[[Y:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[X]], %[[Y]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         return %[[R]]
// CHECK-NOT:     {{lmc\.[a-z_]+ [^=]}}
func.func @add(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %0 = lmc.add %a, %b : tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Tests that bias_add broadcasts the bias along the last dimension: the bias
// map keeps only the last loop.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[LAST:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @bias_add
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x192xf32>, %[[BIAS:.+]]: tensor<192xf32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[X]], %c0
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[X]], %c1
// CHECK:         %[[E:.+]] = tensor.empty(%[[B]], %[[T]]) : tensor<?x?x192xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[ID3]], #[[LAST]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[X]], %[[BIAS]] : tensor<?x?x192xf32>, tensor<192xf32>) outs(%[[E]] : tensor<?x?x192xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[W:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[V]], %[[W]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
func.func @bias_add(%x: tensor<?x?x192xf32>, %b: tensor<192xf32>) -> tensor<?x?x192xf32> {
  %0 = lmc.bias_add %x, %b : tensor<?x?x192xf32>, tensor<192xf32>
  return %0 : tensor<?x?x192xf32>
}

// -----

// Tests that scale multiplies by the factor as a constant of the element type
// (f64 here), with static shapes needing no tensor.dim.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @scale
// CHECK-SAME:    (%[[X:.+]]: tensor<4x8xf64>)
// CHECK-NOT:     tensor.dim
// CHECK-DAG:     %[[F:.+]] = arith.constant 2.500000e+00 : f64
// CHECK-DAG:     %[[E:.+]] = tensor.empty() : tensor<4x8xf64>
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[X]] : tensor<4x8xf64>) outs(%[[E]] : tensor<4x8xf64>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f64, %{{.+}}: f64):
// CHECK-NEXT:      %[[M:.+]] = arith.mulf %[[V]], %[[F]] : f64
// CHECK-NEXT:      linalg.yield %[[M]] : f64
func.func @scale(%x: tensor<4x8xf64>) -> tensor<4x8xf64> {
  %0 = lmc.scale %x by 2.5 : tensor<4x8xf64>
  return %0 : tensor<4x8xf64>
}

// -----

// Tests that the tanh GELU computes 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// elementwise.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @gelu_tanh
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %{{.+}}: f32):
// CHECK-DAG:       %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG:       %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:       %[[K:.+]] = arith.constant 0.797884{{[0-9]*}} : f32
// CHECK-DAG:       %[[C:.+]] = arith.constant 4.471500e-02 : f32
// CHECK:           %[[X2:.+]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK-NEXT:      %[[X3:.+]] = arith.mulf %[[X]], %[[X2]] : f32
// CHECK-NEXT:      %[[CX3:.+]] = arith.mulf %[[C]], %[[X3]] : f32
// CHECK-NEXT:      %[[U:.+]] = arith.addf %[[X]], %[[CX3]] : f32
// CHECK-NEXT:      %[[KU:.+]] = arith.mulf %[[K]], %[[U]] : f32
// CHECK-NEXT:      %[[T:.+]] = math.tanh %[[KU]] : f32
// CHECK-NEXT:      %[[OPT:.+]] = arith.addf %[[ONE]], %[[T]] : f32
// CHECK-NEXT:      %[[HX:.+]] = arith.mulf %[[HALF]], %[[X]] : f32
// CHECK-NEXT:      %[[Y:.+]] = arith.mulf %[[HX]], %[[OPT]] : f32
// CHECK-NEXT:      linalg.yield %[[Y]] : f32
// CHECK-NOT:     math.erf
func.func @gelu_tanh(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %0 = lmc.gelu %x tanh : tensor<?x256xf32>
  return %0 : tensor<?x256xf32>
}

// -----

// Tests that the exact GELU computes 0.5 x (1 + erf(x / sqrt(2))).

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @gelu_exact
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f64, %{{.+}}: f64):
// CHECK-DAG:       %[[HALF:.+]] = arith.constant 5.000000e-01 : f64
// CHECK-DAG:       %[[ONE:.+]] = arith.constant 1.000000e+00 : f64
// CHECK-DAG:       %[[RSQRT2:.+]] = arith.constant 0.70710678118654{{[0-9]*}} : f64
// CHECK:           %[[XS:.+]] = arith.mulf %[[X]], %[[RSQRT2]] : f64
// CHECK-NEXT:      %[[E:.+]] = math.erf %[[XS]] : f64
// CHECK-NEXT:      %[[OPE:.+]] = arith.addf %[[ONE]], %[[E]] : f64
// CHECK-NEXT:      %[[HX:.+]] = arith.mulf %[[HALF]], %[[X]] : f64
// CHECK-NEXT:      %[[Y:.+]] = arith.mulf %[[HX]], %[[OPE]] : f64
// CHECK-NEXT:      linalg.yield %[[Y]] : f64
// CHECK-NOT:     math.tanh
func.func @gelu_exact(%x: tensor<?x256xf64>) -> tensor<?x256xf64> {
  %0 = lmc.gelu %x exact : tensor<?x256xf64>
  return %0 : tensor<?x256xf64>
}

// -----

// Tests that silu computes x * sigmoid(x) elementwise with the sigmoid in
// its overflow-free form: e = exp(-|x|), 1 / (1 + e) for x >= 0 and
// e / (1 + e) otherwise (exp of a non-positive number never overflows).

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @silu
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[A:.+]] = math.absf %[[X]] : f32
// CHECK-NEXT:      %[[NA:.+]] = arith.negf %[[A]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[NA]] : f32
// CHECK-NEXT:      %[[D:.+]] = arith.addf %[[ONE]], %[[E]] : f32
// CHECK-NEXT:      %[[POS:.+]] = arith.divf %[[ONE]], %[[D]] : f32
// CHECK-NEXT:      %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[GE:.+]] = arith.cmpf oge, %[[X]], %[[ZERO]] : f32
// CHECK-NEXT:      %[[NEG:.+]] = arith.mulf %[[E]], %[[POS]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.select %[[GE]], %[[POS]], %[[NEG]] : f32
// CHECK-NEXT:      %[[Y:.+]] = arith.mulf %[[X]], %[[S]] : f32
// CHECK-NEXT:      linalg.yield %[[Y]] : f32
func.func @silu(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %0 = lmc.silu %x : tensor<?x256xf32>
  return %0 : tensor<?x256xf32>
}

// -----

// Tests that causal_mask selects -inf where the key index (last loop) is
// greater than the query index (second to last loop).

// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @causal_mask
// CHECK:         tensor.empty(%{{.+}}, %{{.+}}, %{{.+}}) : tensor<?x2x?x?xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[I:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[J:.+]] = linalg.index 3 : index
// CHECK-NEXT:      %[[FUT:.+]] = arith.cmpi ugt, %[[J]], %[[I]] : index
// CHECK-NEXT:      %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT:      %[[R:.+]] = arith.select %[[FUT]], %[[NINF]], %[[X]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @causal_mask(%s: tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32> {
  %0 = lmc.causal_mask %s : tensor<?x2x?x?xf32>
  return %0 : tensor<?x2x?x?xf32>
}

// -----

// Tests that embedding gathers table rows: the ids are read through a map
// that drops the channel loop, cast to index and used with tensor.extract.

// CHECK-DAG:   #[[IDS:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @embedding
// CHECK-SAME:    (%[[TABLE:.+]]: tensor<256x64xf32>, %[[IDS_ARG:.+]]: tensor<?x?xi32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[IDS_ARG]], %c0 : tensor<?x?xi32>
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[IDS_ARG]], %c1 : tensor<?x?xi32>
// CHECK:         %[[E:.+]] = tensor.empty(%[[B]], %[[T]]) : tensor<?x?x64xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[IDS]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[IDS_ARG]] : tensor<?x?xi32>) outs(%[[E]] : tensor<?x?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[ID:.+]]: i32, %{{.+}}: f32):
// CHECK-NEXT:      %[[ROW:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK-NEXT:      %[[C:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[V:.+]] = tensor.extract %[[TABLE]][%[[ROW]], %[[C]]] : tensor<256x64xf32>
// CHECK-NEXT:      linalg.yield %[[V]] : f32
func.func @embedding(%table: tensor<256x64xf32>, %ids: tensor<?x?xi32>) -> tensor<?x?x64xf32> {
  %0 = lmc.embedding %table[%ids] : tensor<256x64xf32>, tensor<?x?xi32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that embedding with an offset reads row ids - offset where that lies
// in [0, V) (one unsigned compare) and yields zero elsewhere, reading row 0
// there so that the extract stays in bounds.

// CHECK-LABEL: func.func @embedding_offset
// CHECK-SAME:    (%[[TABLE:.+]]: tensor<128x64xf32>, %[[IDS_ARG:.+]]: tensor<?x?xi32>, %[[OFF:.+]]: index)
// CHECK:         %[[V:.+]] = arith.constant 128 : index
// CHECK-NEXT:    %[[C0:.+]] = arith.constant 0 : index
// CHECK-NEXT:    %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    linalg.generic
// CHECK-SAME:      ins(%[[IDS_ARG]] : tensor<?x?xi32>) outs(%{{.+}} : tensor<?x?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[ID:.+]]: i32, %{{.+}}: f32):
// CHECK-NEXT:      %[[IDX:.+]] = arith.index_cast %[[ID]] : i32 to index
// CHECK-NEXT:      %[[C:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[ROW:.+]] = arith.subi %[[IDX]], %[[OFF]] : index
// CHECK-NEXT:      %[[IN:.+]] = arith.cmpi ult, %[[ROW]], %[[V]] : index
// CHECK-NEXT:      %[[SAFE:.+]] = arith.select %[[IN]], %[[ROW]], %[[C0]] : index
// CHECK-NEXT:      %[[X:.+]] = tensor.extract %[[TABLE]][%[[SAFE]], %[[C]]] : tensor<128x64xf32>
// CHECK-NEXT:      %[[R:.+]] = arith.select %[[IN]], %[[X]], %[[ZERO]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @embedding_offset(%table: tensor<128x64xf32>, %ids: tensor<?x?xi32>, %off: index) -> tensor<?x?x64xf32> {
  %0 = lmc.embedding %table[%ids] offset(%off) : tensor<128x64xf32>, tensor<?x?xi32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that a table with a dynamic number of rows bounds the block by
// tensor.dim.

// CHECK-LABEL: func.func @embedding_offset_dynamic_rows
// CHECK-SAME:    (%[[TABLE:.+]]: tensor<?x8xf64>, %{{.+}}: tensor<2x3xi64>, %{{.+}}: index)
// CHECK:         %[[V:.+]] = tensor.dim %[[TABLE]], %{{.+}} : tensor<?x8xf64>
// CHECK:         linalg.generic
// CHECK:           arith.cmpi ult, %{{.+}}, %[[V]] : index
func.func @embedding_offset_dynamic_rows(%table: tensor<?x8xf64>, %ids: tensor<2x3xi64>, %off: index) -> tensor<2x3x8xf64> {
  %0 = lmc.embedding %table[%ids] offset(%off) : tensor<?x8xf64>, tensor<2x3xi64>
  return %0 : tensor<2x3x8xf64>
}

// -----

// Tests that position_embedding with a dynamic sequence length asserts at run
// time that the length is at most the context (64), then reads row t of the
// table for every (b, t) without any input.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @position_embedding_dynamic
// CHECK-SAME:    (%[[TABLE:.+]]: tensor<64x64xf32>, %[[IDS:.+]]: tensor<?x?xi32>)
// CHECK:         %[[C1:.+]] = arith.constant 1 : index
// CHECK-NEXT:    %[[SEQ:.+]] = tensor.dim %[[IDS]], %[[C1]] : tensor<?x?xi32>
// CHECK-NEXT:    %[[CTX:.+]] = arith.constant 64 : index
// CHECK-NEXT:    %[[OK:.+]] = arith.cmpi ule, %[[SEQ]], %[[CTX]] : index
// CHECK-NEXT:    cf.assert %[[OK]], "lmc.position_embedding: sequence length exceeds the model's context"
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x64xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      outs(%[[E]] : tensor<?x?x64xf32>)
// CHECK-NEXT:    ^bb0(%{{.+}}: f32):
// CHECK-NEXT:      %[[T:.+]] = linalg.index 1 : index
// CHECK-NEXT:      %[[C:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[V:.+]] = tensor.extract %[[TABLE]][%[[T]], %[[C]]] : tensor<64x64xf32>
// CHECK-NEXT:      linalg.yield %[[V]] : f32
func.func @position_embedding_dynamic(%table: tensor<64x64xf32>, %ids: tensor<?x?xi32>) -> tensor<?x?x64xf32> {
  %0 = lmc.position_embedding %table like %ids : tensor<64x64xf32>, tensor<?x?xi32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that position_embedding with a static sequence length (checked by the
// verifier) needs no run-time assertion.

// CHECK-LABEL: func.func @position_embedding_static
// CHECK-NOT:     cf.assert
// CHECK:         tensor.empty(%{{.+}}) : tensor<?x16x64xf32>
// CHECK:         linalg.generic
// CHECK:           linalg.index 1 : index
// CHECK:           tensor.extract %{{.+}}[%{{.+}}, %{{.+}}] : tensor<64x64xf32>
// CHECK-NOT:     cf.assert
// CHECK:         return
func.func @position_embedding_static(%table: tensor<64x64xf32>, %ids: tensor<?x16xi32>) -> tensor<?x16x64xf32> {
  %0 = lmc.position_embedding %table like %ids : tensor<64x64xf32>, tensor<?x16xi32>
  return %0 : tensor<?x16x64xf32>
}

// -----

// Tests that layer_norm is three generics: the row sums, the row sums of
// squared deviations from the mean (both reductions over the last loop into
// zero-filled tensors), then the elementwise
// (x - mean) * rsqrt(var + eps) * w + b with mean and var = sum / C (C = 64).

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[LAST:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64xf32>, %[[B:.+]]: tensor<64xf32>)
// CHECK-DAG:     %[[INVC:.+]] = arith.constant 1.562500e-02 : f32
// CHECK-DAG:     %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// CHECK:         %[[Z1:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F1:.+]] = linalg.fill ins(%[[Z1]] : f32) outs(%{{.+}} : tensor<?x?xf32>) -> tensor<?x?xf32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]] : tensor<?x?x64xf32>) outs(%[[F1]] : tensor<?x?xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[V]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         %[[Z2:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F2:.+]] = linalg.fill ins(%[[Z2]] : f32) outs(%{{.+}} : tensor<?x?xf32>) -> tensor<?x?xf32>
// CHECK-NEXT:    %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]], %[[SUM]] : tensor<?x?x64xf32>, tensor<?x?xf32>) outs(%[[F2]] : tensor<?x?xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[RS:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[MEAN:.+]] = arith.mulf %[[RS]], %[[INVC]] : f32
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[V]], %[[MEAN]] : f32
// CHECK-NEXT:      %[[D2:.+]] = arith.mulf %[[D]], %[[D]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[ACC]], %[[D2]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[ROW]], #[[LAST]], #[[LAST]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME:      ins(%[[X]], %[[SUM]], %[[SQ]], %[[W]], %[[B]] : tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<64xf32>, tensor<64xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[RS:.+]]: f32, %[[RSQ:.+]]: f32, %[[WV:.+]]: f32, %[[BV:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[MEAN:.+]] = arith.mulf %[[RS]], %[[INVC]] : f32
// CHECK-NEXT:      %[[VAR:.+]] = arith.mulf %[[RSQ]], %[[INVC]] : f32
// CHECK-NEXT:      %[[VE:.+]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK-NEXT:      %[[RSTD:.+]] = math.rsqrt %[[VE]] : f32
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[V]], %[[MEAN]] : f32
// CHECK-NEXT:      %[[N:.+]] = arith.mulf %[[D]], %[[RSTD]] : f32
// CHECK-NEXT:      %[[NW:.+]] = arith.mulf %[[N]], %[[WV]] : f32
// CHECK-NEXT:      %[[Y:.+]] = arith.addf %[[NW]], %[[BV]] : f32
// CHECK-NEXT:      linalg.yield %[[Y]] : f32
func.func @layer_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that softmax takes the row maximum (arith.maximumf from -inf), the row
// sum of exp(x - max) (from 0), then divides exp(x - max) by the sum.

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @softmax
// CHECK-SAME:    (%[[X:.+]]: tensor<?x8xf32>)
// CHECK:         %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT:    %[[FM:.+]] = linalg.fill ins(%[[NINF]] : f32) outs(%{{.+}} : tensor<?xf32>) -> tensor<?xf32>
// CHECK-NEXT:    %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]] : tensor<?x8xf32>) outs(%[[FM]] : tensor<?xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[M:.+]] = arith.maximumf %[[V]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[M]] : f32
// CHECK:         %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[FS:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%{{.+}} : tensor<?xf32>) -> tensor<?xf32>
// CHECK-NEXT:    %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]], %[[MAX]] : tensor<?x8xf32>, tensor<?xf32>) outs(%[[FS]] : tensor<?xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[MV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[V]], %[[MV]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[D]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[E]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ROW]], #[[ROW]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%[[X]], %[[MAX]], %[[SUM]] : tensor<?x8xf32>, tensor<?xf32>, tensor<?xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[MV:.+]]: f32, %[[SV:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[D:.+]] = arith.subf %[[V]], %[[MV]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp %[[D]] : f32
// CHECK-NEXT:      %[[P:.+]] = arith.divf %[[E]], %[[SV]] : f32
// CHECK-NEXT:      linalg.yield %[[P]] : f32
func.func @softmax(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = lmc.softmax %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Tests that cross_entropy computes the row max and sum of exp, then reduces
// log(sum) + max - logits[b, t, target] over all positions (both loops are
// reductions into a 0-d tensor, the target logit gathered with
// tensor.extract), and divides by B * T.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[SCALAR:.+]] = affine_map<(d0, d1) -> ()>
// CHECK-DAG:   #[[ID0:.+]] = affine_map<() -> ()>
// CHECK-LABEL: func.func @cross_entropy
// CHECK-SAME:    (%[[LOGITS:.+]]: tensor<?x?x256xf32>, %[[TGT:.+]]: tensor<?x?xi32>)
// CHECK:         %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:           arith.maximumf
// CHECK:         %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:           math.exp
// CHECK:         %[[E0:.+]] = tensor.empty() : tensor<f32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[INIT:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E0]] : tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    %[[TOTAL:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]], #[[SCALAR]]], iterator_types = ["reduction", "reduction"]}
// CHECK-SAME:      ins(%[[TGT]], %[[MAX]], %[[SUM]] : tensor<?x?xi32>, tensor<?x?xf32>, tensor<?x?xf32>) outs(%[[INIT]] : tensor<f32>)
// CHECK-NEXT:    ^bb0(%[[T:.+]]: i32, %[[MV:.+]]: f32, %[[SV:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[I0:.+]] = linalg.index 0 : index
// CHECK-NEXT:      %[[I1:.+]] = linalg.index 1 : index
// CHECK-NEXT:      %[[TI:.+]] = arith.index_cast %[[T]] : i32 to index
// CHECK-NEXT:      %[[PICK:.+]] = tensor.extract %[[LOGITS]][%[[I0]], %[[I1]], %[[TI]]] : tensor<?x?x256xf32>
// CHECK-NEXT:      %[[LOG:.+]] = math.log %[[SV]] : f32
// CHECK-NEXT:      %[[LSE:.+]] = arith.addf %[[LOG]], %[[MV]] : f32
// CHECK-NEXT:      %[[NLL:.+]] = arith.subf %[[LSE]], %[[PICK]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[NLL]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         %[[B:.+]] = tensor.dim %[[TGT]], %{{.+}} : tensor<?x?xi32>
// CHECK-NEXT:    %[[N1:.+]] = arith.muli %{{.+}}, %[[B]] : index
// CHECK:         %[[T:.+]] = tensor.dim %[[TGT]], %{{.+}} : tensor<?x?xi32>
// CHECK-NEXT:    %[[N:.+]] = arith.muli %[[N1]], %[[T]] : index
// CHECK-NEXT:    %[[N64:.+]] = arith.index_castui %[[N]] : index to i64
// CHECK-NEXT:    %[[NF:.+]] = arith.uitofp %[[N64]] : i64 to f32
// CHECK:         %[[MEAN:.+]] = linalg.generic {indexing_maps = [#[[ID0]], #[[ID0]]], iterator_types = []}
// CHECK-SAME:      ins(%[[TOTAL]] : tensor<f32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[D:.+]] = arith.divf %[[V]], %[[NF]] : f32
// CHECK-NEXT:      linalg.yield %[[D]] : f32
// CHECK:         return %[[MEAN]] : tensor<f32>
func.func @cross_entropy(%logits: tensor<?x?x256xf32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
  %0 = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
  return %0 : tensor<f32>
}

// -----

// Tests that cross_entropy over padded logits (classes(250) of 256 columns)
// masks the padding out of the row maximum (-inf for column >= 250) and out
// of the sum of exponentials (0 for column >= 250); the rest is as without
// padding.

// CHECK-LABEL: func.func @cross_entropy_padded
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NEXT:    ^bb0(%[[X:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT:      %[[COL:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[N:.+]] = arith.constant 250 : index
// CHECK-NEXT:      %[[IN:.+]] = arith.cmpi ult, %[[COL]], %[[N]] : index
// CHECK-NEXT:      %[[V:.+]] = arith.select %[[IN]], %[[X]], %[[NINF]] : f32
// CHECK-NEXT:      %[[M:.+]] = arith.maximumf %[[V]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[M]] : f32
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           %[[E:.+]] = math.exp
// CHECK-NEXT:      %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[COL2:.+]] = linalg.index 2 : index
// CHECK-NEXT:      %[[N2:.+]] = arith.constant 250 : index
// CHECK-NEXT:      %[[IN2:.+]] = arith.cmpi ult, %[[COL2]], %[[N2]] : index
// CHECK-NEXT:      %[[ME:.+]] = arith.select %[[IN2]], %[[E]], %[[ZERO]] : f32
// CHECK-NEXT:      arith.addf %[[ME]], %{{.+}} : f32
// CHECK:         math.log
func.func @cross_entropy_padded(%logits: tensor<?x?x256xf32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
  %0 = lmc.cross_entropy %logits, %targets classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>
  return %0 : tensor<f32>
}

// -----

// Tests that a matmul with a shared rank-2 rhs (a linear layer) has loops
// (b, t, n, k): lhs (b, t, k), rhs (k, n), out (b, t, n), k the reduction,
// accumulating into a zero-filled [B, T, N] tensor.

// CHECK-DAG:   #[[LHS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG:   #[[RHS:.+]] = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @matmul_shared_rhs
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64x192xf32>)
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x192xf32>
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.+]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]] : tensor<?x?x192xf32>) -> tensor<?x?x192xf32>
// CHECK-NEXT:    linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]], %[[W]] : tensor<?x?x64xf32>, tensor<64x192xf32>) outs(%[[F]] : tensor<?x?x192xf32>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[P:.+]] = arith.mulf %[[A]], %[[B]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[P]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
func.func @matmul_shared_rhs(%x: tensor<?x?x64xf32>, %w: tensor<64x192xf32>) -> tensor<?x?x192xf32> {
  %0 = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x192xf32>
  return %0 : tensor<?x?x192xf32>
}

// -----

// Tests that transpose_b with a shared rhs (the tied LM head) reads the rhs as
// (n, k).

// CHECK-DAG:   #[[LHS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG:   #[[RHS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @matmul_transpose_b
// CHECK:         tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x256xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%{{.+}}, %{{.+}} : tensor<?x?x64xf32>, tensor<256x64xf32>) outs(%{{.+}} : tensor<?x?x256xf32>)
func.func @matmul_transpose_b(%x: tensor<?x?x64xf32>, %wte: tensor<256x64xf32>) -> tensor<?x?x256xf32> {
  %0 = lmc.matmul %x, %wte transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  return %0 : tensor<?x?x256xf32>
}

// -----

// Tests that lmc.matmul_bias with the GELU epilogue is one linalg.generic
// marked as a library GEMM with epilogue "bias_gelu_tanh", whose loop nest
// computes what matmul, bias_add and gelu compute: the pre-activation
// output accumulates the products from zero (k = 0 ignores its init), the
// bias is added at the last k, and the activation is GELU of that.

// CHECK-DAG:   #[[LHS:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG:   #[[RHS:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG:   #[[BIAS:.+]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @matmul_bias_gelu
// CHECK-SAME:    (%[[X:.+]]: tensor<?x64xf32>, %[[W:.+]]: tensor<64x256xf32>, %[[B:.+]]: tensor<256xf32>)
// CHECK:         %[[H:.+]] = tensor.empty(%{{.+}}) : tensor<?x256xf32>
// CHECK-NEXT:    %[[PRE:.+]] = tensor.empty(%{{.+}}) : tensor<?x256xf32>
// CHECK:         %[[LAST:.+]] = arith.subi %{{.+}}, %{{.+}} : index
// CHECK-NEXT:    %[[R:.+]]:2 = linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[BIAS]], #[[OUT]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[X]], %[[W]], %[[B]] : tensor<?x64xf32>, tensor<64x256xf32>, tensor<256xf32>) outs(%[[H]], %[[PRE]] : tensor<?x256xf32>, tensor<?x256xf32>)
// CHECK-SAME:      lmc.library_call = {epilogue = "bias_gelu_tanh", kernel = "gemm", transpose_a = false, transpose_b = false}
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[WV:.+]]: f32, %[[BV:.+]]: f32, %{{.+}}: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[K:.+]] = linalg.index 2 : index
// CHECK:           %[[FIRST:.+]] = arith.cmpi eq, %[[K]], %{{.+}} : index
// CHECK-NEXT:      %[[ISLAST:.+]] = arith.cmpi eq, %[[K]], %[[LAST]] : index
// CHECK:           %[[PREV:.+]] = arith.select %[[FIRST]], %{{.+}}, %[[ACC]] : f32
// CHECK-NEXT:      %[[P:.+]] = arith.mulf %[[A]], %[[WV]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[P]], %[[PREV]] : f32
// CHECK-NEXT:      %[[SB:.+]] = arith.addf %[[S]], %[[BV]] : f32
// CHECK-NEXT:      %[[V:.+]] = arith.select %[[ISLAST]], %[[SB]], %[[S]] : f32
// CHECK:           math.tanh
// CHECK:           %[[HALFX:.+]] = arith.mulf %{{.+}}, %[[V]] : f32
// CHECK-NEXT:      %[[G:.+]] = arith.mulf %[[HALFX]], %{{.+}} : f32
// CHECK-NEXT:      linalg.yield %[[G]], %[[V]] : f32, f32
// CHECK:         return %[[R]]#0, %[[R]]#1
func.func @matmul_bias_gelu(%x: tensor<?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>) -> (tensor<?x256xf32>, tensor<?x256xf32>) {
  %h, %pre = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x256xf32>, tensor<?x256xf32>
  return %h, %pre : tensor<?x256xf32>, tensor<?x256xf32>
}

// -----

// Tests that lmc.matmul_bias without GELU accumulates in its one output
// and reads the rhs as (n, k) with transpose_b.

// CHECK-DAG:   #[[RHS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func.func @matmul_bias_transpose_b
// CHECK:         linalg.generic {indexing_maps = [#{{.+}}, #[[RHS]], #{{.+}}, #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      lmc.library_call = {epilogue = "bias", kernel = "gemm", transpose_a = false, transpose_b = true}
// CHECK-NEXT:    ^bb0(%{{.+}}: f32, %{{.+}}: f32, %{{.+}}: f32, %[[ACC:.+]]: f32):
// CHECK:           arith.select %{{.+}}, %{{.+}}, %[[ACC]] : f32
// CHECK-NOT:       math.tanh
// CHECK:           linalg.yield %{{.+}} : f32
func.func @matmul_bias_transpose_b(%x: tensor<?x?x64xf32>, %w: tensor<192x64xf32>, %b: tensor<192xf32>) -> tensor<?x?x192xf32> {
  %0 = lmc.matmul_bias %x, %w, %b transpose_b : tensor<?x?x64xf32>, tensor<192x64xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
  return %0 : tensor<?x?x192xf32>
}

// -----

// Tests that a batched matmul (q k^T of attention) indexes the rhs with the
// batch loops too: loops (b, h, i, j, d), lhs (b, h, i, d), rhs (b, h, j, d);
// the result's N is the sequence size of the rhs.

// CHECK-DAG:   #[[LHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG:   #[[RHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @matmul_batched
// CHECK-SAME:    (%[[Q:.+]]: tensor<?x2x?x32xf32>, %[[K:.+]]: tensor<?x2x?x32xf32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[Q]], %c0{{.*}} : tensor<?x2x?x32xf32>
// CHECK-DAG:     %[[M:.+]] = tensor.dim %[[Q]], %c2{{.*}} : tensor<?x2x?x32xf32>
// CHECK-DAG:     %[[N:.+]] = tensor.dim %[[K]], %c2{{.*}} : tensor<?x2x?x32xf32>
// CHECK:         %[[E:.+]] = tensor.empty(%[[B]], %[[M]], %[[N]]) : tensor<?x2x?x?xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[Q]], %[[K]] : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: f32, %[[C:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[P:.+]] = arith.mulf %[[A]], %[[C]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[P]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
func.func @matmul_batched(%q: tensor<?x2x?x32xf32>, %k: tensor<?x2x?x32xf32>) -> tensor<?x2x?x?xf32> {
  %0 = lmc.matmul %q, %k transpose_b : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
  return %0 : tensor<?x2x?x?xf32>
}

// -----

// Tests that transpose_a reads the lhs as (k, m): for [8, 4]^T x [8, 16] the
// loops are (m, n, k), lhs (k, m), rhs (k, n) and the result is 4x16.

// CHECK-DAG:   #[[LHS:.+]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG:   #[[RHS:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @matmul_transpose_a
// CHECK:         %[[E:.+]] = tensor.empty() : tensor<4x16xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%{{.+}}, %{{.+}} : tensor<8x4xf32>, tensor<8x16xf32>) outs(%{{.+}} : tensor<4x16xf32>)
func.func @matmul_transpose_a(%a: tensor<8x4xf32>, %b: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %0 = lmc.matmul %a, %b transpose_a : tensor<8x4xf32>, tensor<8x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// Tests that split is one extract_slice per part, at consecutive offsets of
// the last dimension.

// CHECK-LABEL: func.func @split
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x192xf32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[X]], %c0
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[X]], %c1
// CHECK:         %[[Q:.+]] = tensor.extract_slice %[[X]][0, 0, 0] [%[[B]], %[[T]], 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
// CHECK-NEXT:    %[[K:.+]] = tensor.extract_slice %[[X]][0, 0, 64] [%[[B]], %[[T]], 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
// CHECK-NEXT:    %[[V:.+]] = tensor.extract_slice %[[X]][0, 0, 128] [%[[B]], %[[T]], 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
// CHECK-NEXT:    return %[[Q]], %[[K]], %[[V]]
func.func @split(%x: tensor<?x?x192xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %q, %k, %v = lmc.split %x into 3 : tensor<?x?x192xf32>
  return %q, %k, %v : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that split_heads expands [B, T, C] to [B, T, H, D] and transposes to
// [B, H, T, D].

// CHECK-LABEL: func.func @split_heads
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[X]], %c0
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[X]], %c1
// CHECK:         %[[EXP:.+]] = tensor.expand_shape %[[X]] {{\[}}[0], [1], [2, 3]] output_shape [%[[B]], %[[T]], 2, 32] : tensor<?x?x64xf32> into tensor<?x?x2x32xf32>
// CHECK-NEXT:    %[[E:.+]] = tensor.empty(%[[B]], %[[T]]) : tensor<?x2x?x32xf32>
// CHECK-NEXT:    %[[R:.+]] = linalg.transpose ins(%[[EXP]] : tensor<?x?x2x32xf32>) outs(%[[E]] : tensor<?x2x?x32xf32>) permutation = [0, 2, 1, 3]
// CHECK-NEXT:    return %[[R]] : tensor<?x2x?x32xf32>
func.func @split_heads(%x: tensor<?x?x64xf32>) -> tensor<?x2x?x32xf32> {
  %0 = lmc.split_heads %x heads(2) : tensor<?x?x64xf32>
  return %0 : tensor<?x2x?x32xf32>
}

// -----

// Tests that merge_heads transposes [B, H, T, D] to [B, T, H, D] and collapses
// to [B, T, H * D].

// CHECK-LABEL: func.func @merge_heads
// CHECK-SAME:    (%[[X:.+]]: tensor<?x2x?x32xf32>)
// CHECK-DAG:     %[[B:.+]] = tensor.dim %[[X]], %c0
// CHECK-DAG:     %[[T:.+]] = tensor.dim %[[X]], %c2
// CHECK:         %[[E:.+]] = tensor.empty(%[[B]], %[[T]]) : tensor<?x?x2x32xf32>
// CHECK-NEXT:    %[[TR:.+]] = linalg.transpose ins(%[[X]] : tensor<?x2x?x32xf32>) outs(%[[E]] : tensor<?x?x2x32xf32>) permutation = [0, 2, 1, 3]
// CHECK-NEXT:    %[[R:.+]] = tensor.collapse_shape %[[TR]] {{\[}}[0], [1], [2, 3]] : tensor<?x?x2x32xf32> into tensor<?x?x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x?x64xf32>
func.func @merge_heads(%x: tensor<?x2x?x32xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.merge_heads %x : tensor<?x2x?x32xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that causal_attention is lowered through its decomposition: heads
// split out of q, k and v, the q k^T batched matmul, the scale by
// 1/sqrt(32), the mask, softmax, the p v batched matmul and the merge.

// CHECK-DAG:   #[[QK_LHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG:   #[[QK_RHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-DAG:   #[[OUT:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[PV_RHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d3)>
// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @causal_attention
// CHECK-SAME:    (%[[Q:.+]]: tensor<?x?x64xf32>, %[[K:.+]]: tensor<?x?x64xf32>, %[[V:.+]]: tensor<?x?x64xf32>)
// CHECK-NOT:     {{lmc\.[a-z_]+ [^=]}}
// CHECK:         %[[QE:.+]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1], [2, 3]]
// CHECK:         %[[QH:.+]] = linalg.transpose ins(%[[QE]] : tensor<?x?x2x32xf32>) {{.*}} permutation = [0, 2, 1, 3]
// CHECK:         %[[KE:.+]] = tensor.expand_shape %[[K]] {{\[}}[0], [1], [2, 3]]
// CHECK:         %[[KH:.+]] = linalg.transpose ins(%[[KE]] : tensor<?x?x2x32xf32>) {{.*}} permutation = [0, 2, 1, 3]
// CHECK:         %[[VE:.+]] = tensor.expand_shape %[[V]] {{\[}}[0], [1], [2, 3]]
// CHECK:         %[[VH:.+]] = linalg.transpose ins(%[[VE]] : tensor<?x?x2x32xf32>) {{.*}} permutation = [0, 2, 1, 3]
// CHECK:         %[[S:.+]] = linalg.generic {indexing_maps = [#[[QK_LHS]], #[[QK_RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[QH]], %[[KH]] : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>) outs(%{{.+}} : tensor<?x2x?x?xf32>)
// CHECK:         %[[SCALE:.+]] = arith.constant 0.176776{{[0-9]*}} : f32
// CHECK:         %[[SS:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[S]] : tensor<?x2x?x?xf32>)
// CHECK:           arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK:         %[[M:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[SS]] : tensor<?x2x?x?xf32>)
// CHECK:           arith.cmpi ugt
// CHECK:           arith.select %{{.+}}, %{{.+}}, %{{.+}} : f32
// CHECK:         %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[M]] : tensor<?x2x?x?xf32>)
// CHECK:           arith.maximumf
// CHECK:         %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[M]], %[[MAX]] : tensor<?x2x?x?xf32>, tensor<?x2x?xf32>)
// CHECK:           math.exp
// CHECK:         %[[P:.+]] = linalg.generic {indexing_maps = [#[[ID4]], #[[ROW]], #[[ROW]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[M]], %[[MAX]], %[[SUM]] : tensor<?x2x?x?xf32>, tensor<?x2x?xf32>, tensor<?x2x?xf32>)
// CHECK:           arith.divf
// CHECK:         %[[Y:.+]] = linalg.generic {indexing_maps = [#[[QK_LHS]], #[[PV_RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME:      ins(%[[P]], %[[VH]] : tensor<?x2x?x?xf32>, tensor<?x2x?x32xf32>) outs(%{{.+}} : tensor<?x2x?x32xf32>)
// CHECK:         %[[YT:.+]] = linalg.transpose ins(%[[Y]] : tensor<?x2x?x32xf32>) outs(%{{.+}} : tensor<?x?x2x32xf32>) permutation = [0, 2, 1, 3]
// CHECK-NEXT:    %[[R:.+]] = tensor.collapse_shape %[[YT]] {{\[}}[0], [1], [2, 3]] : tensor<?x?x2x32xf32> into tensor<?x?x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x?x64xf32>
func.func @causal_attention(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that lmc.model is dissolved: its functions move into the module, in
// order and in place of the model, their bodies lowered (the table, as if
// bound by lmc-bind-params, is a constant), and the parameter declarations
// are dropped.

// CHECK-NOT:   lmc.model
// CHECK-NOT:   lmc.param
// CHECK-LABEL: func.func private @before()
// CHECK-LABEL: func.func @forward(
// CHECK-SAME:    %{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<?x?xi32>) -> tensor<f32>
// CHECK:         %[[W:.+]] = arith.constant dense<{{.+}}> : tensor<4x8xf32>
// CHECK:         linalg.generic
// CHECK:           tensor.extract %[[W]]
// CHECK-NOT:     {{lmc\.[a-z_]+ [^=]}}
// CHECK-LABEL: func.func @main()
// CHECK:         call @forward
// CHECK-LABEL: func.func private @after()
// CHECK-NOT:   {{lmc\.[a-z_]+ [^=]}}
module {
  func.func private @before()
  lmc.model @m {
    lmc.param @"wte.weight" : tensor<4x8xf32> init(normal, std = 2.000000e-02)
    lmc.param @"unused" : tensor<8xf32> init(ones)
    func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
      %wte = arith.constant dense<1.0> : tensor<4x8xf32>
      %x = lmc.embedding %wte[%tokens] : tensor<4x8xf32>, tensor<?x?xi32>
      %logits = lmc.matmul %x, %wte transpose_b : tensor<?x?x8xf32>, tensor<4x8xf32>
      %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
      return %loss : tensor<f32>
    }
    func.func @main() {
      %t = arith.constant dense<0> : tensor<1x1xi32>
      %d = tensor.cast %t : tensor<1x1xi32> to tensor<?x?xi32>
      %l = func.call @forward(%d, %d) : (tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<f32>
      return
    }
  }
  func.func private @after()
}

// -----

// Tests that the collectives stay as they are (they bufferize to runtime
// calls) and that the mesh of the dissolved model moves to the module, where
// they still find it.

// CHECK:       module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// CHECK-LABEL: func.func @collectives
// CHECK-NEXT:    %[[R:.+]] = lmc.all_reduce %{{.+}} over ["dp"] : tensor<4x8xf32>
// CHECK-NEXT:    %[[G:.+]] = lmc.all_gather %[[R]] over ["tp"] dim 1 : tensor<4x8xf32> -> tensor<4x16xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.reduce_scatter %[[G]] over ["tp"] dim 1 : tensor<4x16xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    %[[P0:.+]] = lmc.all_reduce_start %[[S]] over ["dp"] : tensor<4x8xf32>
// CHECK-NEXT:    %[[P1:.+]] = lmc.all_gather_start %[[S]] over ["tp"] dim 1 : tensor<4x8xf32> -> !lmc.pending<tensor<4x16xf32>>
// CHECK-NEXT:    %[[P2:.+]] = lmc.reduce_scatter_start %[[G]] over ["dp"] dim 0 : tensor<4x16xf32> -> !lmc.pending<tensor<2x16xf32>>
// CHECK-NEXT:    %{{.+}}:3 = lmc.wait %[[P0]], %[[P1]], %[[P2]]
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @collectives(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x16xf32>, tensor<2x16xf32>) {
    %r = lmc.all_reduce %x over ["dp"] : tensor<4x8xf32>
    %g = lmc.all_gather %r over ["tp"] dim 1 : tensor<4x8xf32> -> tensor<4x16xf32>
    %s = lmc.reduce_scatter %g over ["tp"] dim 1 : tensor<4x16xf32> -> tensor<4x8xf32>
    %p0 = lmc.all_reduce_start %s over ["dp"] : tensor<4x8xf32>
    %p1 = lmc.all_gather_start %s over ["tp"] dim 1 : tensor<4x8xf32> -> !lmc.pending<tensor<4x16xf32>>
    %p2 = lmc.reduce_scatter_start %g over ["dp"] dim 0 : tensor<4x16xf32> -> !lmc.pending<tensor<2x16xf32>>
    %w:3 = lmc.wait %p0, %p1, %p2 : !lmc.pending<tensor<4x8xf32>>, !lmc.pending<tensor<4x16xf32>>, !lmc.pending<tensor<2x16xf32>>
    return %w#0, %w#1, %w#2 : tensor<4x8xf32>, tensor<4x16xf32>, tensor<2x16xf32>
  }
}

// -----

// Tests that a fusion group (lmc.fused) is dissolved: its body is inlined on
// the group's operands and lowered like any other ops (the reference
// lowering has no kernels).

// CHECK-LABEL: func.func @fused
// CHECK-SAME:    (%[[X:.+]]: tensor<?x8xf32>, %[[B:.+]]: tensor<8xf32>)
// CHECK-NOT:     lmc.
// CHECK:         %[[H:.+]] = linalg.generic {{.+}} ins(%[[X]], %[[B]] : tensor<?x8xf32>, tensor<8xf32>)
// CHECK:         %[[G:.+]] = linalg.generic {{.+}} ins(%[[H]] : tensor<?x8xf32>)
// CHECK:           math.tanh
// CHECK:         return %[[H]], %[[G]]
func.func @fused(%x: tensor<?x8xf32>, %b: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %r:2 = lmc.fused "gelu" (%i = %x, %j = %b) : (tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
    %0 = lmc.bias_add %i, %j : tensor<?x8xf32>, tensor<8xf32>
    %1 = lmc.gelu %0 tanh : tensor<?x8xf32>
    lmc.yield %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
  }
  return %r#0, %r#1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Tests that rms_norm sums x^2 per row (a reduction over the last loop) and
// scales x by rsqrt(sum / C + eps) (1/64 and eps as f32 constants) and the
// weight, read along the channels.

// CHECK-DAG:   #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[CH:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64xf32>)
// CHECK-DAG:     %[[INVC:.+]] = arith.constant 1.562500e-02 : f32
// CHECK-DAG:     %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// CHECK:         %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<?x?x64xf32>)
// CHECK-NEXT:    ^bb0(%[[V:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK-NEXT:      %[[V2:.+]] = arith.mulf %[[V]], %[[V]] : f32
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[V2]], %[[ACC]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         linalg.generic {indexing_maps = [#[[ID3]], #[[ROW]], #[[CH]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[X]], %[[SQ]], %[[W]] : tensor<?x?x64xf32>, tensor<?x?xf32>, tensor<64xf32>)
// CHECK-NEXT:    ^bb0(%[[XV:.+]]: f32, %[[QV:.+]]: f32, %[[WV:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[MS:.+]] = arith.mulf %[[QV]], %[[INVC]] : f32
// CHECK-NEXT:      %[[MSE:.+]] = arith.addf %[[MS]], %[[EPS]] : f32
// CHECK-NEXT:      %[[R:.+]] = math.rsqrt %[[MSE]] : f32
// CHECK-NEXT:      %[[XR:.+]] = arith.mulf %[[XV]], %[[R]] : f32
// CHECK-NEXT:      %[[Y:.+]] = arith.mulf %[[XR]], %[[WV]] : f32
// CHECK-NEXT:      linalg.yield %[[Y]] : f32
func.func @rms_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.rms_norm %x, %w eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that rope makes [T, D/2] tables of cos(a) and sin(a), a = p f_i
// with p the position (the table's row plus the offset) and
// f_i = exp(i * (-2 ln(theta) / D)) (-1.15129256 for theta 1e4, D = 16), the
// sine negated for the inverse (which, without an offset, takes the row
// itself as the position); then x is expanded to [B, T, H, 2, D/2], one
// generic reads it twice, as itself and through (b, t, h, 1 - j, i) as the
// partner in the other half of the head, and the tables at (t, i), and
// yields x cos(a) + s x_partner sin(a) with s = -1 in the first half (j = 0)
// and +1 in the second; the result is collapsed back to [B, T, C].

// CHECK-DAG:   #[[ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[ID5:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG:   #[[PARTNER:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, -d3 + 1, d4)>
// CHECK-DAG:   #[[TABLE:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d4)>
// CHECK-LABEL: func.func @rope
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[OFF:.+]]: index)
// CHECK:         %[[K:.+]] = arith.constant -1.15129256 : f32
// CHECK:         %[[TAB:.+]]:2 = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} outs(%{{.+}}, %{{.+}} : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK-NEXT:    ^bb0(%{{.+}}: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[ROW:.+]] = linalg.index 0 : index
// CHECK-NEXT:      %[[I:.+]] = linalg.index 1 : index
// CHECK-NEXT:      %[[P:.+]] = arith.addi %[[ROW]], %[[OFF]] : index
// CHECK-NEXT:      %[[II:.+]] = arith.index_castui %[[I]] : index to i64
// CHECK-NEXT:      %[[IF:.+]] = arith.uitofp %[[II]] : i64 to f32
// CHECK-NEXT:      %[[E:.+]] = arith.mulf %[[IF]], %[[K]] : f32
// CHECK-NEXT:      %[[F:.+]] = math.exp %[[E]] : f32
// CHECK-NEXT:      %[[PI:.+]] = arith.index_castui %[[P]] : index to i64
// CHECK-NEXT:      %[[PF:.+]] = arith.uitofp %[[PI]] : i64 to f32
// CHECK-NEXT:      %[[A:.+]] = arith.mulf %[[PF]], %[[F]] : f32
// CHECK-NEXT:      %[[COS:.+]] = math.cos %[[A]] : f32
// CHECK-NEXT:      %[[SIN:.+]] = math.sin %[[A]] : f32
// CHECK-NEXT:      linalg.yield %[[COS]], %[[SIN]] : f32, f32
// CHECK:         %[[XE:.+]] = tensor.expand_shape %[[X]] {{\[}}[0], [1], [2, 3, 4]] output_shape [%{{.+}}, %{{.+}}, 4, 2, 8] : tensor<?x?x64xf32> into tensor<?x?x4x2x8xf32>
// CHECK-DAG:     %[[M1:.+]] = arith.constant -1.000000e+00 : f32
// CHECK-DAG:     %[[P1:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0 : index
// CHECK:         %[[ROT:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[PARTNER]], #[[TABLE]], #[[TABLE]], #[[ID5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[XE]], %[[XE]], %[[TAB]]#0, %[[TAB]]#1 : tensor<?x?x4x2x8xf32>, tensor<?x?x4x2x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK-NEXT:    ^bb0(%[[XV:.+]]: f32, %[[PV:.+]]: f32, %[[CV:.+]]: f32, %[[SV:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[J:.+]] = linalg.index 3 : index
// CHECK-NEXT:      %[[FIRST:.+]] = arith.cmpi eq, %[[J]], %[[ZERO]] : index
// CHECK-NEXT:      %[[SIGN:.+]] = arith.select %[[FIRST]], %[[M1]], %[[P1]] : f32
// CHECK-NEXT:      %[[SP:.+]] = arith.mulf %[[SIGN]], %[[PV]] : f32
// CHECK-NEXT:      %[[SPS:.+]] = arith.mulf %[[SP]], %[[SV]] : f32
// CHECK-NEXT:      %[[XC:.+]] = arith.mulf %[[XV]], %[[CV]] : f32
// CHECK-NEXT:      %[[Y:.+]] = arith.addf %[[XC]], %[[SPS]] : f32
// CHECK-NEXT:      linalg.yield %[[Y]] : f32
// CHECK:         %[[R0:.+]] = tensor.collapse_shape %[[ROT]] {{\[}}[0], [1], [2, 3, 4]] : tensor<?x?x4x2x8xf32> into tensor<?x?x64xf32>
// CHECK:         %[[TAB1:.+]]:2 = linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]]]
// CHECK-NEXT:    ^bb0(%{{.+}}: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[ROW1:.+]] = linalg.index 0 : index
// CHECK-NOT:       arith.addi
// CHECK:           %[[PI1:.+]] = arith.index_castui %[[ROW1]] : index to i64
// CHECK:           %[[SIN1:.+]] = math.sin
// CHECK-NEXT:      %[[NSIN1:.+]] = arith.negf %[[SIN1]] : f32
// CHECK-NEXT:      linalg.yield %{{.+}}, %[[NSIN1]] : f32, f32
// CHECK:         linalg.generic {indexing_maps = [#[[ID5]], #[[PARTNER]], #[[TABLE]], #[[TABLE]], #[[ID5]]], {{.+}}} ins(%{{.+}}, %{{.+}}, %[[TAB1]]#0, %[[TAB1]]#1 :
// CHECK:         %[[R1:.+]] = tensor.collapse_shape
// CHECK:         return %[[R0]], %[[R1]]
func.func @rope(%x: tensor<?x?x64xf32>, %off: index) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %0 = lmc.rope %x head_dim(16) theta(1.000000e+04) offset(%off) : tensor<?x?x64xf32>
  %1 = lmc.rope %x head_dim(16) theta(1.000000e+04) inverse : tensor<?x?x64xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that repeat_heads is one parallel generic reading input head
// h floordiv G for result head h, and that repeat_heads_grad expands the
// heads to [B, Hkv, G, T, D] and sums over G (a reduction loop) into a
// zero-filled [B, Hkv, T, D].

// CHECK-DAG:   #[[REP:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 3, d2, d3)>
// CHECK-DAG:   #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG:   #[[ID5:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG:   #[[SUM:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-LABEL: func.func @repeat_heads
// CHECK-SAME:    (%[[X:.+]]: tensor<?x2x?x16xf32>, %[[G:.+]]: tensor<?x6x?x16xf32>)
// CHECK:         %[[R:.+]] = linalg.generic {indexing_maps = [#[[REP]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[X]] : tensor<?x2x?x16xf32>) outs(%{{.+}} : tensor<?x6x?x16xf32>)
// CHECK:         linalg.yield
// CHECK:         %[[E:.+]] = tensor.expand_shape %[[G]] {{\[}}[0], [1, 2], [3], [4]] output_shape [%{{.+}}, 2, 3, %{{.+}}, 16] : tensor<?x6x?x16xf32> into tensor<?x2x3x?x16xf32>
// CHECK:         %[[Z:.+]] = linalg.fill
// CHECK-NEXT:    %[[S:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[SUM]]], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%[[E]] : tensor<?x2x3x?x16xf32>) outs(%[[Z]] : tensor<?x2x?x16xf32>)
// CHECK:           arith.addf
// CHECK:         return %[[R]], %[[S]]
func.func @repeat_heads(%x: tensor<?x2x?x16xf32>, %g: tensor<?x6x?x16xf32>) -> (tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>) {
  %0 = lmc.repeat_heads %x times(3) : tensor<?x2x?x16xf32>
  %1 = lmc.repeat_heads_grad %g times(3) : tensor<?x6x?x16xf32>
  return %0, %1 : tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>
}

// -----

// Tests that with runtime-row-reductions (the GPU pipeline) the float32
// norms, softmaxes (and their gradients) and cross-entropies with int32
// targets stay lmc ops for the GPU runtime's row kernels, while a float64
// norm or softmax, a cross-entropy with int64 targets and the ops of a
// fusion group's kernel function are lowered; and
// that a splat constant every call passes to a function holding a row
// reduction (the loss gradient's seed) is filled inside the function.

// ROWS-LABEL: func.func private @norm_kernel(
// ROWS:         lmc.layer_norm
// ROWS-NOT:     linalg.generic
// ROWS:         return
func.func private @norm_kernel(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  %y = lmc.layer_norm %x, %w, %w eps(1.000000e-05) : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}
// ROWS-LABEL: func.func private @softmax_kernel(
// ROWS:         lmc.softmax %
// ROWS:         lmc.softmax_grad %
// ROWS-NOT:     linalg.generic
// ROWS:         return
func.func private @softmax_kernel(%s: tensor<?x2x?x?xf32>, %g: tensor<?x2x?x?xf32>) -> (tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>) {
  %p = lmc.softmax %s : tensor<?x2x?x?xf32>
  %d = lmc.softmax_grad %p, %g : tensor<?x2x?x?xf32>
  return %p, %d : tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>
}
// ROWS-LABEL: func.func private @lowered(
// ROWS-NOT:     lmc.layer_norm
// ROWS-NOT:     lmc.cross_entropy
// ROWS-NOT:     lmc.softmax
// ROWS:         return
func.func private @lowered(%x: tensor<?x64xf64>, %w: tensor<64xf64>, %l: tensor<?x?x16xf32>, %t: tensor<?x?xi64>) -> (tensor<?x64xf64>, tensor<f32>, tensor<?x64xf64>) {
  %y = lmc.layer_norm %x, %w, %w eps(1.000000e-05) : tensor<?x64xf64>, tensor<64xf64>
  %loss = lmc.cross_entropy %l, %t : tensor<?x?x16xf32>, tensor<?x?xi64>
  %p = lmc.softmax %x : tensor<?x64xf64>
  return %y, %loss, %p : tensor<?x64xf64>, tensor<f32>, tensor<?x64xf64>
}
// ROWS-LABEL: func.func private @group_kernel(
// ROWS-NOT:     lmc.rms_norm
// ROWS:         return
func.func private @group_kernel(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> attributes {lmc.fusion_group = "rms_norm"} {
  %s = lmc.add %x, %x : tensor<?x64xf32>
  %y = lmc.rms_norm %s, %w eps(1.000000e-05) : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}
// ROWS-LABEL: func.func private @ce_grad_kernel(
// ROWS-SAME:    %[[L:[^:]+]]: tensor<?x?x16xf32>, %[[T:[^:]+]]: tensor<?x?xi32>, %{{.+}}: tensor<f32>)
// ROWS:         %[[E:.+]] = tensor.empty() : tensor<f32>
// ROWS:         %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// ROWS:         %[[SEED:.+]] = linalg.fill ins(%[[ONE]] : f32) outs(%[[E]] : tensor<f32>)
// ROWS:         lmc.cross_entropy_grad %[[L]], %[[T]], %[[SEED]] classes(10)
func.func private @ce_grad_kernel(%l: tensor<?x?x16xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>) -> tensor<?x?x16xf32> {
  %d = lmc.cross_entropy_grad %l, %t, %g classes(10) : tensor<?x?x16xf32>, tensor<?x?xi32>, tensor<f32>
  return %d : tensor<?x?x16xf32>
}
// ROWS-LABEL: func.func @step(
// ROWS:         call @ce_grad_kernel(
func.func @step(%l: tensor<?x?x16xf32>, %t: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  %one = arith.constant dense<1.000000e+00> : tensor<f32>
  %d = call @ce_grad_kernel(%l, %t, %one) : (tensor<?x?x16xf32>, tensor<?x?xi32>, tensor<f32>) -> tensor<?x?x16xf32>
  return %d : tensor<?x?x16xf32>
}

// -----

// Tests that lmc.convert is an elementwise generic with arith.truncf (to
// bfloat16) or arith.extf (back), and that a GEMM on bfloat16 operands
// (lmc-bf16-storage) extends them in its body and sums into a float32
// result, keeping the library call's marker; into a bfloat16 result, it
// sums in float32 and rounds what it stores.

// CHECK-LABEL: func.func @bf16_storage
// CHECK:         linalg.generic {{.+}} ins(%{{.+}} : tensor<?x64xf32>) outs(%{{.+}} : tensor<?x64xbf16>)
// CHECK:           arith.truncf %{{.+}} : f32 to bf16
// CHECK:         linalg.generic {{.+}} ins(%{{.+}} : tensor<?x64xbf16>) outs(%{{.+}} : tensor<?x64xf32>)
// CHECK:           arith.extf %{{.+}} : bf16 to f32
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x64xbf16>, tensor<64x32xbf16>) outs(%{{.+}} : tensor<?x32xf32>)
// CHECK-NEXT:    ^bb0(%[[A:.+]]: bf16, %[[B:.+]]: bf16, %[[C:.+]]: f32):
// CHECK-DAG:       %[[AE:.+]] = arith.extf %[[A]] : bf16 to f32
// CHECK-DAG:       %[[BE:.+]] = arith.extf %[[B]] : bf16 to f32
// CHECK:           %[[P:.+]] = arith.mulf %[[AE]], %[[BE]] : f32
// CHECK:           arith.addf %[[P]], %[[C]] : f32
// CHECK:         } -> tensor<?x32xf32>
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x64xbf16>, tensor<64x32xbf16>) outs(%{{.+}} : tensor<?x32xbf16>)
// CHECK-NEXT:    ^bb0(%[[A2:.+]]: bf16, %[[B2:.+]]: bf16, %[[C2:.+]]: bf16):
// CHECK-DAG:       %[[AE2:.+]] = arith.extf %[[A2]] : bf16 to f32
// CHECK-DAG:       %[[BE2:.+]] = arith.extf %[[B2]] : bf16 to f32
// CHECK:           %[[P2:.+]] = arith.mulf %[[AE2]], %[[BE2]] : f32
// CHECK:           %[[CE2:.+]] = arith.extf %[[C2]] : bf16 to f32
// CHECK:           %[[S2:.+]] = arith.addf %[[P2]], %[[CE2]] : f32
// CHECK:           %[[T2:.+]] = arith.truncf %[[S2]] : f32 to bf16
// CHECK:           linalg.yield %[[T2]] : bf16
// CHECK:         } -> tensor<?x32xbf16>
func.func @bf16_storage(%x: tensor<?x64xf32>, %w: tensor<64x32xbf16>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xbf16>) {
  %xb = lmc.convert %x : tensor<?x64xf32> -> tensor<?x64xbf16>
  %xe = lmc.convert %xb : tensor<?x64xbf16> -> tensor<?x64xf32>
  %y = lmc.matmul %xb, %w : tensor<?x64xbf16>, tensor<64x32xbf16>
  %yb = lmc.matmul %xb, %w : tensor<?x64xbf16>, tensor<64x32xbf16> -> tensor<?x32xbf16>
  return %xe, %y, %yb : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xbf16>
}

// -----

// Tests that a norm storing its output as bfloat16 (lmc-bf16-storage)
// computes in float32 into a bfloat16 tensor, each value rounded once
// (arith.truncf) as it is yielded.

// CHECK-LABEL: func.func @norms_bf16
// CHECK:         %[[E:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x64xbf16>
// CHECK:         linalg.generic
// CHECK-SAME:      outs(%[[E]] : tensor<?x?x64xbf16>)
// CHECK:           %[[YB:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NEXT:      linalg.yield %[[YB]] : bf16
// CHECK:         %[[E2:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?x64xbf16>
// CHECK:         linalg.generic
// CHECK-SAME:      outs(%[[E2]] : tensor<?x?x64xbf16>)
// CHECK:           %[[ZB:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NEXT:      linalg.yield %[[ZB]] : bf16
func.func @norms_bf16(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
  %1 = lmc.rms_norm %x, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
  return %0, %1 : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}
