"""Real-world regression suite: published tfjs artifacts (tests/realworld/manifest.json) loaded by
torch_tfjs and compared with @tensorflow/tfjs 4.22 on the same seeded inputs, to
max|Δ| ≤ 1e-4 · max(1, max|ref|) per output.

The models are not in git. Build them (network: npm registry, GitHub) with
``python scripts/realworld/build.py``; until then every test here skips. Run with
``pytest -m realworld tests/realworld`` (they are also collected by a plain ``pytest``).
A manifest entry's ``known_failure`` marks a known torch_tfjs bug: xfail(strict=True), so the
test flips to XPASS (a failure) once the bug is fixed and the field must be removed.
Models tfjs itself cannot run must raise a typed ``torch_tfjs.errors.TfjsError``.
"""
import pytest

from realworld_check import BUILD_HINT, cache_dir, check, entries

ENTRIES = entries()


def _param(e):
    marks = [pytest.mark.realworld]
    if e.get("known_failure"):
        marks.append(pytest.mark.xfail(strict=True, reason=e["known_failure"]))
    return pytest.param(e, id=e["id"], marks=marks)


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES])
def test_realworld(entry):
    if not (cache_dir() / entry["id"] / "reference.json").exists():
        pytest.skip(f"{entry['id']} not built: {BUILD_HINT}")
    r = check(entry)
    if r["status"] in ("pass", "tfjs-error-typed"):
        return
    if r["status"] == "tfjs-error-torch-ran":
        pytest.skip(f"no reference: {r['reason']}")
    pytest.fail(f"{r['status']}: {r['reason']}")


def test_manifest_is_well_formed():
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    for e in ENTRIES:
        assert e["source"]["kind"] in ("npm", "github"), e["id"]
        assert e["format"] in ("layers-model", "graph-model"), e["id"]
        assert e["files"] and all(len(h) == 64 for h in e["files"].values()), e["id"]
        for spec in e["inputs"]:
            assert all(isinstance(d, int) and d >= 0 for d in spec["shape"]), e["id"]
