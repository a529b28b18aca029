// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-export-entry-points --symbol-dce | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-export-entry-points --symbol-dce | lmc-opt --lmc-reference-pipeline -o /dev/null
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-export-entry-points | %python -c "import re, sys; m = re.search(r'dense<\"0x([0-9A-F]+)\"> : tensor<[0-9]+xi8>', sys.stdin.read()); print(bytes.fromhex(m.group(1)).decode(), end='')" | FileCheck %s --check-prefix=INFO
// RUN: not lmc-opt %s --lmc-export-entry-points 2>&1 | FileCheck %s --check-prefix=NOSTEP
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-fuse --lmc-export-entry-points --symbol-dce | FileCheck %s --check-prefix=FUSED

// INFO:      lmc-model 2
// INFO-NEXT: name m
// INFO-NEXT: dtype f32
// INFO-NEXT: vocab 4
// INFO-NEXT: context 4
// INFO-NEXT: params 2 20
// INFO-NEXT: param w 0 2 4 4 normal 2.000000e-02 1
// INFO-NEXT: param b 16 1 4 zeros 0 0
// INFO-NEXT: end

// NOSTEP: error: no lmc.model with a train_step (run lmc-autodiff and lmc-optimizer first)

// Tests that the runtime's entry points take the parameters and both moments
// as one flat buffer each (here 16 + 4 = 20 floats: @w at offset 0, @b at
// 16); that lmc_train_step views them per parameter with subview/expand_shape,
// reads the views as tensors, carries the body of the step and writes the
// new parameters and moments back into the same views (in place, nothing
// returned but loss, norm, learning rate and the non-finite flag), the update
// inside an scf.if on loss <= max_loss; that eval_step and logits
// view the flat parameter buffer the same way, read-only; that all have C
// interfaces; that the model description lists each parameter with its offset, shape, initialiser and
// weight decay; and that the functions the entry points do not need are gone.

// CHECK-LABEL: lmc.model @m
// CHECK-NOT:   func.func {{.*}}@forward
// CHECK:       func.func @lmc_train_step(%[[P:.+]]: memref<20xf32>, %[[M:.+]]: memref<20xf32>, %[[V:.+]]: memref<20xf32>, %{{.+}}: i64, %{{.+}}: f32, %{{.+}}: f32, %{{.+}}: i64, %{{.+}}: i64, %{{.+}}: f32, %{{.+}}: f32, %{{.+}}: f32, %{{.+}}: f32, %{{.+}}: f32, %{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<?x?xi32>, %[[MAXLOSS:.+]]: f32) -> (f32, f32, f32, f32) attributes {llvm.emit_c_interface}
// CHECK:         %[[W0:.+]] = memref.subview %[[P]][0] [16] [1] : memref<20xf32> to memref<16xf32, strided<[1]>>
// CHECK:         %[[WV:.+]] = memref.expand_shape %[[W0]] {{\[}}[0, 1]] output_shape [4, 4] : memref<16xf32, strided<[1]>> into memref<4x4xf32>
// CHECK:         %[[BV:.+]] = memref.subview %[[P]][16] [4] [1] : memref<20xf32> to memref<4xf32, strided<[1], offset: 16>>
// CHECK:         %[[W:.+]] = bufferization.to_tensor %[[WV]] restrict writable : memref<4x4xf32> to tensor<4x4xf32>
// CHECK:         %[[B:.+]] = bufferization.to_tensor %[[BV]] restrict writable
// CHECK:         lmc.embedding %[[W]]
// CHECK:         %[[LOSS:.+]] = tensor.extract
// The update runs only when loss <= max_loss (or the loss is NaN: not a
// spike), and writes the new state in place inside the branch; otherwise
// nothing is written.
// CHECK:         %[[APPLY:.+]] = arith.cmpf ule, %[[LOSS]], %[[MAXLOSS]] : f32
// CHECK-NEXT:    %[[FLAG:.+]] = scf.if %[[APPLY]] -> (f32) {
// CHECK:           %[[NP:.+]], %[[NM:.+]], %[[NV:.+]] = lmc.adamw %[[W]]
// CHECK:           %[[NB:.+]], %[[NBM:.+]], %[[NBV:.+]] = lmc.adamw %[[B]]
// The non-finite flag: one sum per new tensor, (their sum) * 0 is NaN iff
// some element is NaN or infinite.
// CHECK:           lmc.reduce_sum %[[NP]] dims [0, 1]
// CHECK:           lmc.reduce_sum %[[NB]] dims [0]
// CHECK:           lmc.reduce_sum %[[NM]] dims [0, 1]
// CHECK:           lmc.reduce_sum %[[NBM]] dims [0]
// CHECK:           lmc.reduce_sum %[[NV]] dims [0, 1]
// CHECK:           lmc.reduce_sum %[[NBV]] dims [0]
// CHECK-COUNT-5:   arith.addf
// CHECK:           %[[TOTAL:.+]] = arith.addf
// CHECK-NEXT:      %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[ZEROED:.+]] = arith.mulf %[[TOTAL]], %[[ZERO]] : f32
// CHECK-NEXT:      %[[FINITE:.+]] = arith.cmpf ord, %[[ZEROED]], %[[ZEROED]] : f32
// CHECK:           %[[NEWFLAG:.+]] = arith.select %[[FINITE]]
// CHECK-NEXT:      bufferization.materialize_in_destination %[[NP]] in restrict writable %[[WV]]
// CHECK-NEXT:      bufferization.materialize_in_destination %[[NB]] in restrict writable %[[BV]]
// CHECK-COUNT-4:   bufferization.materialize_in_destination
// CHECK-NEXT:      scf.yield %[[NEWFLAG]] : f32
// CHECK-NEXT:    } else {
// CHECK-NOT:       materialize_in_destination
// CHECK:           scf.yield %{{.+}} : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    return %{{.+}}, %{{.+}}, %{{.+}}, %[[FLAG]] : f32, f32, f32, f32
// Tests that with fusion groups, the non-finite flag's sums run inside the
// AdamW group that computes the new state (more results of the group, one
// loop with the update), not as passes of their own after it.
// FUSED:       func.func @lmc_train_step(
// FUSED:         scf.if
// FUSED:           %[[G:.+]]:12 = lmc.fused "adamw"
// FUSED:             %[[NP:.+]], %[[NM:.+]], %[[NV:.+]] = lmc.adamw
// FUSED-NEXT:        %[[NB:.+]], %[[NBM:.+]], %[[NBV:.+]] = lmc.adamw
// FUSED-NEXT:        %[[S0:.+]] = lmc.reduce_sum %[[NP]] dims [0, 1]
// FUSED-NEXT:        %[[S1:.+]] = lmc.reduce_sum %[[NB]] dims [0]
// FUSED-NEXT:        %[[S2:.+]] = lmc.reduce_sum %[[NM]] dims [0, 1]
// FUSED-NEXT:        %[[S3:.+]] = lmc.reduce_sum %[[NBM]] dims [0]
// FUSED-NEXT:        %[[S4:.+]] = lmc.reduce_sum %[[NV]] dims [0, 1]
// FUSED-NEXT:        %[[S5:.+]] = lmc.reduce_sum %[[NBV]] dims [0]
// FUSED-NEXT:        lmc.yield %[[NP]], %[[NM]], %[[NV]], %[[NB]], %[[NBM]], %[[NBV]], %[[S0]], %[[S1]], %[[S2]], %[[S3]], %[[S4]], %[[S5]] :
// FUSED-NOT:       lmc.reduce_sum
// FUSED:           tensor.extract %[[G]]#6[]
// FUSED:           tensor.extract %[[G]]#11[]
// FUSED-NOT:       lmc.reduce_sum
// FUSED:           bufferization.materialize_in_destination %[[G]]#0
// FUSED:         scf.yield
// FUSED:       func.func @lmc_eval_step(
// CHECK:       func.func @lmc_eval_step(%[[EP:.+]]: memref<20xf32>, %{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<?x?xi32>) -> f32 attributes {llvm.emit_c_interface}
// CHECK:         %[[EW:.+]] = memref.subview %[[EP]][0] [16] [1]
// CHECK:         bufferization.to_tensor %{{.+}} restrict : memref<4x4xf32> to tensor<4x4xf32>
// CHECK-NOT:     materialize_in_destination
// CHECK:       func.func @lmc_logits(%{{.+}}: memref<20xf32>, %{{.+}}: tensor<?x?xi32>) -> tensor<?x4xf32> attributes {llvm.emit_c_interface}
// CHECK:       func.func @lmc_model_info() -> tensor<{{[0-9]+}}xi8> attributes {llvm.emit_c_interface}
lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %p = lmc.param_ref @w : tensor<4x4xf32>
    %b = lmc.param_ref @b : tensor<4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %q = lmc.position_embedding %p like %tokens : tensor<4x4xf32>, tensor<?x?xi32>
    %s = lmc.add %x, %q : tensor<?x?x4xf32>
    %y = lmc.bias_add %s, %b : tensor<?x?x4xf32>, tensor<4xf32>
    %loss = lmc.cross_entropy %y, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
