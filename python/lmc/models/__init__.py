"""Model builders that emit lmc dialect MLIR text (lmc.models.gpt2, and the
Llama family in lmc.models.llama)."""

_GPT2_API = ("GPT2Config", "PRESETS", "emit_model", "param_specs", "num_params",
             "flops_per_token")
_SHARED_API = ("pad_vocab", "padded_size")


def __getattr__(name):
    # Lazy re-export, so `python3 -m lmc.models.gpt2` does not import it twice.
    if name in _GPT2_API:
        from lmc.models import gpt2
        return getattr(gpt2, name)
    if name in _SHARED_API:
        from lmc.models import mlir_text
        return getattr(mlir_text, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
