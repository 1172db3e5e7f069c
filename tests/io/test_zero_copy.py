"""No second copy of the weights: the reader allocates each weight once, straight from the
shards, and loaded models keep their parameters in that memory (or, for weights stored in
another layout, free the decoded array and view the parameter instead).

NumPy reports its allocations to ``tracemalloc`` (torch does not), so the reader's peak traced
memory is an exact count of what it held at once: the decoded arrays plus any shard bytes.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest
import torch

from fixture_cases import FIXTURES
from torch_tfjs._layout import WEIGHT_LAYOUTS
from torch_tfjs.graph.importer import _TF_LAYOUT_VIEWS, tf_layout_view
from torch_tfjs.graph.model import build_graph_model
from torch_tfjs.io import read_artifact, write_artifact
from torch_tfjs.layers.build import build_layers_model

from test_http import server  # noqa: F401  (the local HTTP server fixture)

MODELS = FIXTURES / "models"
# What reading a model.json of a few weights allocates besides the weights (JSON, specs, lists).
OVERHEAD = 256 * 1024


def _weights(n: int, size: int, seed: int = 0) -> List[Tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    # odd element counts: weights start at every alignment and straddle shard boundaries
    return [(f"w{i}", rng.standard_normal(size + 3 * i).astype(np.float32)) for i in range(n)]


def _peak_traced(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_each_weight_is_read_once_into_its_own_array(tmp_path):
    named = _weights(12, 250_000)  # 12 MB in 64 KiB shards
    write_artifact(tmp_path, {"format": "graph-model", "modelTopology": {"node": []}}, named,
                   shard_size=64 * 1024)
    weight_bytes = sum(a.nbytes for _, a in named)
    art, peak = _peak_traced(lambda: read_artifact(tmp_path))
    # The old reader held every shard as bytes plus a joined copy: 2x the weights.
    assert peak <= weight_bytes + OVERHEAD, (peak, weight_bytes)
    for (name, expected), got in zip(named, art.weights.values()):
        assert got.tobytes() == expected.tobytes(), name
        assert got.flags.owndata and got.flags.writeable and got.flags.c_contiguous, name


def test_quantized_weights_are_dequantized_once(tmp_path):
    named = _weights(2, 2_000_000)  # 16 MB of float32, written as 4 MB of uint8 codes
    write_artifact(tmp_path, {"format": "graph-model", "modelTopology": {"node": []}}, named,
                   quantize="uint8", shard_size=1 << 20)
    expected = read_artifact(tmp_path).weights
    out_bytes = sum(a.size * 4 for _, a in named)
    art, peak = _peak_traced(lambda: read_artifact(tmp_path))
    # the float32 arrays plus one chunk of codes and its float64 temporary (256 Ki elements)
    assert peak <= out_bytes + 256 * 1024 * 9 + OVERHEAD, (peak, out_bytes)
    for name, _ in named:
        assert art.weights[name].dtype == np.float32
        assert art.weights[name].tobytes() == expected[name].tobytes()


def test_download_holds_one_shard_at_a_time(server, tmp_path_factory):  # noqa: F811
    root, base = server
    named = _weights(16, 125_000)  # 8 MB in 16 shards of 512 KiB
    shard = 512 * 1024
    write_artifact(root, {"format": "graph-model", "modelTopology": {"node": []}}, named,
                   shard_size=shard)
    weight_bytes = sum(a.nbytes for _, a in named)
    art, peak = _peak_traced(lambda: read_artifact(f"{base}/model.json"))
    # a shard is downloaded in 1 MiB reads into a growing buffer: < 3 shards' worth at once
    assert peak <= weight_bytes + 3 * shard + OVERHEAD, (peak, weight_bytes)
    for name, expected in named:
        assert art.weights[name].tobytes() == expected.tobytes()


def test_loaded_weights_do_not_depend_on_the_files(tmp_path):
    """Weights are read, not mapped: rewriting the files (e.g. saving back into the same
    folder) cannot change a loaded model or crash it."""
    named = _weights(3, 1000)
    write_artifact(tmp_path, {"format": "graph-model", "modelTopology": {"node": []}}, named,
                   shard_size=None)
    art = read_artifact(tmp_path)
    shard = tmp_path / "group1-shard1of1.bin"
    shard.write_bytes(b"\0" * shard.stat().st_size)
    for name, expected in named:
        assert np.array_equal(art.weights[name], expected)


def _tensors(model: torch.nn.Module) -> List[torch.Tensor]:
    return [t.detach() for t in list(model.parameters()) + list(model.buffers())]


def _check_no_second_copy(artifact, model: torch.nn.Module, folder: Path) -> int:
    """Every float32 weight of the artifact lives in a parameter's (or buffer's) memory and
    still holds the values read from the files. Returns how many were stored transformed."""
    fresh = read_artifact(folder).weights
    tensors = [t for t in _tensors(model) if t.dtype == torch.float32]
    transformed = 0
    for name, array in artifact.weights.items():
        if array.dtype != np.float32:
            continue
        owners = [t for t in tensors if np.shares_memory(array, t.numpy())]
        assert owners, f"{name}: a copy of its own, beside the parameter"
        assert array.shape == fresh[name].shape and np.array_equal(array, fresh[name]), name
        if not array.flags.c_contiguous:  # a view of a parameter stored in another layout
            transformed += 1
    return transformed


@pytest.mark.parametrize("name", ["graph_cnn", "graph_mobilenet_like",
                                  "graph_mobilenet_like_sharded"])
def test_graph_parameters_hold_the_decoded_weights(name):
    folder = MODELS / name
    artifact = read_artifact(folder)
    model = build_graph_model(artifact)
    assert _check_no_second_copy(artifact, model, folder) > 0  # conv filters were transformed
    importer = model._importer
    for attr, (layout, tf_shape) in importer.param_layouts.items():
        param = getattr(importer.root, attr)
        value = importer.param_values[attr]
        assert np.shares_memory(value, param.detach().numpy())
        expected = WEIGHT_LAYOUTS[layout][1](param.detach(), tf_shape).numpy()
        assert value.shape == expected.shape and np.array_equal(value, expected)
    # the model still runs as before (reference output computed by tfjs)
    x = torch.from_numpy(np.load(folder / "input_0.npy"))
    ref = np.load(folder / "output_0.npy")
    out = model(x)
    assert np.allclose(out.detach().numpy(), ref, atol=1e-4 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("name", ["mobilenet_like", "mobilenet_like_sharded"])
def test_layers_parameters_hold_the_decoded_weights(name):
    folder = MODELS / "models" / name
    artifact = read_artifact(folder)
    model = build_layers_model(artifact)
    assert _check_no_second_copy(artifact, model, folder) > 0  # conv / dense kernels transformed


def test_untransformed_parameters_share_the_reader_arrays():
    artifact = read_artifact(MODELS / "graph_cnn")
    decoded = dict(artifact.weights)
    model = build_graph_model(artifact)
    importer = model._importer
    for key, attr in importer.param_names.items():
        if attr in importer.param_layouts:
            continue
        assert np.shares_memory(decoded[key], getattr(importer.root, attr).detach().numpy()), key


@pytest.mark.parametrize("layout", sorted(WEIGHT_LAYOUTS))
def test_every_weight_layout_has_a_zero_copy_tf_view(layout):
    """A layout without one would keep the decoded array beside the parameter (2x memory)."""
    assert layout in _TF_LAYOUT_VIEWS
    shapes = {"hwio_to_oihw": (3, 2, 4, 5), "dhwio_to_oidhw": (2, 3, 2, 4, 5),
              "hwcm_to_depthwise": (3, 2, 4, 3)}
    tf_shape = shapes[layout]
    original = torch.arange(int(np.prod(tf_shape)), dtype=torch.float32).reshape(tf_shape)
    param = WEIGHT_LAYOUTS[layout][0](original.clone())
    view = tf_layout_view(param, layout, tf_shape)
    assert view is not None and np.shares_memory(view, param.numpy())
    assert np.array_equal(view, original.numpy())
    assert np.array_equal(view, WEIGHT_LAYOUTS[layout][1](param, tf_shape).numpy())
