// Two pipeline stages of a pp=2 x tp=2 mesh exchanging activations of
// dynamic size, for test/Runtime/point-to-point-program-mpi.test: each
// stage sends its result to the other stage before receiving the other's
// (both directions at once), the row count first (an i64 tensor), then the
// rows, and returns what it received. Stage 0 sends x + x, stage 1 sends
// x + x + x; their inputs have different row counts.
module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @stage0(%x: tensor<?x8xf32>) -> tensor<?x8xf32>
      attributes {llvm.emit_c_interface} {
    %c0 = arith.constant 0 : index
    %y = lmc.add %x, %x : tensor<?x8xf32>
    %rows = tensor.dim %y, %c0 : tensor<?x8xf32>
    %rows64 = arith.index_cast %rows : index to i64
    %sizes = tensor.from_elements %rows64 : tensor<1xi64>
    lmc.send %sizes to 1 over ["pp"] tag 0 : tensor<1xi64>
    lmc.send %y to 1 over ["pp"] tag 1 : tensor<?x8xf32>
    %ps = lmc.recv_start from 1 over ["pp"] tag 2 : !lmc.pending<tensor<1xi64>>
    %s = lmc.wait %ps : !lmc.pending<tensor<1xi64>>
    %n64 = tensor.extract %s[%c0] : tensor<1xi64>
    %n = arith.index_cast %n64 : i64 to index
    %pr = lmc.recv_start from 1 over ["pp"] tag 3 [%n] : !lmc.pending<tensor<?x8xf32>>
    %r = lmc.wait %pr : !lmc.pending<tensor<?x8xf32>>
    return %r : tensor<?x8xf32>
  }

  func.func @stage1(%x: tensor<?x8xf32>) -> tensor<?x8xf32>
      attributes {llvm.emit_c_interface} {
    %c0 = arith.constant 0 : index
    %x2 = lmc.add %x, %x : tensor<?x8xf32>
    %y = lmc.add %x2, %x : tensor<?x8xf32>
    %rows = tensor.dim %y, %c0 : tensor<?x8xf32>
    %rows64 = arith.index_cast %rows : index to i64
    %sizes = tensor.from_elements %rows64 : tensor<1xi64>
    lmc.send %sizes to 0 over ["pp"] tag 2 : tensor<1xi64>
    lmc.send %y to 0 over ["pp"] tag 3 : tensor<?x8xf32>
    %ps = lmc.recv_start from 0 over ["pp"] tag 0 : !lmc.pending<tensor<1xi64>>
    %s = lmc.wait %ps : !lmc.pending<tensor<1xi64>>
    %n64 = tensor.extract %s[%c0] : tensor<1xi64>
    %n = arith.index_cast %n64 : i64 to index
    %pr = lmc.recv_start from 0 over ["pp"] tag 1 [%n] : !lmc.pending<tensor<?x8xf32>>
    %r = lmc.wait %pr : !lmc.pending<tensor<?x8xf32>>
    return %r : tensor<?x8xf32>
  }
}
