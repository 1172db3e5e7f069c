"""Imports every layer family so that its ``@register_layer`` decorators run.

Adding a family file means adding one line here.
"""

import importlib

FAMILIES = (
    "core",
    "activations",
    "conv",
    "pooling",
    "normalization",
    "merge",
    "reshaping",
    "recurrent",
    "wrappers",
    "embeddings",
    "noise",
    "preprocessing",
    "ops",
    "tf_op_layer",
    "attention",
    "augmentation",
)

for _family in FAMILIES:
    try:
        importlib.import_module(f"{__package__}.{_family}")
    except ModuleNotFoundError as exc:  # a family not written yet
        if exc.name != f"{__package__}.{_family}":
            raise
