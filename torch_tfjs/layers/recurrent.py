"""Recurrent layers: SimpleRNN, GRU, LSTM, ConvLSTM2D, their cells (SimpleRNNCell, GRUCell,
LSTMCell, ConvLSTM2DCell), the generic RNN wrapper and StackedRNNCells.

A cell is split in two so the loop over time stays small: :meth:`RecurrentCell.project`
applies the input kernel to *all* timesteps in one matmul (or one convolution), and
:meth:`RecurrentCell.step` does the recurrent part of one step. Kernels keep Keras's
(input, units·gates) layout, which is already what ``x @ kernel`` wants.

Semantics follow tfjs/Keras: gate order ``[z, r, h]`` (GRU) and ``[i, f, c, o]`` (LSTM),
tfjs's GRU without ``reset_after`` and Keras's ``reset_after=True`` (bias of shape (2, 3·units)),
masked timesteps keep the previous output and states, ``go_backwards`` returns the sequence in
reversed order, ``initial_state`` arrives as extra inputs; a stack of cells lists its states
last cell first in tfjs-made artifacts (see :class:`StackedRNNCells`). ``stateful`` RNNs run statelessly
(states start at zero on every call). Recurrent dropout is inactive at inference and ignored in
training.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .._layout import to_channels_first, to_channels_last
from ..activations import get_activation, is_keras3
from .base import KerasLayer, LayerSpec, Tensors, WeightScope, conf_tuple, data_format
from .conv import tf_conv
from .registry import register_layer

States = List[torch.Tensor]


def _activation(spec: LayerSpec, key: str, default: str):  # type: ignore[no-untyped-def]
    return get_activation(spec.config.get(key, default) or default, keras3=is_keras3(spec.generated_by),
                          where=f"layer '{spec.name}'")


class RecurrentCell(KerasLayer):
    """One step of a recurrence; ``state_count`` states of ``units`` features each."""

    state_count = 1

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        key = "units" if spec.config.get("units") is not None else "filters"
        self.units = spec.conf_int(key, 0, minimum=1)
        self.use_bias = spec.conf_bool("use_bias", True)
        self.activation = _activation(spec, "activation", "tanh")

    def initial_states(self, x: torch.Tensor) -> States:
        """Zero states for a (batch, time, ...) input."""
        return [x.new_zeros(x.shape[0], self.units) for _ in range(self.state_count)]

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The input part of every step at once: (batch, time, ...) → (batch, time, ...)."""
        out = torch.matmul(x, self.kernel)
        return out + self.input_bias() if self.use_bias else out

    def input_bias(self) -> torch.Tensor:
        return self.bias

    def step(self, projected: torch.Tensor, states: States) -> Tuple[torch.Tensor, States]:
        raise NotImplementedError

    def output_of(self, states: States) -> torch.Tensor:
        """The step output for given states (masked steps repeat it): the first state."""
        return states[0]

    def states_from_layer(self, states: States) -> States:
        """Initial states as the layer receives them → the order :meth:`step` uses."""
        return states

    def states_to_layer(self, states: States) -> States:
        """Final states in the order :meth:`step` uses → as the layer returns them."""
        return states


@register_layer("SimpleRNNCell")
class SimpleRNNCell(RecurrentCell):
    """``h = activation(x·W + b + h·U)``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.kernel = self.add_keras_weight("kernel", spec.weight("kernel", 0))
        self.recurrent_kernel = self.add_keras_weight("recurrent_kernel", spec.weight("recurrent_kernel", 1))
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 2)) if self.use_bias else None
        self.units = self.recurrent_kernel.shape[0]

    def step(self, projected: torch.Tensor, states: States) -> Tuple[torch.Tensor, States]:
        h = self.activation(projected + states[0] @ self.recurrent_kernel)
        return h, [h]


@register_layer("GRUCell")
class GRUCell(RecurrentCell):
    """GRU with gates ``[z, r, h]``; ``reset_after`` (Keras, cuDNN-compatible) applies the reset
    gate after the recurrent matmul and has separate input and recurrent biases."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.recurrent_activation = _activation(spec, "recurrent_activation", "hard_sigmoid")
        self.reset_after = spec.conf_bool("reset_after", False)
        self.kernel = self.add_keras_weight("kernel", spec.weight("kernel", 0))
        self.recurrent_kernel = self.add_keras_weight("recurrent_kernel", spec.weight("recurrent_kernel", 1))
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 2)) if self.use_bias else None
        self.units = self.recurrent_kernel.shape[0]
        if self.bias is not None and self.reset_after != (self.bias.dim() == 2):
            raise spec.error(f"bias of shape {tuple(self.bias.shape)} does not fit reset_after="
                             f"{self.reset_after}")

    def input_bias(self) -> torch.Tensor:
        return self.bias[0] if self.reset_after else self.bias

    def step(self, projected: torch.Tensor, states: States) -> Tuple[torch.Tensor, States]:
        h = states[0]
        u = self.units
        x_z, x_r, x_h = projected[..., :u], projected[..., u:2 * u], projected[..., 2 * u:]
        if self.reset_after:
            rec = h @ self.recurrent_kernel
            if self.bias is not None:
                rec = rec + self.bias[1]
            z = self.recurrent_activation(x_z + rec[..., :u])
            r = self.recurrent_activation(x_r + rec[..., u:2 * u])
            candidate = self.activation(x_h + r * rec[..., 2 * u:])
        else:
            rec = h @ self.recurrent_kernel[:, :2 * u]
            z = self.recurrent_activation(x_z + rec[..., :u])
            r = self.recurrent_activation(x_r + rec[..., u:])
            candidate = self.activation(x_h + (r * h) @ self.recurrent_kernel[:, 2 * u:])
        h = z * h + (1 - z) * candidate
        return h, [h]


@register_layer("LSTMCell")
class LSTMCell(RecurrentCell):
    """LSTM with gates ``[i, f, c, o]``; states ``[h, c]``."""

    state_count = 2

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.recurrent_activation = _activation(spec, "recurrent_activation", "hard_sigmoid")
        self.kernel = self.add_keras_weight("kernel", spec.weight("kernel", 0))
        self.recurrent_kernel = self.add_keras_weight("recurrent_kernel", spec.weight("recurrent_kernel", 1))
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 2)) if self.use_bias else None
        self.units = self.recurrent_kernel.shape[0]

    def step(self, projected: torch.Tensor, states: States) -> Tuple[torch.Tensor, States]:
        h, c = states
        gates = projected + h @ self.recurrent_kernel
        i, f, g, o = torch.chunk(gates, 4, dim=-1)
        c = self.recurrent_activation(f) * c + self.recurrent_activation(i) * self.activation(g)
        h = self.recurrent_activation(o) * self.activation(c)
        return h, [h, c]


@register_layer("ConvLSTM2DCell")
class ConvLSTM2DCell(RecurrentCell):
    """Convolutional LSTM step on (batch, rows, cols, channels) frames — or (batch, channels,
    rows, cols) with ``data_format='channels_first'``; gates ``[i, f, c, o]``.

    The input convolution uses the layer's strides/padding/dilation; the recurrent one is
    always stride 1 'same'. States are kept channels-first inside the loop. Activations see the
    frames in the layer's data format (softmax reduces over channels for channels_last, over
    columns for channels_first, as in tfjs and Keras).
    """

    state_count = 2

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.channels_first = data_format(spec) == "channels_first"
        self.recurrent_activation = _activation(spec, "recurrent_activation", "hard_sigmoid")
        self.strides = conf_tuple(spec, "strides", 2, 1)
        self.dilation = conf_tuple(spec, "dilation_rate", 2, 1)
        self.padding = spec.conf_enum("padding", ("valid", "same"), "valid")
        hwio_to_oihw = (3, 2, 0, 1)
        self.kernel = self.add_keras_weight("kernel", spec.weight("kernel", 0), permutation=hwio_to_oihw)
        self.recurrent_kernel = self.add_keras_weight("recurrent_kernel", spec.weight("recurrent_kernel", 1),
                                                      permutation=hwio_to_oihw)
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 2)) if self.use_bias else None
        self.units = self.recurrent_kernel.shape[1]

    def project(self, x: torch.Tensor) -> torch.Tensor:
        batch, time = x.shape[:2]
        frames = x.reshape(batch * time, *x.shape[2:])
        frames = frames if self.channels_first else to_channels_first(frames)
        out = tf_conv(frames, self.kernel, self.bias if self.use_bias else None, 2, self.strides,
                      self.padding, self.dilation)
        return out.reshape(batch, time, *out.shape[1:])

    def initial_states(self, x: torch.Tensor) -> States:
        projected_shape = self.project(x[:, :1]).shape  # the output frame size
        zeros = x.new_zeros(x.shape[0], self.units, *projected_shape[-2:])
        return [zeros, zeros.clone()]

    def _activate(self, activation, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
        """Apply ``activation`` to a channels-first frame as Keras does, in the layer's data
        format: for channels_last through a view both ways (so elementwise activations cost
        nothing extra and softmax reduces over the channels)."""
        if self.channels_first:
            return activation(x)
        return to_channels_first(activation(to_channels_last(x)))

    def step(self, projected: torch.Tensor, states: States) -> Tuple[torch.Tensor, States]:
        h, c = states
        gates = projected + tf_conv(h, self.recurrent_kernel, None, 2, (1, 1), "same", (1, 1))
        i, f, g, o = torch.chunk(gates, 4, dim=1)
        act, rec = self.activation, self.recurrent_activation
        c = self._activate(rec, f) * c + self._activate(rec, i) * self._activate(act, g)
        h = self._activate(rec, o) * self._activate(act, c)
        return h, [h, c]


@register_layer("StackedRNNCells")
class StackedRNNCells(RecurrentCell):
    """Several cells applied in turn at each step; :meth:`step` keeps all cells' states in cell
    order. The layer's states (``initial_state`` inputs, ``return_state`` outputs) are in cell
    order under Keras 2.2+ / 3, but tfjs lists them *last cell first* (each cell's own states
    still in order, e.g. ``[h, c]``), as Keras did before ``reverse_state_order`` went away:
    artifacts written by tfjs are run that way."""

    def __init__(self, spec: LayerSpec, cells: Optional[List[RecurrentCell]] = None):
        super().__init__(spec)
        if cells is None:
            cells = _build_cells(spec, spec.config.get("cells") or [], spec.weights)
        # Each cell is a direct child (``cell_<i>``), not inside an nn.ModuleList: the Keras
        # weight walks (save-back, safetensors) descend through KerasLayer children only.
        self.cells: List[RecurrentCell] = list(cells)
        for index, cell in enumerate(cells):
            self.add_module(f"cell_{index}", cell)
        self.state_count = sum(c.state_count for c in cells)
        self.units = cells[-1].units
        self.reverse_state_order = spec.made_by_tfjs

    def _regroup(self, states: States, counts: List[int]) -> States:
        """Splits ``states`` into groups of ``counts`` and joins the groups in reverse order."""
        groups, offset = [], 0
        for count in counts:
            groups.append(states[offset:offset + count])
            offset += count
        return [s for group in reversed(groups) for s in group]

    def states_from_layer(self, states: States) -> States:
        if not self.reverse_state_order:
            return states
        return self._regroup(states, [c.state_count for c in reversed(self.cells)])

    def states_to_layer(self, states: States) -> States:
        if not self.reverse_state_order:
            return states
        return self._regroup(states, [c.state_count for c in self.cells])

    def initial_states(self, x: torch.Tensor) -> States:
        states: States = []
        for cell in self.cells:
            states.extend(cell.initial_states(x))
        return states

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.cells[0].project(x)

    def step(self, projected: torch.Tensor, states: States) -> Tuple[torch.Tensor, States]:
        new_states: States = []
        offset = 0
        out = projected
        for index, cell in enumerate(self.cells):
            if index > 0:
                out = cell.project(out)
            own = states[offset:offset + cell.state_count]
            out, own = cell.step(out, own)
            new_states.extend(own)
            offset += cell.state_count
        return out, new_states

    def output_of(self, states: States) -> torch.Tensor:
        return states[self.state_count - self.cells[-1].state_count]


def _build_cells(spec: LayerSpec, configs: Sequence[Dict[str, Any]], scope: WeightScope) -> List[RecurrentCell]:
    """Builds a list of cells, finding each one's weights: under the cell's name (Keras),
    under ``RNNCell_<i>`` (tfjs StackedRNNCells), by Keras 3 running index, or — for a single
    cell — directly under the layer."""
    cells: List[RecurrentCell] = []
    several = len(configs) > 1
    keras3_index = 0
    for position, config in enumerate(configs):
        inner = config.get("config") or {}
        cell_name = str(inner.get("name") or "")
        cell_scope: Optional[WeightScope] = None
        for prefix in (cell_name, f"RNNCell_{position}"):
            if prefix and scope.has_prefix(prefix):
                cell_scope = scope.sub(prefix)
                break
        if cell_scope is None and several and any(n.isdigit() for n in scope.names()):
            # Keras 3 numbers the weights of stacked cells 0, 1, 2, ... across cells.
            per_cell = 3 if inner.get("use_bias", True) else 2
            entries = {str(i - keras3_index): scope.entries[str(i)]
                       for i in range(keras3_index, keras3_index + per_cell) if str(i) in scope.entries}
            cell_scope = WeightScope(entries, f"{scope.owner}/{cell_name}", scope._consumed)
            keras3_index += per_cell
        if cell_scope is None:
            if several:
                raise spec.error(f"cannot tell which weights belong to cell '{cell_name}' "
                                 f"(weights: {', '.join(scope.names())})")
            cell_scope = scope
        cell = spec.build_child(config, cell_scope)
        if not isinstance(cell, RecurrentCell):
            raise spec.error(f"cell {config.get('class_name')!r} is not a recurrent cell")
        cells.append(cell)
    return cells


def run_recurrence(cell: RecurrentCell, x: torch.Tensor, states: States, mask: Optional[torch.Tensor],
                   go_backwards: bool) -> Tuple[List[torch.Tensor], States]:
    """Runs ``cell`` over the time axis of ``x``; returns the per-step outputs (in processing
    order) and the final states."""
    if go_backwards:
        x = torch.flip(x, [1])
        mask = torch.flip(mask, [1]) if mask is not None else None
    projected = cell.project(x)
    outputs: List[torch.Tensor] = []
    previous = cell.output_of(states)
    for t in range(projected.shape[1]):
        out, new_states = cell.step(projected[:, t], states)
        if mask is not None:
            keep = mask[:, t].reshape(-1, *([1] * (out.dim() - 1))).to(torch.bool)
            out = torch.where(keep, out, previous)
            new_states = [torch.where(keep, n, s) for n, s in zip(new_states, states)]
        outputs.append(out)
        previous = out
        states = new_states
    return outputs, states


def split_rnn_call(inputs: Tensors, mask: Any) -> Tuple[torch.Tensor, States, Any]:
    """(sequence, initial states, its mask): a recurrent layer is called on the sequence alone
    or on ``[sequence, *initial_state]``, and gets the sequence's mask first in a list."""
    if isinstance(inputs, (list, tuple)):
        x, initial = inputs[0], list(inputs[1:])
    else:
        x, initial = inputs, []
    return x, initial, mask[0] if isinstance(mask, (list, tuple)) else mask


def check_units(cell: "RecurrentCell", spec: LayerSpec) -> None:
    """The configured ``units`` (or ``filters``) must match the recurrent kernel, whose
    second-to-last Keras dim is the state size the cell uses."""
    key = "units" if spec.config.get("units") is not None else "filters"
    configured = spec.conf_int(key, None, minimum=1)
    kernel = next((w for w in cell._keras_weights if w.attr == "recurrent_kernel"), None)
    if configured is not None and kernel is not None and len(kernel.keras_shape) >= 2 \
            and kernel.keras_shape[-2] != configured:
        raise spec.error(f"config '{key}' is {configured} but weight '{kernel.manifest_name}' "
                         f"has shape {list(kernel.keras_shape)}")


class RNN(KerasLayer):
    """Runs a cell over time: Keras ``RNN`` (config ``cell``) and the SimpleRNN/GRU/LSTM/
    ConvLSTM2D layers (whose config is the cell's)."""

    cell_class: Optional[type] = None

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        config = spec.config
        self.return_sequences = spec.conf_bool("return_sequences", False)
        self.return_state = spec.conf_bool("return_state", False)
        self.go_backwards = spec.conf_bool("go_backwards", False)
        if self.cell_class is not None:
            # The cell reads the layer's own weights (``lstm/kernel``; ``lstm/lstm_cell/kernel``
            # is found by the scope's last-token fallback).
            self.cell: RecurrentCell = self.cell_class(LayerSpec(
                spec.class_name + "Cell", spec.name, config, spec.weights, spec.build_child,
                spec.source, spec.generated_by))
            check_units(self.cell, spec)
        else:
            cell_config = spec.require("cell")
            configs = cell_config if isinstance(cell_config, list) else [cell_config]
            if len(configs) == 1 and configs[0].get("class_name") == "StackedRNNCells":
                inner = configs[0].get("config") or {}
                name = str(inner.get("name") or "")
                scope = spec.weights.sub(name) if name and spec.weights.has_prefix(name) else spec.weights
                configs = list(inner.get("cells") or [])
                cells = _build_cells(spec, configs, scope)
            else:
                cells = _build_cells(spec, configs, spec.weights)
            self.cell = cells[0] if len(cells) == 1 else StackedRNNCells(spec, cells)

    supports_masking = True

    def forward(self, inputs: Tensors, mask: Any = None, training: Optional[bool] = None) -> Tensors:
        x, initial, mask = split_rnn_call(inputs, mask)
        # A channels_last ConvLSTM2D runs its states channels-first inside the loop.
        moves_axes = isinstance(self.cell, ConvLSTM2DCell) and not self.cell.channels_first
        if moves_axes:
            initial = [to_channels_first(s) for s in initial]
        states = self.cell.states_from_layer(initial) if initial else self.cell.initial_states(x)
        outputs, states = run_recurrence(self.cell, x, states, mask, self.go_backwards)
        states = self.cell.states_to_layer(states)
        output = torch.stack(outputs, dim=1) if self.return_sequences else outputs[-1]
        if moves_axes:
            output = _frames_last(output) if self.return_sequences else to_channels_last(output)
            states = [to_channels_last(s) for s in states]
        if self.return_state:
            return [output, *states]
        return output

    def compute_mask(self, inputs: Tensors, mask: Any) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * self.cell.state_count
        return out


def _frames_last(x: torch.Tensor) -> torch.Tensor:
    """(batch, time, C, H, W) → (batch, time, H, W, C) as a view."""
    return x.permute(0, 1, 3, 4, 2)


@register_layer("RNN")
class GenericRNN(RNN):
    """``RNN(cell=...)`` with any registered cell or a list / StackedRNNCells of cells."""


@register_layer("SimpleRNN")
class SimpleRNN(RNN):
    cell_class = SimpleRNNCell


@register_layer("GRU")
class GRU(RNN):
    cell_class = GRUCell


@register_layer("LSTM")
class LSTM(RNN):
    cell_class = LSTMCell


@register_layer("ConvLSTM2D")
class ConvLSTM2D(RNN):
    """Convolutional LSTM over (batch, time, rows, cols, channels)."""

    cell_class = ConvLSTM2DCell
