"""Graph-op emitters, one module per tfjs op-list category. Importing this package registers
them all; adding a category means adding its name to ``CATEGORIES``."""

import importlib

CATEGORIES = (
    "graph", "arithmetic", "basic_math", "control", "convolution", "creation", "dynamic",
    "evaluation", "hash_table", "image", "logical", "matrices", "normalization", "reduction",
    "slice_join", "sparse", "spectral", "string", "transformation",
)

#: Categories split over several modules (control flow v1 beside v2).
EXTRA_MODULES = ("control_v1",)

for _category in CATEGORIES + EXTRA_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_category}")
    except ModuleNotFoundError as exc:  # a category not written yet
        if exc.name != f"{__name__}.{_category}":
            raise
