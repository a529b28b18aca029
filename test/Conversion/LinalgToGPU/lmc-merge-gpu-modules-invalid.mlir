// RUN: lmc-opt %s --lmc-merge-gpu-modules -split-input-file -verify-diagnostics

// Tests that a module with a target already attached is an error: targets
// are attached to the merged module.

module attributes {gpu.container_module} {
  // expected-error @below {{lmc-merge-gpu-modules: has a target already; merge before attaching targets}}
  gpu.module @k [#nvvm.target<chip = "sm_90">] {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}

// -----

// Tests that a module holding something other than one kernel (here a device
// function beside it) is an error.

module attributes {gpu.container_module} {
  // expected-error @below {{lmc-merge-gpu-modules: expected one kernel, as gpu-kernel-outlining makes them}}
  gpu.module @k {
    gpu.func @helper() {
      gpu.return
    }
    gpu.func @k() kernel {
      gpu.return
    }
  }
}

// -----

// Tests that the merged module's name must be free.

module attributes {gpu.container_module} {
  // expected-error @below {{lmc-merge-gpu-modules: the name 'lmc_kernels' is taken}}
  func.func @lmc_kernels() {
    return
  }
  gpu.module @k {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}
