"""Every graph / layers / models / keras fixture computes in the dtype it is loaded with
(``load(dtype=...)``): float64 matches the float32 model closely with float outputs in float64, and
(a subset) float16 / bfloat16 keep float outputs in the model's dtype, finite and near float32."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import Case, discover

ALL = [c for kind in ("graph", "layers", "models", "keras") for c in discover(kind)]
BY_ID = {c.id: c for c in ALL}

#: Cases no dtype comparison is meaningful for, with the reason.
SKIP_ALL: Dict[str, str] = {}

#: float64-only exclusions: results that legitimately differ from float32 beyond 1e-6.
SKIP_F64: Dict[str, str] = {
    "graph/evaluation/top_k": "top_k over near-ties: a different precision picks a different index",
    "graph/arithmetic/mod_float_truncates": "float mod is discontinuous: float32 rounding flips results",
}

#: The reduced-precision subset: a spread over op families and layer kinds.
HALF_CASES: List[str] = []

#: Reduced-precision exclusions with the reason.
SKIP_HALF: Dict[str, str] = {}


def _feed(case: Case) -> Any:
    inputs = [x if x.dtype == object else torch.from_numpy(x) for x in case.inputs()]
    names = case.input_names()
    return inputs, (dict(zip(names, inputs)) if all(names) and case.meta.get("kind") == "graph-model" else None)


def _flat(out: Any) -> List[Any]:
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _flat(out[k])]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _run(case: Case, dtype: torch.dtype) -> List[Any]:
    model = torch_tfjs.load(case.path, dtype=None if dtype == torch.float32 else dtype)
    model.eval()
    inputs, feed = _feed(case)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(feed) if feed is not None else model(*inputs)
    return _flat(out)


_REFERENCES: Dict[str, List[Any]] = {}


def _reference(case: Case) -> List[Any]:
    if case.id not in _REFERENCES:
        _REFERENCES[case.id] = _run(case, torch.float32)
    return _REFERENCES[case.id]


def _compare(case: Case, dtype: torch.dtype, tolerance: float) -> None:
    reference = _reference(case)
    got = _run(case, dtype)
    assert len(got) == len(reference)
    for i, (ref, out) in enumerate(zip(reference, got)):
        what = f"{case.id} output {i}"
        if not isinstance(ref, torch.Tensor):
            assert type(out) is type(ref), what
            if isinstance(ref, np.ndarray):
                assert np.array_equal(out, ref), what
            continue
        assert isinstance(out, torch.Tensor), what
        assert out.shape == ref.shape, f"{what}: shape {tuple(out.shape)} != {tuple(ref.shape)}"
        if ref.is_floating_point():
            assert out.dtype == dtype, f"{what}: dtype {out.dtype}, model computes in {dtype}"
            r, o = ref.double(), out.double()
            assert torch.equal(r.isnan(), o.isnan()) or dtype != torch.float64, f"{what}: NaN positions differ"
            finite = r.isfinite() & o.isfinite()
            if dtype != torch.float64:
                assert torch.equal(r.isfinite(), o.isfinite()), f"{what}: non-finite values where float32 has none"
            if finite.any():
                err = (o[finite] - r[finite]).abs().max().item()
                scale = max(1.0, r[finite].abs().max().item())
                assert err <= tolerance * scale, f"{what}: max|d| = {err:.3g} > {tolerance:g} * {scale:.3g}"
        elif ref.is_complex():
            assert out.is_complex(), f"{what}: dtype {out.dtype}"
            err = (out.to(torch.complex128) - ref.to(torch.complex128)).abs().max().item()
            scale = max(1.0, ref.abs().max().item())
            assert err <= tolerance * scale, f"{what}: max|d| = {err:.3g}"
        else:
            assert out.dtype == ref.dtype, f"{what}: dtype {out.dtype} != {ref.dtype}"
            assert torch.equal(out, ref), f"{what}: {int((out != ref).sum())} elements differ"


def _params(ids: List[str], skips: Dict[str, str]) -> List[Any]:
    out = []
    for cid in ids:
        reason = SKIP_ALL.get(cid) or skips.get(cid)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        out.append(pytest.param(BY_ID[cid], id=cid, marks=marks))
    return out


@pytest.mark.parametrize("case", _params([c.id for c in ALL], SKIP_F64))
def test_float64_matches_float32(case):
    _compare(case, torch.float64, 1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", _params(HALF_CASES, SKIP_HALF))
def test_half_precision_keeps_the_dtype(case, dtype):
    _compare(case, dtype, 5e-2)
