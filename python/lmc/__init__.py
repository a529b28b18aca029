"""Python tooling for the lmc GPT training compiler.

Subpackages:
  lmc.models     -- builders that emit lmc dialect MLIR text
  lmc.reference  -- NumPy reference forward pass and loss
  lmc.safetensors -- NumPy-only safetensors reader/writer
  lmc.testing    -- end-to-end test case generation and checking
"""

__all__ = ["models", "reference", "safetensors", "testing"]
