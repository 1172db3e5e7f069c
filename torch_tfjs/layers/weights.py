"""The artifact's weights as layers look them up (:class:`WeightIndex`): tfjs's name fallbacks,
model-name prefixes (Keras 3 under TF >= 2.16) and Keras 3 ``.keras`` storage paths
(``layers/conv2d_1/vars/0``) mapped back to layer names.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, MutableMapping, Optional, Sequence, Set, Tuple

import numpy as np

from .base import WeightRef, WeightScope


# --------------------------------------------------------------------------------------------

class WeightIndex:
    """All model weights of the artifact, looked up by layer name.

    A manifest name ``a/b/c`` is visible to layer ``a`` as ``b/c`` (and to a layer named
    ``a/b`` as ``c``). Names prefixed by a model
    name (Keras 3 under TF ≥ 2.16 writes ``sequential/conv2d/kernel``) are also visible
    without the prefix.
    """

    def __init__(self, weights: Mapping[str, np.ndarray], model_names: Sequence[str],
                 top_layers: Sequence[Mapping[str, Any]] = ()):
        # Each ref writes back to ``weights`` when a layer replaces its decoded array by a view of
        # the parameter it became (WeightRef.replace_value): no decoded copy outlives its layer.
        store = weights if isinstance(weights, MutableMapping) else None
        self.refs = {name: WeightRef(name, value, store) for name, value in weights.items()}
        self.consumed: Set[str] = set()
        self._by_layer: Dict[str, Dict[str, WeightRef]] = {}
        prefixes = [m + "/" for m in model_names if m]
        keras3 = any(n.startswith("layers/") and "/vars/" in n for n in self.refs)
        storage_cache: Dict[int, Dict[str, Tuple[str, Mapping[str, Any]]]] = {}
        for name, ref in self.refs.items():
            alias = _keras3_alias(name, top_layers, storage_cache) if keras3 else None
            if alias is not None:
                layer, rest = alias
                self._by_layer.setdefault(layer, {}).setdefault(rest, ref)
                continue
            head, _, rest = name.partition("/")
            self._by_layer.setdefault(head, {}).setdefault(rest, ref)
            for prefix in prefixes:
                if name.startswith(prefix):
                    stripped = name[len(prefix):]
                    h2, _, r2 = stripped.partition("/")
                    if r2:
                        self._by_layer.setdefault(h2, {}).setdefault(r2, ref)

    def scope(self, layer_name: str) -> WeightScope:
        entries = dict(self._by_layer.get(layer_name, {}))
        if "/" in layer_name:  # Keras allows "conv1/conv" (DenseNet): match the whole name
            head, _, rest = layer_name.partition("/")
            start = rest + "/"
            entries.update({k[len(start):]: v for k, v in self._by_layer.get(head, {}).items()
                            if k.startswith(start)})
        if not entries:
            # A layer built outside the model (a Normalization adapted before it joined) has
            # weights without a layer prefix ("mean", "variance", "count"): offer unclaimed ones.
            entries = {name: self.refs[name] for name in self.refs
                       if "/" not in name and name not in self.consumed}
        return WeightScope(entries, layer_name, self.consumed)

    def unused(self) -> List[str]:
        return [n for n in self.refs if n not in self.consumed]


def _keras_snake(class_name: str) -> str:
    """Keras's ``naming.to_snake_case`` (used for ``.keras`` weight-storage paths)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras3_storage_paths(layers: Sequence[Mapping[str, Any]]) -> Dict[str, Tuple[str, Mapping[str, Any]]]:
    """``.keras`` files store a model's layers as ``layers/<snake class>[_<n>]`` numbered per
    class in layer order; the converter keeps those paths as weight names
    (``layers/conv2d_1/vars/0``). Maps each storage name to (layer name, layer config)."""
    counts: Dict[str, int] = {}
    out: Dict[str, Tuple[str, Mapping[str, Any]]] = {}
    for layer in layers:
        if not isinstance(layer, Mapping):
            continue
        base = _keras_snake(str(layer.get("class_name", "")))
        n = counts.get(base, 0)
        counts[base] = n + 1
        config = layer.get("config") or {}
        out[base if n == 0 else f"{base}_{n}"] = (str(config.get("name") or layer.get("name")), config)
    return out


def _keras3_alias(name: str, layers: Sequence[Mapping[str, Any]],
                  cache: Dict[int, Dict[str, Tuple[str, Mapping[str, Any]]]]) -> Optional[Tuple[str, str]]:
    """``layers/<storage>/<inner...>/vars/<i>`` → (layer name, path the layer's converter
    reads). Nested models continue as ``layers/<model storage>/layers/<storage>/...``; ``cell``
    and TimeDistributed's ``layer`` levels disappear, Bidirectional's ``forward_layer`` /
    ``backward_layer`` become ``forward_<inner>`` / its backward layer's name."""
    parts = name.split("/")
    if len(parts) < 4 or parts[-2] != "vars":
        return None
    position = 0
    while True:
        if parts[position] != "layers" or position + 1 >= len(parts) - 2:
            return None
        if id(layers) not in cache:  # one storage map per layers list, not per weight
            cache[id(layers)] = _keras3_storage_paths(layers)
        paths = cache[id(layers)]
        if parts[position + 1] not in paths:
            return None
        layer_name, config = paths[parts[position + 1]]
        nested = config.get("layers")
        if isinstance(nested, list) and parts[position + 2] == "layers":  # a nested model
            layers, position = nested, position + 2  # the config's own list: a stable cache key
            continue
        break
    inner_name = str(((config.get("layer") or {}).get("config") or {}).get("name") or "")
    backward_name = str(((config.get("backward_layer") or {}).get("config") or {}).get("name") or "")
    inner: List[str] = []
    for part in parts[position + 2:-2]:
        if part in ("cell", "layer"):
            continue
        if part == "forward_layer":  # the names our Bidirectional gives its two layers
            inner.append(f"forward_{inner_name}")
        elif part == "backward_layer":
            inner.append(backward_name or f"backward_{inner_name}")
        else:
            inner.append(part)
    return layer_name, "/".join(inner + [parts[-1]])
