"""Wrapper layers: TimeDistributed and Bidirectional (tfjs-layers ``wrappers.ts``)."""

from __future__ import annotations

from typing import Any, List, Optional

import torch

from .base import KerasLayer, LayerSpec, Tensors, WeightScope
from .recurrent import RNN, split_rnn_call
from .registry import register_layer


def _inner_scope(scope: WeightScope, name: str) -> WeightScope:
    return scope.sub(name) if name and scope.has_prefix(name) else scope


def _inner_name(config: Any) -> str:
    return str(((config or {}).get("config") or {}).get("name") or "")


@register_layer("TimeDistributed")
class TimeDistributed(KerasLayer):
    """Applies the wrapped layer to every timestep: (batch, time, ...) is folded to
    (batch·time, ...) for one call, then unfolded."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        inner = spec.require("layer")
        self.layer = spec.build_child(inner, _inner_scope(spec.weights, _inner_name(inner)))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        batch, time = inputs.shape[:2]
        folded = inputs.reshape(batch * time, *inputs.shape[2:])
        out = self.layer(folded, training=training) if isinstance(self.layer, KerasLayer) else self.layer(folded)
        return out.reshape(batch, time, *out.shape[1:])


@register_layer("Bidirectional")
class Bidirectional(KerasLayer):
    """Runs a recurrent layer forwards and a copy backwards and merges their outputs
    (``merge_mode`` concat / sum / mul / ave, or None for both). The backward sequence is
    re-reversed before merging, as Keras does. Weights live under ``forward_<name>`` and
    ``backward_<name>`` (tfjs and Keras naming)."""

    supports_masking = True
    MERGE_MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        inner = spec.require("layer")
        name = _inner_name(inner)
        backward_config = spec.config.get("backward_layer")
        self.merge_mode = spec.config.get("merge_mode", "concat")
        if self.merge_mode not in self.MERGE_MODES:
            raise spec.error(f"unknown merge_mode {self.merge_mode!r}")
        self.forward_layer = spec.build_child(self._renamed(inner, "forward_" + name, False),
                                              self._scope(spec, "forward_" + name))
        if backward_config is not None:  # Keras saves it already reversed (go_backwards=True)
            backward_name = _inner_name(backward_config)
            backward = self._renamed(backward_config, backward_name, False)
        else:
            backward_name = "backward_" + name
            backward = self._renamed(inner, backward_name, True)
        self.backward_layer = spec.build_child(backward, self._scope(spec, backward_name))
        for layer in (self.forward_layer, self.backward_layer):
            if not isinstance(layer, RNN):
                raise spec.error(f"wraps {type(layer).__name__}, not a recurrent layer")
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state

    @staticmethod
    def _renamed(config: Any, name: str, backwards: bool) -> Any:
        inner = dict(config.get("config") or {})
        inner["name"] = name
        # The backward copy runs reversed (relative to the forward one, if that is reversed).
        inner["go_backwards"] = (not bool(inner.get("go_backwards", False))) if backwards else bool(
            inner.get("go_backwards", False))
        return {**config, "config": inner}

    @staticmethod
    def _scope(spec: LayerSpec, name: str) -> WeightScope:
        if spec.weights.has_prefix(name):
            return spec.weights.sub(name)
        raise spec.error(f"no weights under '{name}/' (weights: {', '.join(spec.weights.names())})")

    def forward(self, inputs: Tensors, mask: Any = None, training: Optional[bool] = None) -> Tensors:
        x, initial, mask = split_rnn_call(inputs, mask)
        half = len(initial) // 2
        fwd_in = [x, *initial[:half]] if initial else x
        bwd_in = [x, *initial[half:]] if initial else x
        fwd = self.forward_layer(fwd_in, mask=mask, training=training)
        bwd = self.backward_layer(bwd_in, mask=mask, training=training)
        fwd_states: List[torch.Tensor] = []
        bwd_states: List[torch.Tensor] = []
        if self.return_state:
            fwd, *fwd_states = fwd
            bwd, *bwd_states = bwd
        if self.return_sequences:
            bwd = torch.flip(bwd, [1])
        if self.merge_mode == "concat":
            merged: Any = torch.cat([fwd, bwd], dim=-1)
        elif self.merge_mode == "sum":
            merged = fwd + bwd
        elif self.merge_mode == "mul":
            merged = fwd * bwd
        elif self.merge_mode == "ave":
            merged = (fwd + bwd) / 2
        else:
            merged = [fwd, bwd]
        outputs = merged if isinstance(merged, list) else [merged]
        if self.return_state:
            return [*outputs, *fwd_states, *bwd_states]
        return outputs if len(outputs) > 1 else outputs[0]

    def compute_mask(self, inputs: Tensors, mask: Any) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            outs += [None] * (2 * self.forward_layer.cell.state_count)
        return outs if len(outs) > 1 else outs[0]
