"""Embedding layers: Embedding (with ``mask_zero``)."""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from .base import KerasLayer, LayerSpec, Tensors
from .registry import register_layer


@register_layer("Embedding")
class Embedding(KerasLayer):
    """Looks up rows of ``embeddings`` (input_dim, output_dim). Float inputs are truncated to
    integers as tfjs's cast does; with ``mask_zero`` index 0 masks its timestep."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.embeddings = self.add_keras_weight("embeddings", spec.weight("embeddings", 0))
        self.mask_zero = bool(spec.config.get("mask_zero", False))
        self.produces_mask = self.mask_zero

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return F.embedding(inputs.long(), self.embeddings)

    def compute_mask(self, inputs: Tensors, mask: Any) -> Optional[torch.Tensor]:
        if not self.mask_zero:
            return None
        assert isinstance(inputs, torch.Tensor)
        return inputs.long() != 0
