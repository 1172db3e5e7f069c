"""The LayersModel runtime: calling a built Keras topology (:class:`LayersModel`) — input
matching through its :class:`~torch_tfjs.signature.Signature`, the node-by-node run with masks,
NCHW views between conv layers and conv → BatchNormalization folding at inference, ``summary``.
:mod:`.build` builds it.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import torch
from torch import nn
from torch.nn.modules import module as _module_api

from .._allocator import enter_call, leave_call
from .._layout import to_channels_first, to_channels_last
from .._loading import DTYPE_MARKER, add_dtype_marker, module_float_dtype
from .._predict import predict as _predict
from ..errors import ExecutionError, LayerNotFoundError, TfjsError, describe_exception
from ..signature import Signature, TensorSpec
from .base import KerasLayer, LayerSpec, Tensors
from .topology import CallInputRef, LayerCall, TensorKey, tensor_keys

#: Out-of-memory is the machine's limit, not the model's fault: passed through as torch raises it.
_OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", MemoryError)


class LayersModel(KerasLayer):
    """A tfjs LayersModel as an ``nn.Module``.

    Call it as tfjs ``predict``: ``model(x)``, ``model(x1, x2)`` or ``model({"input_1": x1})``;
    one output comes back as a tensor, several as a list in ``output_names`` order.
    ``model.eval()`` reproduces ``predict``; ``model.train()`` turns on Dropout-family layers
    and BatchNormalization batch statistics as Keras's ``training=True``.
    """

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self._layer_attrs: Dict[str, str] = {}
        self._layer_order: List[str] = []
        self._nodes: List[LayerCall] = []
        self._inputs: List[TensorKey] = []
        self._outputs: List[TensorKey] = []
        #: What the model takes and returns (set by the builder from the topology).
        self.signature = Signature([], [])
        self._input_layers: Set[str] = set()
        add_dtype_marker(self)

    @property
    def float_dtype(self) -> torch.dtype:
        """The floating-point dtype the model computes in (float inputs are cast to it):
        float32 unless loaded with ``dtype=`` or cast (``model.half()``, ``model.to(dtype)``)."""
        return module_float_dtype(self)

    # --- construction helpers (used by Builder) --------------------------------------------
    def _add_layer(self, name: str, module: nn.Module) -> None:
        attr = name.replace(".", "_") or "layer"
        if attr in self._modules or (hasattr(self, attr) and attr not in self._modules):
            attr = f"layer_{attr}"
        while attr in self._modules:
            attr += "_"
        self.add_module(attr, module)
        self._layer_attrs[name] = attr
        self._layer_order.append(name)

    # --- public API -------------------------------------------------------------------------
    @property
    def input_names(self) -> List[str]:
        return self.signature.input_names

    @property
    def output_names(self) -> List[str]:
        return [key[0] for key in self._outputs]

    @property
    def input_specs(self) -> List[TensorSpec]:
        """The model inputs (``signature.inputs``)."""
        return self.signature.inputs

    @property
    def layers(self) -> List[nn.Module]:
        """Layers in topology order (InputLayers included, as in Keras)."""
        return [self._layer(n) for n in self._layer_order]

    @property
    def layer_names(self) -> List[str]:
        return list(self._layer_order)

    def _layer(self, name: str) -> Any:
        """The module of layer ``name`` (typed ``Any``: converters return any ``nn.Module``,
        and the fast paths ask KerasLayers for their own methods)."""
        return self._modules[self._layer_attrs[name]]

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> nn.Module:
        """A layer by Keras name, or by ``index`` into :attr:`layers` (topology order,
        InputLayers included), as Keras ``Model.get_layer``. An unknown name raises
        :class:`~torch_tfjs.errors.LayerNotFoundError` (a ``KeyError`` and ``ValueError``)
        naming the closest layer names."""
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: pass a name or an index, not both")
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"get_layer: index must be an int, got {type(index).__name__}")
            count = len(self._layer_order)
            if not -count <= index < count:
                raise LayerNotFoundError(f"model '{self.keras_name}' has {count} layers; no "
                                         f"layer at index {index}")
            return self._layer(self._layer_order[index])  # type: ignore[no-any-return]
        if name is None:
            raise ValueError("get_layer: pass a layer name or an index")
        if name not in self._layer_attrs:
            close = difflib.get_close_matches(str(name), self._layer_order, n=3, cutoff=0.5)
            hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
                    else f" ({len(self._layer_order)} layers: model.layer_names lists them)")
            raise LayerNotFoundError(f"no layer named {name!r} in model '{self.keras_name}'{hint}")
        return self._layer(name)  # type: ignore[no-any-return]

    def predict(self, *inputs: Any, batch_size: int = 32) -> Any:
        """Keras / tfjs ``predict``: NumPy arrays (or tensors; one per input, a list or a dict
        by name) in, NumPy arrays out, run in batches of ``batch_size`` in eval mode without
        autograd (the mode is restored afterwards)."""
        return _predict(self, self.signature, inputs, batch_size)

    def keras_weights(self) -> List[Tuple[str, torch.Tensor]]:
        out: List[Tuple[str, torch.Tensor]] = []
        for layer in self.layers:
            if isinstance(layer, KerasLayer):
                out.extend(layer.keras_weights())
        return out

    # --- calling ----------------------------------------------------------------------------
    def forward(self, *args: Any, mask: Any = None, training: Optional[bool] = None) -> Any:
        entered = enter_call()  # activations reuse freed heap pages call after call (_allocator)
        try:
            inputs = self.signature.check(self.signature.bind(args), module_float_dtype(self))
            masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(inputs)
            outputs, out_masks = self._run(inputs, list(masks), training)
        finally:
            leave_call(entered)
        self._last_output_masks = out_masks
        return outputs[0] if len(outputs) == 1 else outputs

    _last_output_masks: Any = None

    def compute_mask(self, inputs: Tensors, mask: Any) -> Any:
        masks = self._last_output_masks
        if masks is None:
            return None
        return masks[0] if len(masks) == 1 else masks

    def _run(self, inputs: Sequence[torch.Tensor], masks: Sequence[Any],
             training: Optional[bool]) -> Tuple[List[torch.Tensor], List[Any]]:
        """Run the layer calls; a failure inside a layer (a shape it cannot take) is an
        :class:`ExecutionError` naming the layer. Under ``torch.compile`` / ``torch.export`` the
        calls are traced as they are."""
        if torch.compiler.is_compiling():
            return self._run_nodes(inputs, masks, training, [None])
        at: List[Optional[LayerCall]] = [None]  # the call running (per call: thread-safe)
        try:
            return self._run_nodes(inputs, masks, training, at)
        except (TfjsError, MemoryError, _OUT_OF_MEMORY):
            raise
        except Exception as exc:  # noqa: BLE001 - reported as the layer's failure
            node = at[0]
            where = (f"layer '{node.layer}' ({type(self._modules[self._layer_attrs[node.layer]]).__name__})"
                     if node is not None else "the model")
            raise ExecutionError(f"{self.signature.model if self.signature else self.keras_name}: "
                                 f"running {where} failed: {describe_exception(exc)}") from exc

    def _run_nodes(self, inputs: Sequence[torch.Tensor], masks: Sequence[Any],
                   training: Optional[bool], at: List[Optional[LayerCall]]
                   ) -> Tuple[List[torch.Tensor], List[Any]]:
        values: Dict[TensorKey, torch.Tensor] = {}
        value_masks: Dict[TensorKey, Any] = {}
        for key, tensor, m in zip(self._inputs, inputs, masks):
            values[key] = tensor
            value_masks[key] = m

        def value_of(key: TensorKey) -> torch.Tensor:
            if key not in values:  # only its NCHW view was made
                values[key] = to_channels_last(views[key])
            return values[key]

        def fetch(structure: Any, table: Mapping[TensorKey, Any]) -> Any:
            return _gather(structure, value_of if table is values else table.__getitem__)

        # Fast paths call layers' own kernels, not the modules: a hooked layer (or a global hook)
        # runs as a plain module call, so hooks fire and see channels-last tensors.
        fast = not (_module_api._global_forward_hooks or _module_api._global_forward_pre_hooks
                    or _module_api._global_backward_hooks)
        folds = self._batch_norm_folds() if fast else {}
        folded: Set[int] = set()
        # NCHW views of channels-last values, passed between layers that run on them
        # (KerasLayer.forward_channels_first): no axis moves inside conv chains.
        views: Dict[TensorKey, torch.Tensor] = {}

        def view_of(key: TensorKey) -> torch.Tensor:
            view = views.get(key)
            if view is None:  # kept: a value read by several view-taking layers is viewed once
                view = views[key] = to_channels_first(values[key])
            return view

        def store(key: TensorKey, result: torch.Tensor, is_view: bool) -> None:
            if is_view:
                views[key] = result  # the channels-last value is made when a layer asks for it
            else:
                values[key] = result
            value_masks[key] = None

        released, flat = self._call_plan()
        for position, node in enumerate(self._nodes):
            for key in released[position - 1] if position else ():  # read by no later node
                values.pop(key, None)
                views.pop(key, None)
                value_masks.pop(key, None)
            if position in folded:
                continue
            at[0] = node
            layer = self._layer(node.layer)
            arg_masks = ([value_masks[k] for k in node.inputs] if flat[position]
                         else fetch(node.inputs, value_masks))
            if position in folds and arg_masks[0] is None:
                bn_node = self._nodes[folds[position]]
                bn = self._layer(bn_node.layer)
                bn_flag = bn_node.training if bn_node.training is not None else training
                if bn.infers(bn_flag) and not (_hooked(layer) or _hooked(bn)):  # conv → inference BatchNorm as one convolution
                    if layer.views_its_input:
                        y = layer.run_with_batch_norm(view_of(node.inputs[0]), bn, True)
                        store((bn_node.layer, bn_node.index, 0), y, True)
                    else:
                        store((bn_node.layer, bn_node.index, 0),
                              layer.run_with_batch_norm(fetch(node.inputs[0], values), bn), False)
                    folded.add(folds[position])
                    continue
            if fast and flat[position] and isinstance(layer, KerasLayer) and not _hooked(layer) \
                    and all(mk is None for mk in arg_masks) and not isinstance(layer, LayersModel) \
                    and (all(k in views for k in node.inputs)
                         or (layer.views_its_input and len(node.inputs) == 1)
                         # an elementwise merge of a view and a value (a residual Add): the
                         # value's view costs one stride change, and the result stays a view
                         or (layer.elementwise and any(k in views for k in node.inputs))):
                inputs_nchw = [view_of(k) for k in node.inputs]
                if len({t.dim() for t in inputs_nchw}) == 1:
                    flag = node.training if node.training is not None else training
                    out = layer.forward_channels_first(inputs_nchw if node.as_list else inputs_nchw[0], flag)
                    if out is not None:
                        store((node.layer, node.index, 0), *out)
                        continue
            args = fetch(node.inputs, values)
            if node.positional is not None:  # kwarg tensors ride along after the positional ones
                args, kw_args = args[:node.positional], args
                arg_masks, kw_masks = arg_masks[:node.positional], arg_masks
            x = args if node.as_list else args[0]
            m = arg_masks if node.as_list else arg_masks[0]
            extra: Dict[str, Any] = {}
            if node.call_kwargs and getattr(layer, "accepts_call_kwargs", False):
                full = kw_args if node.positional is not None else args
                extra["call_kwargs"] = {k: full[v.index] if isinstance(v, CallInputRef) else v
                                        for k, v in node.call_kwargs.items()}
                # Keras masks of kwarg tensors (MultiHeadAttention's value= / key= carry their
                # Embedding masks) for layers that ask for them.
                if getattr(layer, "accepts_call_kwarg_masks", False) and node.positional is not None:
                    extra["call_kwarg_masks"] = {k: kw_masks[v.index] for k, v in node.call_kwargs.items()
                                                 if isinstance(v, CallInputRef)}
            if node.constants:  # put the literal arguments back in their positions
                tensors = iter(args)
                x = [node.constants[i] if i in node.constants else next(tensors)
                     for i in range(len(args) + len(node.constants))]
            flag = node.training if node.training is not None else training
            if isinstance(layer, KerasLayer):
                if isinstance(layer, LayersModel):  # a nested model: its inputs are positional
                    result = layer(*(x if isinstance(x, list) else [x]), mask=m, training=flag)
                else:
                    result = layer(x, mask=m, training=flag, **extra)
                out_mask = layer.compute_mask(x, m) if (m is not None or isinstance(layer, LayersModel)
                                                        or getattr(layer, "produces_mask", False)) else None
            else:  # a user converter returning a plain nn.Module
                result = layer(x)
                out_mask = None
            results = list(result) if isinstance(result, (list, tuple)) else [result]
            out_masks = list(out_mask) if isinstance(out_mask, (list, tuple)) else [out_mask] * len(results)
            for i, (r, om) in enumerate(zip(results, out_masks)):
                values[(node.layer, node.index, i)] = r
                value_masks[(node.layer, node.index, i)] = om
        return (fetch(list(self._outputs), values), [value_masks.get(k) for k in self._outputs])

    _fold_plan: Optional[Dict[int, int]] = None
    _plan: Optional[Tuple[List[List[TensorKey]], List[bool]]] = None

    def _call_plan(self) -> Tuple[List[List[TensorKey]], List[bool]]:
        """Per node position: the tensors that no later node reads (the model's outputs
        excepted), and whether the node is a plain call (tensor inputs only, no literal or
        keyword arguments). A call drops those tensors as it goes, as torch.fx code does, so an
        activation's memory is reused, still in cache, by the next layers instead of every
        activation of the call staying alive to its end. Worked out once, on the first call."""
        if self._plan is None:
            last_reader: Dict[TensorKey, int] = {}
            for position, node in enumerate(self._nodes):
                for key in tensor_keys(node.inputs):
                    last_reader[key] = position
            plan: List[List[TensorKey]] = [[] for _ in self._nodes]
            outputs = set(self._outputs)
            for key, position in last_reader.items():
                if key not in outputs:
                    plan[position].append(key)
            flat = [not (node.constants or node.call_kwargs or node.positional is not None)
                    and all(isinstance(k, tuple) for k in node.inputs) for node in self._nodes]
            self._plan = (plan, flat)
        return self._plan

    def _batch_norm_folds(self) -> Dict[int, int]:
        """Node position of a linear convolution → position of the BatchNormalization that alone
        reads its output (over the channel axis): pairs that inference runs as one convolution
        (the model's weights are untouched). Worked out once, on the first call."""
        if self._fold_plan is None:
            from .conv import _Conv
            from .normalization import BatchNormalization

            uses: Dict[str, int] = {}
            readers: Dict[TensorKey, List[int]] = {}
            for position, node in enumerate(self._nodes):
                uses[node.layer] = uses.get(node.layer, 0) + 1
                for key in tensor_keys(node.inputs):
                    readers.setdefault(key, []).append(position)
            plan: Dict[int, int] = {}
            outputs = set(self._outputs)
            for position, node in enumerate(self._nodes):
                conv = self._layer(node.layer)
                key = (node.layer, node.index, 0)
                if not (isinstance(conv, _Conv) and conv.foldable_kernel and conv.linear_activation
                        and uses[node.layer] == 1 and key not in outputs and len(readers.get(key, [])) == 1
                        and not (node.as_list or node.constants or node.call_kwargs)):
                    continue
                bn_position = readers[key][0]
                bn_node = self._nodes[bn_position]
                bn = self._layer(bn_node.layer)
                if (isinstance(bn, BatchNormalization) and uses[bn_node.layer] == 1
                        and bn_node.inputs == [key] and not (bn_node.as_list or bn_node.constants
                                                            or bn_node.call_kwargs)
                        and bn.axis % (conv.rank + 2) == conv.channel_axis):
                    plan[position] = bn_position
            self._fold_plan = plan
        return self._fold_plan

    # --- summary ----------------------------------------------------------------------------
    def summary(self, line_length: int = 90, print_fn: Any = print) -> str:
        """Keras-style summary: layer (type), output shape, parameter count."""
        shapes: Dict[str, str] = {}
        hooks = []
        for name in self._layer_order:
            module = self.get_layer(name)

            def hook(mod: nn.Module, _inp: Any, out: Any, _name: str = name) -> None:
                outs = out if isinstance(out, (list, tuple)) else [out]
                shapes[_name] = ", ".join(str((None, *o.shape[1:])) for o in outs if isinstance(o, torch.Tensor))
            hooks.append(module.register_forward_hook(hook))
        try:
            if any(spec.shape is None or None in spec.shape[1:] for spec in self.signature.inputs):
                raise ValueError
            dummy = self.signature.example_inputs(batch=1)
            was_training = self.training
            self.eval()
            with torch.no_grad():
                self(*dummy)
            self.train(was_training)
        except Exception:  # shapes unknown or not computable: summary still lists layers
            pass
        finally:
            for h in hooks:
                h.remove()
        for spec in self.signature.inputs:
            shapes.setdefault(spec.name, str(spec.shape))
        cols = (max(line_length // 2, 30), max(line_length // 3, 24))
        rule = "=" * line_length
        lines = [f"Model: \"{self.keras_name}\"", rule,
                 f"{'Layer (type)':<{cols[0]}}{'Output shape':<{cols[1]}}Param #", rule]
        total = trainable = 0
        for name in self._layer_order:
            module = self.get_layer(name)
            count = sum(p.numel() for p in module.parameters()) + sum(
                b.numel() for n, b in module.named_buffers() if not n.endswith(DTYPE_MARKER))
            train_count = sum(p.numel() for p in module.parameters() if p.requires_grad)
            total += count
            trainable += train_count
            kind = getattr(module, "keras_class", type(module).__name__)
            lines.append(f"{f'{name} ({kind})':<{cols[0]}}{shapes.get(name, '?'):<{cols[1]}}{count}")
        lines += [rule, f"Total params: {total}", f"Trainable params: {trainable}",
                  f"Non-trainable params: {total - trainable}", rule]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text


def _gather(structure: Any, lookup: Callable[[TensorKey], Any]) -> Any:
    """``structure`` (a tensor key, or nested lists of them) with every key looked up.

    Module level on purpose: a recursive closure is a reference cycle (function → cell →
    function) that keeps the call's whole value table, every activation, alive until Python's
    cycle collector runs; memory then grows call after call and fresh pages fault."""
    if isinstance(structure, list):
        return [_gather(s, lookup) for s in structure]
    return lookup(structure)


def _hooked(module: nn.Module) -> bool:
    """Whether ``module`` has hooks that only a call through ``nn.Module.__call__`` runs."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)
