"""The export support matrix: every fixture exports to ``.pt2`` (``torch.export``) and ONNX and
the program / ONNX Runtime matches torch_tfjs eager, or fails with the reason that
``export_support.json`` lists (an entry that no longer holds fails). SUPPORT.md's Export section
is generated from the same file by ``scripts/support_matrix.py``.

Default run: a representative set of fixture models (layers and graph, one / several inputs and
outputs, a listed failure; about 1.5 min on 2 busy cores). ``-m export_sweep``: every fixture
model (3-5 min). ``-m export_ops``: every layers / graph / keras fixture (about 1 h on 2 busy
cores). ONNX tests skip without the ``onnx`` extra.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs import export
from torch_tfjs.errors import ExportError
from fixture_cases import Case, assert_matches, discover

SUPPORT: Dict[str, Dict[str, Dict[str, str]]] = json.loads(
    (Path(__file__).parent / "export_support.json").read_text())["fixtures"]

#: Fixture models checked in the default run; the rest run with ``-m export_sweep``.
REPRESENTATIVE = {
    "models/models/mobilenet_like",           # layers CNN, free batch
    "models/models/embedding_lstm_text",      # layers Embedding + LSTM
    "models/models/multi_io_shared",          # layers, two inputs, two outputs
    "models/graph_cnn",
    "models/graph_transformer_block",
    "models/graph_resize_decoder",            # two outputs
    "models/graph_control_v2",                # listed failure (TF2 While on an input value)
}
#: Per-op / per-layer fixture kinds swept with ``-m export_ops``.
OP_KINDS = ("layers", "graph", "keras")
TOLERANCE = 1e-4


def _params(kinds: Sequence[str], marker: Callable[[Case], Optional[Any]]) -> List[Any]:
    cases = [c for kind in kinds for c in discover(kind)]
    return [pytest.param(c, id=c.id, marks=[m for m in [marker(c)] if m is not None])
            for c in cases]


MODEL_CASES = _params(["models"], lambda c: pytest.mark.export_sweep(default=c.id in REPRESENTATIVE))
OP_CASES = _params(OP_KINDS, lambda c: pytest.mark.export_ops)


def _model(path: Path) -> Any:
    """A fresh model per test: one that already ran (a LayersModel caching its output masks as
    tensor attributes) makes torch warn while exporting it."""
    return torch_tfjs.load(path).eval()


def _inputs(case: Case, model: Any) -> List[torch.Tensor]:
    """The case's stored inputs in the signature's order (by name where the case names them),
    in the dtypes the program is exported for (eager casts to the same)."""
    arrays = case.inputs()
    names = case.input_names()
    wanted = list(model.signature.input_names)
    if all(names) and sorted(names) == sorted(wanted):
        arrays = [arrays[names.index(n)] for n in wanted]
    dtypes = [e.dtype for e in export.example_inputs(model)]
    return [torch.from_numpy(a).to(d) for a, d in zip(arrays, dtypes)]


def _input_sets(case: Case, model: Any) -> List[List[torch.Tensor]]:
    """The stored inputs, and the same stacked to batch 3 when every input's batch is free."""
    inputs = _inputs(case, model)
    sets = [inputs]
    if all(0 in free for free in model.signature.free_dims()):
        sets.append([torch.cat([x, x, x]) for x in inputs])
    return sets


def _outputs(value: Any) -> List[np.ndarray]:
    if isinstance(value, dict):
        value = list(value.values())
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return [v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for v in values]


def _assert_close(got: List[np.ndarray], want: List[np.ndarray], what: str) -> None:
    """Same count and shapes; max|d| <= 1e-4 * max(1, max|want|), NaN / inf where eager has
    them, integers and bools exact (``fixture_cases.assert_matches`` with eager as reference)."""
    assert len(got) == len(want), f"{what}: {len(got)} outputs, eager has {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert_matches(g, w, TOLERANCE, f"{what} output {i}")


def _no_warnings(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; torch noise the user would see (any warning) fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    messages = [str(w.message)[:200] for w in caught]
    assert not messages, f"export warned: {messages}"
    return out


def _check(case: Case, target: str, run: Callable[[], None]) -> None:
    """``run()`` must pass, or, for a listed fixture, fail as listed (then the test xfails with
    the listed reason)."""
    entry = SUPPORT.get(case.id, {}).get(target)
    if entry is None:
        run()
        return
    try:
        run()
    except Exception as exc:  # export, runtime and comparison errors alike
        text = f"{type(exc).__name__}: {exc}"
        assert re.search(entry["error"], text), (
            f"{case.id} {target}: export_support.json expects /{entry['error']}/, got {text[:500]}")
        pytest.xfail(f"{target}: {entry['reason']}")
    pytest.fail(f"{case.id} {target} is listed in export_support.json as failing "
                f"({entry['reason']}) but it exports and matches now: remove the entry")


def _pt2(case: Case, tmp_path: Path) -> None:
    model = _model(case.path)
    path = tmp_path / "m.pt2"
    _no_warnings(lambda: export.save_exported(model, path))
    program = torch.export.load(str(path)).module()
    for inputs in _input_sets(case, model):
        with torch.no_grad():
            _assert_close(_outputs(program(*inputs)), _outputs(model(*inputs)), f"{case.id} .pt2")


def _onnx(case: Case, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = _model(case.path)
    path = tmp_path / "m.onnx"
    _no_warnings(lambda: export.export_onnx(model, path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == list(model.signature.input_names)
    for inputs in _input_sets(case, model):
        got = session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})
        with torch.no_grad():
            _assert_close([np.asarray(g) for g in got], _outputs(model(*inputs)), f"{case.id} ONNX")


@pytest.mark.parametrize("case", MODEL_CASES)
def test_model_pt2_matches_eager(case, tmp_path):
    _check(case, "pt2", lambda: _pt2(case, tmp_path))


@pytest.mark.parametrize("case", MODEL_CASES)
def test_model_onnx_runtime_matches_eager(case, tmp_path):
    _check(case, "onnx", lambda: _onnx(case, tmp_path))


@pytest.mark.parametrize("case", OP_CASES)
def test_op_pt2_matches_eager(case, tmp_path):
    _check(case, "pt2", lambda: _pt2(case, tmp_path))


@pytest.mark.parametrize("case", OP_CASES)
def test_op_onnx_runtime_matches_eager(case, tmp_path):
    _check(case, "onnx", lambda: _onnx(case, tmp_path))


def test_every_listed_fixture_exists():
    """A renamed or deleted fixture leaves no orphan entry; every entry says why."""
    known = {c.id for kind in ("models",) + OP_KINDS for c in discover(kind)}
    assert sorted(set(SUPPORT) - known) == []
    for fixture, targets in SUPPORT.items():
        assert set(targets) <= {"pt2", "onnx"}, fixture
        for entry in targets.values():
            assert entry["error"] and entry["reason"], fixture
            re.compile(entry["error"])


def test_a_stale_or_wrong_entry_fails(monkeypatch):
    """An entry whose fixture now exports, or fails for another reason, fails the test."""
    case = Case(Path("."), {"name": "fake"}, id="models/fake")
    monkeypatch.setitem(SUPPORT, "models/fake", {"pt2": {"error": "ExportError: loops", "reason": "r"}})
    with pytest.raises(pytest.fail.Exception, match="remove the entry"):
        _check(case, "pt2", lambda: None)

    def other_failure() -> None:
        raise ValueError("something else")

    with pytest.raises(AssertionError, match="expects /ExportError: loops/"):
        _check(case, "pt2", other_failure)
    with pytest.raises(pytest.xfail.Exception, match="pt2: r"):
        _check(case, "pt2", lambda: (_ for _ in ()).throw(ExportError("loops")))
