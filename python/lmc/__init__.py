"""Python tooling for the lmc GPT training compiler.

Subpackages:
  lmc.models     -- builders that emit lmc dialect MLIR text (gpt2, llama)
  lmc.reference  -- NumPy reference forward pass and loss (GPT-2)
  lmc.reference_llama -- NumPy reference of the Llama family (forward, step)
  lmc.hf         -- Llama exchange with Hugging Face (export, import check)
  lmc.safetensors -- NumPy-only safetensors reader/writer
  lmc.plot       -- loss curves of trainer JSONL logs (matplotlib)
  lmc.testing    -- end-to-end test case generation and checking
"""

# lmc's version, the same as `lmc --version` prints (CMakeLists.txt).
__version__ = "0.1.0"

__all__ = ["models", "reference", "safetensors", "testing"]
