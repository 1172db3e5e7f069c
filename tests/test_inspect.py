"""``torch-tfjs inspect``: what a user sees before loading a model."""

from __future__ import annotations

import json

import pytest

from fixture_cases import FIXTURES
from torch_tfjs.cli import main
from torch_tfjs.inspection import inspect_artifact


def test_layers_report():
    report = inspect_artifact(FIXTURES / "models/models/multi_io_shared")
    assert report["format"] == "layers-model" and report["loadable"]
    assert report["generated_by"].startswith("TensorFlow.js tfjs-layers")
    assert len(report["inputs"]) == 2 and len(report["outputs"]) == 2
    assert report["layer_classes"]["Dense"] >= 1
    assert report["weights"]["dtypes"] == {"float32": report["weights"]["count"]}


def test_graph_report_with_signature_and_quantization():
    report = inspect_artifact(FIXTURES / "models/graph_mobilenet_like_uint8")
    assert report["format"] == "graph-model" and report["loadable"]
    assert report["op_histogram"]["_FusedConv2D"] >= 1
    assert report["weights"]["quantization"].get("uint8", 0) >= 1
    assert [i["name"] for i in report["inputs"]] and report["outputs"][0]["shape"]


def test_graph_without_signature_reports_tfjs_default_io(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({
        "format": "graph-model", "weightsManifest": [],
        "modelTopology": {"node": [
            {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
            {"name": "y", "op": "Relu", "input": ["x"]},
            {"name": "out", "op": "Identity", "input": ["y", "^x"]}]}}))
    report = inspect_artifact(tmp_path)
    assert [i["name"] for i in report["inputs"]] == ["x"]
    assert [o["name"] for o in report["outputs"]] == ["out"]


def test_unsupported_listed_with_exit_code_3(tmp_path, capsys):
    (tmp_path / "model.json").write_text(json.dumps({
        "format": "graph-model", "weightsManifest": [],
        "modelTopology": {"node": [
            {"name": "x", "op": "Placeholder"}, {"name": "a", "op": "MadeUpOp", "input": ["x"]},
            {"name": "b", "op": "OtherOp", "input": ["a"]}]}}))
    assert main(["inspect", str(tmp_path), "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["unsupported"] == {"MadeUpOp": ["a"], "OtherOp": ["b"]}
    assert report["loadable"] is False


@pytest.mark.parametrize("folder", ["layers/core/dense_relu", "graph/convolution/conv2d_same"])
def test_text_report(folder, capsys):
    assert main(["inspect", str(FIXTURES / folder)]) == 0
    text = capsys.readouterr().out
    assert "format:" in text and "supported:   yes" in text
