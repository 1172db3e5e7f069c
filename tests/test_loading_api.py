"""Loading as a PyTorch user expects (issue 14): explicit typed options, dtypes (load(dtype=),
model.half() / .to(bfloat16) / .double()), Keras habits (layer.name, get_layer, predict) and
GraphModel.summary / repr."""

from __future__ import annotations

import inspect
import typing

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import FIXTURES, Case, discover
from torch_tfjs.errors import LayerNotFoundError
from torch_tfjs.graph import GraphModel
from torch_tfjs.layers import LayersModel

LOADERS = [torch_tfjs.load, torch_tfjs.load_layers_model, torch_tfjs.load_graph_model]
CNN = FIXTURES / "models" / "graph_cnn"
MOBILENET = FIXTURES / "models" / "models" / "mobilenet_like"


def _case(rel: str) -> Case:
    return next(c for c in discover(rel.split("/")[0]) if c.id == rel)


# --- explicit options ---------------------------------------------------------------------------
@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_loaders_spell_out_their_options(loader):
    params = inspect.signature(loader).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    for option in ("device", "dtype", "timeout", "max_bytes", "cache_dir", "headers"):
        assert params[option].kind is inspect.Parameter.KEYWORD_ONLY, option


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_a_misspelt_option_names_the_loader(loader):
    with pytest.raises(TypeError, match=rf"{loader.__name__}\(\) got an unexpected keyword argument 'timout'"):
        loader(CNN, timout=3)


def test_return_types_and_top_level_graph_model():
    hints = typing.get_type_hints(torch_tfjs.load, localns={"GraphModel": GraphModel})  # TYPE_CHECKING import
    assert hints["return"] == typing.Union[LayersModel, GraphModel]
    assert typing.get_type_hints(torch_tfjs.load_graph_model, localns={"GraphModel": GraphModel})["return"] is GraphModel
    assert torch_tfjs.GraphModel is GraphModel and "GraphModel" in torch_tfjs.__all__
    assert isinstance(torch_tfjs.load(CNN), torch_tfjs.GraphModel)
    with pytest.raises(AttributeError, match="no attribute 'GrafModel'"):
        torch_tfjs.GrafModel  # noqa: B018


def test_a_non_float_dtype_is_refused():
    with pytest.raises(TypeError, match="dtype must be one of"):
        torch_tfjs.load(CNN, dtype=torch.int32)


def test_headers_reach_the_server(tmp_path):
    import http.server
    import shutil
    import threading

    shutil.copytree(CNN, tmp_path / "m")
    seen = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "m"), **kwargs)

        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/model.json"
        torch_tfjs.load_graph_model(url, headers={"Authorization": "Bearer t0k"}, timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert seen and set(seen) == {"Bearer t0k"}


# --- dtypes ---------------------------------------------------------------------------------------
TOLERANCES = {torch.float16: 1e-2, torch.bfloat16: 5e-2, torch.float64: 1e-6}
DTYPE_CASES = ["layers/conv/conv2d_k3_same_s2_odd", "layers/core/dense_softmax_chain",
               "layers/recurrent/lstm_stacked_sequences", "layers/recurrent/gru_default",
               "layers/recurrent/conv_lstm2d", "layers/embeddings/embedding_basic",
               "layers/preprocessing/rescaling", "layers/preprocessing/category_encoding_count",
               "layers/pooling/avg3d_pool2_valid", "models/graph_cnn", "models/graph_mobilenet_like",
               "models/models/mobilenet_like"]


def _flat(out):
    if isinstance(out, dict):
        return [t for k in out for t in _flat(out[k])]
    return [t for o in out for t in _flat(o)] if isinstance(out, (list, tuple)) else [out]


def _inputs(case):
    return [torch.from_numpy(a) for a in case.inputs()]


@pytest.mark.parametrize("dtype", list(TOLERANCES), ids=str)
@pytest.mark.parametrize("rel", DTYPE_CASES)
def test_load_with_dtype_matches_float32(rel, dtype):
    case = _case(rel)
    with torch.no_grad():
        reference = _flat(torch_tfjs.load(case.path)(*_inputs(case)))
        model = torch_tfjs.load(case.path, dtype=dtype)
        assert model.float_dtype == dtype
        got = _flat(model(*_inputs(case)))
    for ref, out in zip(reference, got):
        if ref.is_floating_point():
            assert out.dtype == dtype
            err = (out.double() - ref.double()).abs().max().item()
            assert err <= TOLERANCES[dtype] * max(1.0, ref.abs().max().item()), (rel, err)
        else:
            assert torch.equal(out, ref)


@pytest.mark.parametrize("cast, dtype", [(lambda m: m.half(), torch.float16),
                                         (lambda m: m.to(torch.bfloat16), torch.bfloat16),
                                         (lambda m: m.double(), torch.float64)],
                         ids=["half", "to_bfloat16", "double"])
@pytest.mark.parametrize("path", [MOBILENET, CNN], ids=["layers", "graph"])
def test_casting_a_loaded_model_casts_its_float_inputs(path, cast, dtype):
    model = torch_tfjs.load(path)
    x = torch.rand(2, *model.signature.inputs[0].shape[1:])
    with torch.no_grad():
        reference = model(x)
        cast(model)
        assert model.float_dtype == dtype and next(model.parameters()).dtype == dtype
        out = model(x)  # a float32 input: cast to the model's dtype, not refused
        assert out.dtype == dtype
        assert (out.double() - reference.double()).abs().max() <= TOLERANCES[dtype] * max(1.0, reference.abs().max())
        model.float()
        assert model(x).dtype == torch.float32


def test_integer_inputs_stay_integer_in_a_half_model():
    case = _case("layers/embeddings/embedding_basic")
    model = torch_tfjs.load(case.path, dtype=torch.float16)
    seen = []
    model.layers[1].register_forward_pre_hook(lambda mod, args: seen.append(args[0].dtype))
    ids = torch.from_numpy(case.inputs()[0]).to(torch.int32)
    assert model(ids).dtype == torch.float16
    assert seen == [torch.int32]


def test_dtype_marker_is_not_in_the_state_dict():
    model = torch_tfjs.load(MOBILENET, dtype=torch.float16)
    assert not [k for k in model.state_dict() if "float_dtype_marker" in k]
    graph = torch_tfjs.load(CNN, dtype=torch.bfloat16)
    assert not [k for k in graph.state_dict() if "float_dtype_marker" in k]


# --- Keras habits -------------------------------------------------------------------------------
def test_layer_name_and_get_layer_by_name_or_index():
    model = torch_tfjs.load(MOBILENET)
    first = model.get_layer(index=1)
    assert first.name == model.layer_names[1]
    assert model.get_layer(first.name) is first
    assert model.get_layer(index=-1) is model.layers[-1]
    with pytest.raises(LayerNotFoundError, match="no layer at index 99"):
        model.get_layer(index=99)
    with pytest.raises(ValueError, match="a layer name or an index"):
        model.get_layer()


def test_unknown_layer_name_suggests_close_matches_only():
    model = torch_tfjs.load(MOBILENET)
    name = model.layer_names[1]
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(LayerNotFoundError) as info:
        model.get_layer(typo)
    message = str(info.value)
    assert f"did you mean {name!r}" in message
    assert len(message) < 200  # not a dump of every layer name
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(KeyError, match="model.layer_names lists them"):
        model.get_layer("qqqqqqqqqq")


@pytest.mark.parametrize("path", [MOBILENET, CNN], ids=["layers", "graph"])
def test_predict_numpy_in_numpy_out_in_batches(path):
    model = torch_tfjs.load(path)
    model.train()
    shape = model.signature.inputs[0].shape[1:]
    x = np.random.default_rng(0).random((5, *shape), dtype=np.float32)
    calls = []
    model.register_forward_pre_hook(lambda mod, args: calls.append(mod.training))
    y = model.predict(x, batch_size=2)
    assert isinstance(y, np.ndarray) and y.shape[0] == 5
    assert calls == [False, False, False]  # 2 + 2 + 1, in eval mode
    assert model.training  # the mode is given back
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert model.predict([x]).shape == y.shape  # Keras's list-of-one form
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(x, batch_size=0)


def test_predict_in_bfloat16_gives_float32_numpy():
    model = torch_tfjs.load(CNN, dtype=torch.bfloat16)
    y = model.predict(np.zeros((3, 32, 32, 3), np.float32))
    assert y.dtype == np.float32 and y.shape == (3, 5)


def test_graph_model_summary_and_repr():
    model = torch_tfjs.load(CNN)
    text = model.summary(print_fn=None)
    assert "x0: [-1, 32, 32, 3] float32" in text
    assert "output_0: [-1, 5] float32  (Identity:0)" in text
    assert "_FusedConv2D" in text and "  2" in text.split("_FusedConv2D")[1].splitlines()[0]
    count = sum(p.numel() for p in model.parameters())
    assert f"Parameters: {count:,} in " in text
    assert model.op_counts()["Const"] == 9
    shown = repr(model)
    assert shown.startswith("GraphModel(") and "graph_cnn" in shown and f"parameters={count:,}" in shown
    printed = []
    model.summary(print_fn=printed.append)
    assert printed == [text]


# --- logging and deliberate departures from tfjs ---------------------------------------------------
def test_loader_logs_format_source_shards_and_quantization(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="torch_tfjs"):
        torch_tfjs.load(FIXTURES / "models" / "graph_mobilenet_like_uint8")
    text = caplog.text
    assert "graph-model (LocalSource)" in text and "1 shard(s)" in text
    assert "quantized: 36 uint8" in text and "graph model, 62 nodes" in text


def test_guessed_format_is_logged(tmp_path, caplog):
    import json
    import logging
    import shutil

    shutil.copytree(CNN, tmp_path / "m")
    model_json = json.loads((tmp_path / "m" / "model.json").read_text())
    del model_json["format"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(model_json))
    with caplog.at_level(logging.INFO, logger="torch_tfjs"):
        torch_tfjs.load(tmp_path / "m")
    assert "no 'format' key; the topology looks like a graph-model" in caplog.text


@pytest.mark.parametrize("rel, words", [
    ("graph/arithmetic/mod_float_truncates", "Mod truncates as TF does"),
    ("keras/keras2_transpose_output_padding", "tfjs 4.22 ignores output_padding"),
    ("graph/graph/structured_outputs", "returns mislabelled tensors"),
])
def test_deliberate_departures_from_tfjs_warn(rel, words):
    from torch_tfjs.errors import TfjsSemanticsWarning

    with pytest.warns(TfjsSemanticsWarning, match=words):
        torch_tfjs.load(FIXTURES / rel)


def test_a_plain_model_loads_without_semantics_warnings():
    import warnings

    from torch_tfjs.errors import TfjsSemanticsWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", TfjsSemanticsWarning)
        torch_tfjs.load(MOBILENET)
        torch_tfjs.load(CNN)
