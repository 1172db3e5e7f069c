"""Attention layers Keras has and tfjs-layers lacks: MultiHeadAttention, EinsumDense, Attention
(Luong), AdditiveAttention (Bahdanau). They come from Keras-converted artifacts (the Python
``tensorflowjs`` converter writes any Keras layer's config; tfjs itself could not load them).

Weights stay in the Keras layout (``EinsumDense`` kernels such as ``(dim, heads, key_dim)``) and
are applied with ``torch.einsum``. Weight names: Keras 2 files hold ``<mha>/query/kernel`` ...
``<mha>/attention_output/bias``; Keras 3 ``.keras`` files ``<mha>/query_dense/0`` ...
``<mha>/output_dense/1`` (after :func:`.build._keras3_alias`).

Call protocol: Keras 2 nodes give MultiHeadAttention its query as the input and ``value`` /
``key`` / ``attention_mask`` (tensors) and ``use_causal_mask`` / ``return_attention_scores``
(literals) as ``call_kwargs``; Keras 3 nodes give positional ``(query, value[, key])`` as a list
and the rest as ``call_kwargs`` too. Dropout inside the layers is applied in training mode only.
Incoming Keras masks (``mask=``) are honoured as Keras does: a query mask zeroes nothing but
masks rows, a value mask hides key positions.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .base import KerasLayer, LayerSpec, WeightScope
from .core import layer_activation
from .registry import register_layer

_LARGE_NEGATIVE = 1e9  # Keras's masking adder for float32 scores


def _listify(inputs: Any) -> List[torch.Tensor]:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _mask_list(mask: Any, n: int) -> List[Optional[torch.Tensor]]:
    masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
    return (masks + [None] * n)[:n]


def _dropout(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    return F.dropout(x, rate, training=True) if training and rate > 0.0 else x


# --------------------------------------------------------------------------------------------
# EinsumDense
# --------------------------------------------------------------------------------------------

def _einsum_equation(equation: str) -> str:
    """Keras equations may use any letters; torch.einsum wants letters and ``...`` only."""
    return equation.replace(" ", "")


class _EinsumProjection:
    """The math of one EinsumDense (also MultiHeadAttention's projections)."""

    @staticmethod
    def apply(x: torch.Tensor, equation: str, kernel: torch.Tensor,
              bias: Optional[torch.Tensor]) -> torch.Tensor:
        y = torch.einsum(equation, x, kernel)
        return y if bias is None else y + bias


@register_layer("EinsumDense")
class EinsumDense(KerasLayer):
    """``activation(einsum(equation, x, kernel) + bias)``; the bias (shape as Keras stores it,
    with 1s on non-bias axes) broadcasts against the output's trailing axes."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.equation = _einsum_equation(str(spec.require("equation")))
        if "->" not in self.equation or self.equation.count(",") != 1:
            raise spec.error(f"unsupported einsum equation {self.equation!r} (want 'in,kernel->out')")
        if spec.config.get("lora_rank"):
            raise spec.error("LoRA-enabled EinsumDense (lora_rank) is not supported")
        if spec.config.get("quantization_config") or spec.config.get("quantization_mode"):
            raise spec.error("quantized EinsumDense (int8 / float8 kernels) is not supported")
        self.kernel = self.add_keras_weight("kernel", spec.weight("kernel", 0))
        self.bias = None
        if spec.config.get("bias_axes"):
            self.bias = self.add_keras_weight("bias", spec.weight("bias", 1))
        self.activation = layer_activation(spec)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self.activation(_EinsumProjection.apply(inputs, self.equation, self.kernel, self.bias))


# --------------------------------------------------------------------------------------------
# MultiHeadAttention
# --------------------------------------------------------------------------------------------

#: (Keras 2 sublayer name, Keras 3 sublayer name) of the four projections.
_MHA_PARTS = {"query": ("query", "query_dense"), "key": ("key", "key_dense"),
              "value": ("value", "value_dense"), "output": ("attention_output", "output_dense")}


def _sub_scope(spec: LayerSpec, names: Sequence[str]) -> WeightScope:
    for name in names:
        if spec.weights.has_prefix(name):
            return spec.weights.sub(name, f"{spec.name}/{name}")
    return spec.weights.sub(names[0], f"{spec.name}/{names[0]}")


@register_layer("MultiHeadAttention")
class MultiHeadAttention(KerasLayer):
    """Keras ``MultiHeadAttention`` (Keras 2 and 3): query/key/value ``EinsumDense`` projections
    to ``(heads, key_dim|value_dim)``, scaled dot-product attention over the sequence axes
    (``attention_axes``: the default, every axis between batch and features, is supported),
    softmax with the combined mask (attention_mask, causal, incoming query/value masks), dropout
    in training only, then the output projection to ``output_shape`` (default: the query's
    feature size). ``return_attention_scores=True`` returns ``[output, scores]`` with scores
    ``(batch, heads, query_len, key_len)`` for rank-3 inputs."""

    accepts_call_kwargs = True
    accepts_call_kwarg_masks = True
    #: The output keeps the query's mask, as in Keras.
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        config = spec.config
        self.num_heads = int(spec.require("num_heads"))
        self.key_dim = int(spec.require("key_dim"))
        self.value_dim = int(config.get("value_dim") or self.key_dim)
        self.dropout = float(config.get("dropout") or 0.0)
        self.use_bias = bool(config.get("use_bias", True))
        self.attention_axes = config.get("attention_axes")
        if isinstance(self.attention_axes, int):
            self.attention_axes = [self.attention_axes]
        if config.get("use_gate"):
            raise spec.error("use_gate=True (gated attention) is not supported")
        if config.get("sliding_window"):
            raise spec.error("sliding_window attention is not supported")
        self.keras3_softmax = "use_gate" in config or "seed" in config  # Keras 3 masks probs too
        for part, names in _MHA_PARTS.items():
            scope = _sub_scope(spec, names)
            kernel = scope.get("kernel", 0)
            assert kernel is not None
            self.add_keras_weight(f"{part}_kernel", kernel)
            bias = scope.get("bias", 1, required=False) if self.use_bias else None
            if bias is not None:
                self.add_keras_weight(f"{part}_bias", bias)
            else:
                setattr(self, f"{part}_bias", None)
        if tuple(self.query_kernel.shape[-2:]) != (self.num_heads, self.key_dim):
            raise spec.error(f"query kernel shape {tuple(self.query_kernel.shape)} does not match "
                             f"num_heads={self.num_heads}, key_dim={self.key_dim}")

    # --- helpers ---------------------------------------------------------------------------------
    def _project(self, x: torch.Tensor, part: str) -> torch.Tensor:
        """(batch, seq, dim) → (batch, seq, heads, size)."""
        kernel = getattr(self, f"{part}_kernel")
        y = torch.einsum("bsd,dhk->bshk", x, kernel)
        bias = getattr(self, f"{part}_bias")
        return y if bias is None else y + bias

    def _flatten_axes(self, x: torch.Tensor, name: str) -> Tuple[torch.Tensor, Tuple[int, ...]]:
        """Rank > 3 inputs attend over every axis between batch and features (the default
        ``attention_axes``): flatten them into one sequence axis."""
        rank = x.dim()
        if rank < 3:
            raise ValueError(f"layer '{self.keras_name}': {name} must have rank >= 3, got {tuple(x.shape)}")
        axes = self.attention_axes
        if axes is not None:
            normalized = sorted(int(a) % rank for a in axes)
            if normalized != list(range(1, rank - 1)):
                raise ValueError(
                    f"layer '{self.keras_name}': attention_axes={list(axes)} on rank-{rank} inputs "
                    "is not supported (only attention over every axis between batch and features)")
        inner = tuple(x.shape[1:-1])
        return x.reshape(x.shape[0], -1, x.shape[-1]), inner

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None,
                call_kwargs: Optional[Dict[str, Any]] = None,
                call_kwarg_masks: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = dict(call_kwargs or {})
        kw_masks = dict(call_kwarg_masks or {})
        tensors = _listify(inputs)
        masks = _mask_list(mask, 3)
        query = tensors[0]
        value = kwargs.pop("value", tensors[1] if len(tensors) > 1 else None)
        key = kwargs.pop("key", tensors[2] if len(tensors) > 2 else None)
        if value is None:
            raise ValueError(f"layer '{self.keras_name}': MultiHeadAttention needs a value tensor")
        # Keras masks: the tensors' own (propagated) masks, or explicit *_mask call kwargs.
        query_mask = kwargs.pop("query_mask", masks[0])
        value_mask = kwargs.pop("value_mask", kw_masks.get("value", masks[1]))
        key_mask = kwargs.pop("key_mask", kw_masks.get("key", masks[2] if len(tensors) > 2 else None))
        if key is None:
            key = value
        attention_mask = kwargs.pop("attention_mask", None)
        causal = bool(kwargs.pop("use_causal_mask", False))
        return_scores = bool(kwargs.pop("return_attention_scores", False))

        q, q_inner = self._flatten_axes(query, "query")
        v, _ = self._flatten_axes(value, "value")
        k, _ = self._flatten_axes(key, "key")
        q = self._project(q, "query") * (1.0 / math.sqrt(float(self.key_dim)))
        k = self._project(k, "key")
        v = self._project(v, "value")
        scores = torch.einsum("bthk,bshk->bhts", q, k)  # (batch, heads, T, S)

        combined = self._combined_mask(query, scores, query_mask, value_mask, key_mask,
                                       attention_mask, causal)
        if combined is not None:
            # -1e9 overflows float16: as Keras, the dtype's most negative value there
            scores = scores.masked_fill(~combined, max(-_LARGE_NEGATIVE,
                                                       torch.finfo(scores.dtype).min))
        probs = torch.softmax(scores, dim=-1)
        if combined is not None and self.keras3_softmax:
            probs = probs * combined.to(probs.dtype)
        dropped = _dropout(probs, self.dropout, self.is_training(training))
        context = torch.einsum("bhts,bshv->bthv", dropped, v)
        out = torch.einsum("bthv,hvo->bto", context,
                           self.output_kernel.reshape(self.num_heads, self.value_dim, -1))
        out_shape = tuple(self.output_kernel.shape[2:])
        if self.output_bias is not None:
            out = out + self.output_bias.reshape(-1)
        out = out.reshape(query.shape[0], *q_inner, *out_shape)
        if return_scores:
            if len(q_inner) > 1:
                probs = probs.reshape(probs.shape[0], self.num_heads, *q_inner, *tuple(key.shape[1:-1]))
            return [out, probs]
        return out

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        return _mask_list(mask, 1)[0]

    @staticmethod
    def _flat_mask(m: Optional[torch.Tensor], batch: int) -> Optional[torch.Tensor]:
        return None if m is None else m.reshape(batch, -1).bool()

    def _combined_mask(self, query: torch.Tensor, scores: torch.Tensor, query_mask: Any,
                       value_mask: Any, key_mask: Any, attention_mask: Any,
                       causal: bool) -> Optional[torch.Tensor]:
        """Keras ``_compute_attention_mask``: (batch, [heads,] T, S) booleans, True = attend."""
        batch, _, t, s = scores.shape
        mask: Optional[torch.Tensor] = None

        def both(a: Optional[torch.Tensor], b: torch.Tensor) -> torch.Tensor:
            return b if a is None else a & b

        qm = self._flat_mask(query_mask if isinstance(query_mask, torch.Tensor) else None, batch)
        if qm is not None:
            mask = both(mask, qm[:, :, None].expand(batch, t, s))
        for m in (value_mask, key_mask):
            fm = self._flat_mask(m if isinstance(m, torch.Tensor) else None, batch)
            if fm is not None:
                mask = both(mask, fm[:, None, :].expand(batch, t, s))
        if causal:
            tri = torch.ones(t, s, dtype=torch.bool, device=scores.device).tril()
            mask = both(mask, tri.expand(batch, t, s))
        if isinstance(attention_mask, torch.Tensor):
            am = attention_mask.bool()
            if am.dim() > 3:  # (batch, T1.., S1..) for rank > 3 inputs
                am = am.reshape(batch, t, s)
            mask = both(mask, am.expand(batch, t, s) if am.dim() == 3 else am)
        if mask is None:
            return None
        return mask.unsqueeze(1)  # broadcast over heads


# --------------------------------------------------------------------------------------------
# Attention / AdditiveAttention
# --------------------------------------------------------------------------------------------

class _BaseDenseAttention(KerasLayer):
    """Keras ``BaseDenseAttention``: ``[query, value(, key)]`` → scores → masked softmax →
    dropout (training only) → ``weights @ value``, rows of masked query steps zeroed."""

    accepts_call_kwargs = True
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.dropout = float(spec.config.get("dropout") or 0.0)
        self.causal = bool(spec.config.get("causal", False))  # Keras ≤ 2.9 config flag

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None,
                call_kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = dict(call_kwargs or {})
        tensors = _listify(inputs)
        if len(tensors) not in (2, 3):
            raise ValueError(f"layer '{self.keras_name}': {self.keras_class} takes [query, value] "
                             f"or [query, value, key], got {len(tensors)} tensor(s)")
        query, value = tensors[0], tensors[1]
        key = tensors[2] if len(tensors) > 2 else value
        q_mask, v_mask = _mask_list(mask, 2)
        scores = self._scores(query, key)
        if isinstance(v_mask, torch.Tensor):
            scores = scores - _LARGE_NEGATIVE * (~v_mask.bool()).unsqueeze(-2).to(scores.dtype)
        if self.causal or kwargs.get("use_causal_mask"):
            t, s = scores.shape[-2:]
            tri = torch.ones(t, s, dtype=torch.bool, device=scores.device).tril()
            scores = scores - _LARGE_NEGATIVE * (~tri).to(scores.dtype)
        weights = torch.softmax(scores, dim=-1)
        result = torch.matmul(_dropout(weights, self.dropout, self.is_training(training)), value)
        if isinstance(q_mask, torch.Tensor):
            result = result * q_mask.to(result.dtype).unsqueeze(-1)
        if kwargs.get("return_attention_scores"):
            return [result, weights]
        return result

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        q_mask = _mask_list(mask, 1)[0]
        return q_mask


@register_layer("Attention")
class Attention(_BaseDenseAttention):
    """Luong attention: ``score_mode="dot"``: ``q @ kᵀ`` (× ``scale`` with ``use_scale``);
    ``"concat"``: ``concat_score_weight * Σ tanh(scale * (q + k))``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.score_mode = str(spec.config.get("score_mode") or "dot")
        if self.score_mode not in ("dot", "concat"):
            raise spec.error(f"unknown score_mode {self.score_mode!r}")
        self.scale = self.concat_score_weight = None
        index = 0
        if spec.config.get("use_scale", False):
            self.add_keras_weight("scale", spec.weight("scale", index))
            index += 1
        if self.score_mode == "concat":
            self.add_keras_weight("concat_score_weight", spec.weight("concat_score_weight", index))

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-1, -2))
            return scores if self.scale is None else scores * self.scale
        summed = query.unsqueeze(-2) + key.unsqueeze(-3)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(dim=-1)


@register_layer("AdditiveAttention")
class AdditiveAttention(_BaseDenseAttention):
    """Bahdanau attention: ``Σ scale * tanh(q + k)`` (``scale`` per feature, with ``use_scale``)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.scale = None
        if spec.config.get("use_scale", True):
            self.add_keras_weight("scale", spec.weight("scale", 0))

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        t = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        if self.scale is not None:
            t = t * self.scale
        return t.sum(dim=-1)
