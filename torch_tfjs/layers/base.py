"""The contract between the LayersModel builder and the per-family layer converters.

A converter is registered for a Keras class name (see :mod:`.registry`) and called with a
:class:`LayerSpec`; it returns an ``nn.Module``, normally a :class:`KerasLayer`. Parameters are
created from the artifact's weights (``spec.weight("kernel", 0)``), so no shape inference is
needed: the manifest knows every weight's shape.

Tensors between layers are in tfjs's layout (channels-last). Layers that run torch kernels
wanting NCHW view their input with :func:`torch_tfjs._layout.to_nchw` (a stride change, no data
movement) and keep weights in torch's layout; :class:`KerasWeight` remembers how to map them
back to the Keras layout for saving.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Sequence, Set, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..errors import LayerConfigError, WeightMismatchError

Tensors = Union[torch.Tensor, List[torch.Tensor]]


@dataclass
class WeightRef:
    """A weight taken from the manifest: its full manifest name and its value.

    ``store``: the mapping the value came from (the artifact's ``weights``), updated together
    with ``value`` by :meth:`replace_value`.
    """

    name: str
    value: np.ndarray
    store: Optional[MutableMapping[str, np.ndarray]] = field(default=None, repr=False,
                                                             compare=False)

    def replace_value(self, value: np.ndarray) -> None:
        """Hold ``value`` (same shape and contents: a view of the parameter made from this
        weight) instead of the decoded array, here and in ``store``, so that the decoded array
        is freed rather than kept beside its transformed copy."""
        if self.store is not None and self.store.get(self.name) is self.value:
            self.store[self.name] = value
        self.value = value


class WeightScope:
    """The manifest weights visible to one layer, keyed by the path after the layer's prefix.

    Lookup follows tfjs (``container.ts: loadWeights``) and Keras 3: the exact suffix first
    (``kernel``), then the last path token alone (``lstm_cell/kernel`` → ``kernel``: TF ≥ 2.2
    inserts the cell name), then the weight's creation index (Keras 3 names weights
    ``<layer>/0``, ``<layer>/1`` ...).
    """

    def __init__(self, entries: Dict[str, WeightRef], owner: str, consumed: Set[str]):
        self.entries = entries
        self.owner = owner
        self._consumed = consumed

    def _find(self, name: str, index: Optional[int]) -> Optional[WeightRef]:
        if name in self.entries:
            return self.entries[name]
        tail = [k for k in self.entries if k.rsplit("/", 1)[-1] == name]
        if len(tail) == 1:
            return self.entries[tail[0]]
        if index is not None and str(index) in self.entries:
            return self.entries[str(index)]
        return None

    def get(self, name: str, index: Optional[int] = None, *, required: bool = True) -> Optional[WeightRef]:
        """The weight called ``name`` (``index`` = its Keras creation order, for Keras 3 names)."""
        ref = self._find(name, index)
        if ref is None:
            if not required:
                return None
            have = ", ".join(sorted(self.entries)) or "none"
            raise WeightMismatchError(
                f"layer '{self.owner}': no weight '{name}' in the manifest (weights under this "
                f"layer: {have})")
        self._consumed.add(ref.name)
        return ref

    def sub(self, prefix: str, owner: Optional[str] = None) -> "WeightScope":
        """The scope of a nested layer whose weights live under ``prefix/``."""
        start = prefix + "/"
        entries = {k[len(start):]: v for k, v in self.entries.items() if k.startswith(start)}
        return WeightScope(entries, owner or f"{self.owner}/{prefix}", self._consumed)

    def has_prefix(self, prefix: str) -> bool:
        start = prefix + "/"
        return any(k.startswith(start) for k in self.entries)

    def names(self) -> List[str]:
        return list(self.entries)


#: ``default`` of the typed config reads meaning "the key is required".
REQUIRED: Any = object()
#: The largest size a dimension may declare (a tensor over it could not exist).
MAX_DIM = 2**31 - 1


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _as_int(value: Any) -> Optional[int]:
    """``value`` as an int when it is one (an integral float too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) <= MAX_DIM else None
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_DIM:
        return int(value)
    return None


def check_shape(value: Any, error: Callable[[Any], Exception]) -> List[Optional[int]]:
    """A config shape checked: a list of None / integers ≥ -1 (-1 and None: free); ``error(v)``
    makes the exception for a bad one."""
    if not isinstance(value, (list, tuple)):
        raise error(value)
    out: List[Optional[int]] = []
    for d in value:
        size = None if d is None else _as_int(d)
        if d is not None and (size is None or size < -1):
            raise error(value)
        out.append(None if size is None or size < 0 else size)
    return out


@dataclass
class LayerSpec:
    """What a converter gets: a layer's class, name, config and weights."""

    class_name: str
    name: str
    config: Dict[str, Any]
    weights: WeightScope
    #: Builds a nested layer from a ``{class_name, config}`` dict (wrappers, RNN cells, models).
    build_child: Callable[[Dict[str, Any], WeightScope], nn.Module] = field(repr=False, default=None)  # type: ignore[assignment]
    #: Where the artifact came from (for messages).
    source: str = ""
    #: ``generatedBy`` of the artifact, e.g. "TensorFlow.js tfjs-layers v4.22.0" or "keras v2.15.0".
    generated_by: Optional[str] = None

    @property
    def trainable(self) -> bool:
        return bool(self.config.get("trainable", True))

    @property
    def made_by_tfjs(self) -> bool:
        """Whether tfjs-layers wrote the artifact (it then runs as tfjs runs it where tfjs and
        Keras differ)."""
        generated = (self.generated_by or "").lower()
        return "tensorflow.js" in generated or "tfjs" in generated

    def weight(self, name: str, index: Optional[int] = None) -> WeightRef:
        ref = self.weights.get(name, index)
        assert ref is not None
        return ref

    def optional_weight(self, name: str, index: Optional[int] = None) -> Optional[WeightRef]:
        return self.weights.get(name, index, required=False)

    def require(self, key: str) -> Any:
        if key not in self.config:
            raise self.error(f"config lacks '{key}'")
        return self.config[key]

    def error(self, message: str) -> LayerConfigError:
        where = f"{self.source}: " if self.source else ""
        return LayerConfigError(f"{where}layer '{self.name}' ({self.class_name}): {message}")

    # --- typed config reads: a wrong type names layer, key, what was expected and found ------
    def _value(self, key: str, default: Any) -> Any:
        """The value of ``key``; ``null`` or absent gives ``default`` (Keras writes ``null`` for
        "the default"); with no default, an error."""
        value = self.config.get(key)
        if value is None:
            if default is REQUIRED:
                raise self.error(f"config lacks '{key}'")
            return default
        return value

    def bad_value(self, key: str, expected: str, found: Any) -> LayerConfigError:
        return self.error(f"config '{key}' should be {expected}, found {_show(found)}")

    def conf_int(self, key: str, default: Any = REQUIRED, *, minimum: Optional[int] = None) -> int:
        """An integer (an integral float such as ``3.0`` too), at least ``minimum``."""
        value = self._value(key, default)
        if value is default and default is not REQUIRED:
            return value
        number = _as_int(value)
        if number is None or (minimum is not None and number < minimum):
            expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")
            raise self.bad_value(key, expected, value)
        return number

    def conf_float(self, key: str, default: Any = REQUIRED) -> float:
        """A finite number."""
        value = self._value(key, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.bad_value(key, "a finite number", value)
        return float(value)

    def conf_bool(self, key: str, default: Any = REQUIRED) -> bool:
        """A JSON boolean (``"false"`` is not one: ``bool("false")`` would be True)."""
        value = self._value(key, default)
        if not isinstance(value, bool):
            if value is default and default is not REQUIRED:
                return value
            raise self.bad_value(key, "true or false", value)
        return value

    def conf_str(self, key: str, default: Any = REQUIRED) -> str:
        value = self._value(key, default)
        if not isinstance(value, str):
            if value is default and default is not REQUIRED:
                return value
            raise self.bad_value(key, "a string", value)
        return value

    def conf_enum(self, key: str, allowed: Sequence[str], default: Any = REQUIRED) -> str:
        """One of ``allowed`` (compared in snake_case, as tfjs camelCases values in memory)."""
        value = self._value(key, default)
        if value is default and default is not REQUIRED:
            return value
        name = snake(value) if isinstance(value, str) else None
        if name not in allowed:
            raise self.bad_value(key, "one of " + ", ".join(repr(a) for a in allowed), value)
        return name  # type: ignore[return-value]

    def conf_int_list(self, key: str, default: Any = REQUIRED, *,
                      minimum: Optional[int] = None) -> List[int]:
        """A list of integers (each at least ``minimum``)."""
        value = self._value(key, default)
        if value is default and default is not REQUIRED:
            return value
        items = [_as_int(v) for v in value] if isinstance(value, (list, tuple)) else None
        if items is None or any(i is None or (minimum is not None and i < minimum) for i in items):
            expected = "a list of integers" + (f" >= {minimum}" if minimum is not None else "")
            raise self.bad_value(key, expected, value)
        return items  # type: ignore[return-value]

    def conf_shape(self, key: str, default: Any = REQUIRED) -> List[Optional[int]]:
        """A shape: a list of sizes, ``null`` (or -1) for a free one."""
        value = self._value(key, default)
        if value is default and default is not REQUIRED:
            return value
        return check_shape(value, lambda found: self.bad_value(
            key, "a list of sizes (non-negative integers or null)", found))


@dataclass
class KerasWeight:
    """How one Keras weight maps onto a torch tensor of the layer.

    ``torch = keras.permute(permutation).reshape(torch_shape)``; saving inverts it.
    """

    manifest_name: str
    attr: str
    keras_shape: Tuple[int, ...]
    permutation: Optional[Tuple[int, ...]] = None
    trainable: bool = True

    def to_keras(self, tensor: torch.Tensor) -> torch.Tensor:
        t = tensor.detach()
        if self.permutation is None:
            return t.reshape(self.keras_shape)
        permuted_shape = tuple(self.keras_shape[p] for p in self.permutation)
        inverse = tuple(int(i) for i in np.argsort(self.permutation))
        return t.reshape(permuted_shape).permute(inverse)

    def keras_view(self, tensor: torch.Tensor) -> Optional[np.ndarray]:
        """:meth:`to_keras` as a NumPy view sharing ``tensor``'s memory (strides only), or None
        when the layout is not expressible so (or the tensor is not on the CPU)."""
        if tensor.device.type != "cpu":
            return None
        t = tensor.detach()
        try:
            if self.permutation is None:
                view = t.view(self.keras_shape)
            else:
                permuted_shape = tuple(self.keras_shape[p] for p in self.permutation)
                inverse = tuple(int(i) for i in np.argsort(self.permutation))
                view = t.view(permuted_shape).permute(inverse)
        except RuntimeError:  # would need a copy
            return None
        return view.numpy()


def to_tensor(value: np.ndarray, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """A torch tensor sharing memory with ``value`` when possible (weights are writable views)."""
    array = np.asarray(value)
    if not array.flags.writeable:
        array = array.copy()
    tensor = torch.from_numpy(array)
    return tensor.to(dtype) if dtype is not None and tensor.dtype != dtype else tensor


class KerasLayer(nn.Module):
    """Base class of converted layers.

    Subclasses implement ``forward(inputs, mask=None, training=None)`` (extra keyword arguments
    are accepted but only those two are passed) and may override :meth:`compute_mask`.
    ``inputs`` is one tensor, or a list for layers called on several tensors.
    ``training=None`` means "follow ``self.training``" (``model.train()`` / ``model.eval()``).
    """

    #: Whether the layer passes an incoming mask through unchanged (Keras ``supports_masking``).
    supports_masking: bool = False
    #: Whether the layer can create a mask from none (Embedding(mask_zero), Masking): the
    #: builder then calls :meth:`compute_mask` even when no mask comes in.
    produces_mask: bool = False

    def __init__(self, spec: LayerSpec):
        super().__init__()
        self.keras_name = spec.name
        self.keras_class = spec.class_name
        self.keras_config = spec.config
        self.keras_trainable = spec.trainable
        self._keras_weights: List[KerasWeight] = []

    def float_dtype_for(self, x: torch.Tensor) -> torch.dtype:
        """The float dtype a layer that makes floats of ``x`` computes in: ``x``'s own when it
        is floating-point, else the layer's (that of its dtype marker or first float parameter,
        which ``model.half()`` / ``model.to(dtype)`` cast; float32 by default)."""
        if x.is_floating_point():
            return x.dtype
        from .._loading import module_float_dtype
        return module_float_dtype(self)

    @property
    def name(self) -> str:
        """The Keras layer name (as in ``model.get_layer(name)``); same as ``keras_name``."""
        return self.keras_name

    @name.setter
    def name(self, value: str) -> None:
        self.keras_name = value

    # --- weights ---------------------------------------------------------------------------
    def add_keras_weight(self, attr: str, ref: WeightRef, *, trainable: bool = True,
                         permutation: Optional[Sequence[int]] = None,
                         torch_shape: Optional[Sequence[int]] = None,
                         memory_format: Optional[torch.memory_format] = None) -> torch.Tensor:
        """Register ``ref`` as parameter (trainable) or buffer ``attr`` in torch layout.

        The value is permuted by ``permutation`` then reshaped to ``torch_shape``. A weight is a
        parameter with ``requires_grad`` only if both it and the layer are trainable; otherwise
        still a parameter but frozen when ``trainable`` is True and the layer is not, or a buffer
        for non-trainable state (moving statistics).
        """
        source = to_tensor(ref.value)
        value = source.float() if source.dtype == torch.float64 else source
        perm = tuple(permutation) if permutation is not None else None
        if perm is not None:
            value = value.permute(perm)
        if torch_shape is not None:
            value = value.reshape(tuple(torch_shape))
        if memory_format is not None and value.dim() == 4:
            value = value.contiguous(memory_format=memory_format)
        elif perm is not None or not value.is_contiguous():
            value = value.contiguous()
        if attr in self.__dict__:  # e.g. ``self.gamma = None`` placeholder set before
            delattr(self, attr)
        if trainable:
            param = nn.Parameter(value, requires_grad=self.keras_trainable and value.is_floating_point())
            self.register_parameter(attr, param)
            registered: torch.Tensor = param
        else:
            self.register_buffer(attr, value)
            registered = value
        weight = KerasWeight(ref.name, attr, tuple(ref.value.shape), perm,
                             trainable and self.keras_trainable)
        self._keras_weights.append(weight)
        if value.untyped_storage().data_ptr() != source.untyped_storage().data_ptr():
            # Transformed into a new tensor: the decoded array becomes a view of it in the
            # Keras layout, so it is freed instead of staying alive beside the copy.
            view = weight.keras_view(registered)
            if view is not None:
                ref.replace_value(view)
        return registered

    def keras_weights(self) -> List[Tuple[str, torch.Tensor]]:
        """``(manifest name, tensor in Keras layout)`` for every weight, in creation order,
        nested layers included."""
        out = [(w.manifest_name, w.to_keras(getattr(self, w.attr))) for w in self._keras_weights]
        for child in self.children():
            if isinstance(child, KerasLayer):
                out.extend(child.keras_weights())
        return out

    # --- call protocol ---------------------------------------------------------------------
    #: The layer acts per element (broadcasting, no axis): it runs unchanged on NCHW views.
    elementwise = False
    #: :meth:`forward_channels_first` also takes a plain channels-last input (viewing it itself).
    views_its_input = False

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        """The LayersModel's layout fast path (no masks): ``inputs`` are the NCHW views of
        channels-last tensors (``_layout.to_channels_first``); returns ``(result, is_view)``,
        ``is_view`` telling whether the result is again the NCHW view of a channels-last tensor
        (else it is the layer's ordinary output), or None to run :meth:`forward` instead. Chains
        of such layers (conv → BatchNorm → activation → add → conv ...) then pass views along with
        no axis moves in between."""
        if self.elementwise:  # (the LayersModel takes this path only for a layer without hooks)
            return self.forward(inputs, training=training), True
        return None

    def compute_mask(self, inputs: Tensors, mask: Optional[Any]) -> Optional[Any]:
        """The mask of this layer's output; by default Keras semantics: pass it through if
        ``supports_masking`` else drop it."""
        return mask if self.supports_masking else None

    def is_training(self, training: Optional[bool]) -> bool:
        return self.training if training is None else bool(training)

    def extra_repr(self) -> str:
        return f"name={self.keras_name!r}"


#: Largest size, stride, rate or factor a tuple config takes (no real model comes near; a
#: corrupted stride of 65537 made a transposed convolution run for minutes).
MAX_CONF_TUPLE = 4096


def conf_tuple(spec: LayerSpec, key: str, n: int, default: Any = None, *,
               minimum: int = 1, maximum: int = MAX_CONF_TUPLE) -> Tuple[int, ...]:
    """A config value that Keras allows as an int or an n-tuple, as an n-tuple of ints (each at
    least ``minimum``: sizes, strides and rates are positive; at most ``maximum``)."""
    value = spec.config.get(key, default)
    if value is None:
        value = default
    if value is None:
        raise spec.error(f"config lacks '{key}'")
    expected = f"an integer in {minimum}..{maximum} or a list of {n}"
    if isinstance(value, (list, tuple)):
        items = [_as_int(v) for v in value]
    else:
        items = [_as_int(value)] * n
    if not items or any(i is None or i < minimum or i > maximum for i in items):
        raise spec.bad_value(key, expected, value)
    if len(items) == 1 and n > 1:
        items = items * n
    if len(items) != n:
        raise spec.error(f"'{key}' should have {n} values, got {list(value)}")
    return tuple(items)  # type: ignore[arg-type]


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(value: Any) -> Any:
    """Normalise a config string to snake_case (tfjs camelCases values in memory; files hold
    snake_case, but hand-made files may not)."""
    if isinstance(value, str):
        return _CAMEL.sub("_", value).lower() if any(c.isupper() for c in value) else value
    return value


def data_format(spec: LayerSpec) -> str:
    """``channels_last`` or ``channels_first`` (Keras default channels_last)."""
    return spec.conf_enum("data_format", ("channels_last", "channels_first"), "channels_last")
