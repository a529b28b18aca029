// RUN: lmc-opt %s -convert-lmc-to-linalg | FileCheck %s

// Tests that a model function may have the model's own name: the model is
// dissolved, so after the conversion the function is the only symbol of that
// name in the module and nothing clashes. (Known problem: the clash check
// looks the name up before the model is erased and reports the model itself
// as the clashing symbol.)

// CHECK-NOT:   lmc.model
// CHECK-LABEL: func.func @main()
// CHECK-NEXT:    return
// CHECK-NOT:   lmc.model
lmc.model @main {
  func.func @main() {
    return
  }
}
