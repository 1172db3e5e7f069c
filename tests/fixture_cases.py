"""Discovery of the generated reference fixtures (see tests/fixtures/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Case:
    path: Path
    meta: Dict[str, Any]
    id: str = ""

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def family(self) -> str:
        return self.meta.get("family", "")

    @property
    def tolerance(self) -> float:
        return float(self.meta.get("tolerance", 1e-4))

    def _load(self, file: str) -> np.ndarray:
        """``.npy``, or ``.json``: a string tensor as nested lists of str → object array of bytes."""
        if file.endswith(".json"):
            nested = json.loads((self.path / file).read_text(encoding="utf-8"))
            arr = np.array(nested, dtype=object)
            out = np.empty(arr.shape, dtype=object)
            out.reshape(-1)[:] = [str(v).encode("utf-8") for v in arr.reshape(-1)]
            return out
        return np.load(self.path / file, allow_pickle=False)

    def inputs(self) -> List[np.ndarray]:
        return [self._load(i["file"]) for i in self.meta.get("inputs", [])]

    def input_names(self) -> List[Optional[str]]:
        return [i.get("name") for i in self.meta.get("inputs", [])]

    def outputs(self) -> List[np.ndarray]:
        return [self._load(o["file"]) for o in self.meta.get("outputs", [])]


def discover(kind: str, family: Optional[str] = None) -> List[Case]:
    """All cases under tests/fixtures/<kind>/ (optionally one family), sorted by path."""
    cases = []
    root = FIXTURES / kind
    for meta_file in sorted(root.glob("**/case.json")):
        meta = json.loads(meta_file.read_text())
        if family is not None and meta.get("family") != family:
            continue
        rel = meta_file.parent.relative_to(FIXTURES)
        cases.append(Case(meta_file.parent, meta, id=str(rel)))
    return cases


def positional_inputs(model: Any, case: Case) -> tuple:
    """The case's inputs as tensors in the model's signature order (dict feeds bound by name;
    a 0-d input stays 0-d)."""
    import torch

    arrays = [torch.from_numpy(np.array(x)) for x in case.inputs()]
    names = case.input_names()
    return tuple(model.signature.bind([dict(zip(names, arrays))])) if all(names) else tuple(arrays)


def params(kind: str, family: Optional[str] = None) -> List[Any]:
    """pytest parameters (one per case, id = its folder) for ``@pytest.mark.parametrize``."""
    import pytest

    out = []
    for case in discover(kind, family):
        marks = [pytest.mark.xfail(reason=case.meta["xfail"], strict=True)] if case.meta.get("xfail") else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def assert_matches(actual: Any, expected: np.ndarray, tolerance: float, what: str = "") -> float:
    """max|actual - expected| <= tolerance * max(1, max|expected|); returns the error."""
    import torch

    if isinstance(actual, torch.Tensor):
        actual = actual.detach().cpu().numpy()
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != reference {expected.shape}"
    if expected.dtype == object:  # strings (bytes): exact
        assert actual.dtype == object, f"{what}: dtype {actual.dtype}, reference holds strings"
        diff = [(a, e) for a, e in zip(actual.reshape(-1), expected.reshape(-1)) if a != e]
        assert not diff, f"{what}: {len(diff)} of {expected.size} strings differ, e.g. {diff[0]}"
        return 0.0
    if expected.dtype == np.bool_ or expected.dtype.kind in "iu":
        mismatches = int(np.sum(actual.astype(expected.dtype) != expected))
        assert mismatches == 0, f"{what}: {mismatches} of {expected.size} elements differ"
        return 0.0
    exp64 = expected.astype(np.float64)
    act64 = actual.astype(np.float64)
    nan_ref = np.isnan(exp64)
    assert np.array_equal(nan_ref, np.isnan(act64)), f"{what}: NaN positions differ"
    inf_ref = np.isinf(exp64)
    assert np.array_equal(exp64[inf_ref], act64[inf_ref]), f"{what}: infinities differ"
    finite = ~(nan_ref | inf_ref)
    if not finite.any():
        return 0.0
    err = float(np.max(np.abs(act64[finite] - exp64[finite])))
    scale = max(1.0, float(np.max(np.abs(exp64[finite]))))
    assert err <= tolerance * scale, f"{what}: max|d| = {err:.3g} > {tolerance:g} * {scale:.3g}"
    return err


def check_layers_case(case: Case) -> None:
    """Load a LayersModel case, run it (train mode for ``"training"`` cases) and compare every
    output with the stored reference."""
    import torch

    import torch_tfjs

    model = torch_tfjs.load_layers_model(case.path)
    if case.meta.get("training"):
        model.train()
    inputs = [torch.from_numpy(x) for x in case.inputs()]
    with torch.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, list) else [out]
    expected = case.outputs()
    assert len(outs) == len(expected), f"{len(outs)} outputs, reference has {len(expected)}"
    for i, (a, e) in enumerate(zip(outs, expected)):
        assert_matches(a, e, case.tolerance, f"{case.id} output {i}")
