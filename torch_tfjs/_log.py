"""The ``torch_tfjs`` logger (what the loader decides: format, source, shards and bytes,
quantization, fallbacks; INFO and DEBUG) and :func:`warn_semantics` for deliberate departures
from tfjs (:class:`~torch_tfjs.errors.TfjsSemanticsWarning`).

    import logging
    logging.basicConfig()
    logging.getLogger("torch_tfjs").setLevel(logging.INFO)
"""

from __future__ import annotations

import logging
import warnings

from .errors import TfjsSemanticsWarning

logger = logging.getLogger("torch_tfjs")


def warn_semantics(message: str, stacklevel: int = 2) -> None:
    """Warn that a model deliberately runs as TF / Keras do where tfjs differs."""
    warnings.warn(message, TfjsSemanticsWarning, stacklevel=stacklevel + 1)
