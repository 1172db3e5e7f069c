"""AOTInductor: ``optimize_for_inference(backend="aoti")`` and ``torch-tfjs convert --aot``.

Two real compiles (a CNN through optimize_for_inference, a transformer block through the CLI;
about 30 s each on 2 CPU cores); everything else reuses those packages or needs no compiler.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs import aoti, cli
from torch_tfjs.errors import ExportError, ModelInputError
from fixture_cases import FIXTURES, assert_matches, discover

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="AOTInductor needs a C++ toolchain")

CNN = FIXTURES / "models" / "models" / "mobilenet_like"          # layers model, input [-1, 32, 32, 3]
TRANSFORMER = FIXTURES / "models" / "graph_transformer_block"    # graph model, input [2, 6, 8]


def _case(folder):
    kind = "models"
    for case in discover(kind):
        if case.path == folder:
            return case
    raise LookupError(folder)


@pytest.fixture(scope="module")
def cnn_compiled(tmp_path_factory):
    """The CNN compiled once by optimize_for_inference into a fresh cache folder."""
    cache = tmp_path_factory.mktemp("aoti_cache")
    case = _case(CNN)
    model = torch_tfjs.load(CNN)
    fast = torch_tfjs.optimize_for_inference(model, cache_dir=cache)
    x = torch.from_numpy(np.ascontiguousarray(case.inputs()[0]))
    out = fast(x)
    return case, model, fast, cache, x, out


def test_aoti_matches_tfjs_reference(cnn_compiled):
    case, model, fast, cache, x, out = cnn_compiled
    assert fast.backend == "aoti"
    assert not out.requires_grad
    assert_matches(out, case.outputs()[0], case.tolerance, "mobilenet_like aoti")
    packages = list((cache / "aoti").glob("*.pt2"))
    assert len(packages) == 1 and aoti.is_package(packages[0])
    # the loaded model is untouched: still trainable, same outputs
    assert all(p.requires_grad for p in model.parameters() if p.is_floating_point())
    with torch.no_grad():
        assert_matches(model(x), case.outputs()[0], case.tolerance, "eager after aoti")
    # calls are matched by the signature, as the model's are
    name = model.signature.input_names[0]
    torch.testing.assert_close(fast({name: x}), out)
    with pytest.raises(ModelInputError, match="expects shape"):
        fast(x[..., :2])


def test_cached_package_is_reused_without_compiling(cnn_compiled, monkeypatch):
    case, model, _, cache, x, out = cnn_compiled

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again although the package is cached")

    monkeypatch.setattr(aoti, "compile_package", no_compile)
    again = torch_tfjs.optimize_for_inference(torch_tfjs.load(CNN), cache_dir=cache)
    torch.testing.assert_close(again(x), out, rtol=0, atol=0)


def test_package_loads_in_a_fresh_process(cnn_compiled, tmp_path):
    case, model, _, cache, x, out = cnn_compiled
    package = next((cache / "aoti").glob("*.pt2"))
    np.save(tmp_path / "x.npy", x.numpy())
    script = textwrap.dedent(f"""
        import json, sys, numpy as np
        from torch_tfjs import aoti
        package = aoti.load_package({str(package)!r})
        assert "torch._inductor.config" not in sys.modules, "loading imported inductor"
        x = np.load({str(tmp_path / 'x.npy')!r})
        out = package.predict({{package.signature.input_names[0]: x}})
        np.save({str(tmp_path / 'out.npy')!r}, out)
        print(json.dumps(aoti._signature_json(package.signature)))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == aoti._signature_json(model.signature)
    assert_matches(np.load(tmp_path / "out.npy"), case.outputs()[0], case.tolerance, "fresh process")


def test_fingerprint_follows_the_weights(tmp_path):
    model = torch_tfjs.load(CNN)
    before = aoti.model_fingerprint(model)
    assert aoti.model_fingerprint(torch_tfjs.load(CNN)) == before
    with torch.no_grad():
        next(p for p in model.parameters() if p.is_floating_point()).add_(1e-3)
    assert aoti.model_fingerprint(model) != before
    # same weights, another stride: the structure is part of the fingerprint too
    shutil.copytree(CNN, tmp_path / "cnn")
    raw = json.loads((tmp_path / "cnn" / "model.json").read_text())
    convs = [layer for layer in raw["modelTopology"]["config"]["layers"]
             if layer["class_name"] == "Conv2D"]
    convs[0]["config"]["strides"] = [1, 1] if convs[0]["config"]["strides"] != [1, 1] else [2, 2]
    (tmp_path / "cnn" / "model.json").write_text(json.dumps(raw))
    assert aoti.model_fingerprint(torch_tfjs.load(tmp_path / "cnn")) != before
    x = torch.zeros(1, 32, 32, 3)
    key = aoti.package_key(before, [x], [[]], {})
    assert key != aoti.package_key(before, [torch.zeros(2, 32, 32, 3)], [[]], {})
    assert key != aoti.package_key(before, [x], [[0]], {})


def test_cli_convert_aot_transformer(tmp_path, capsys):
    case = _case(TRANSFORMER)
    out = tmp_path / "transformer.pt2"
    assert cli.main(["convert", str(TRANSFORMER), str(out), "--aot"]) == 0
    assert "AOTInductor package" in capsys.readouterr().out
    assert aoti.is_package(out)
    package = aoti.load_package(out)
    assert_matches(package(case.inputs()[0]), case.outputs()[0], case.tolerance, "transformer aoti")
    np.save(tmp_path / "x.npy", case.inputs()[0])
    np.save(tmp_path / "y.npy", case.outputs()[0])
    assert cli.main(["verify", str(out), "--inputs", str(tmp_path / "x.npy"),
                     "--expected", str(tmp_path / "y.npy")]) == 0
    assert cli.main(["run", str(out), "--inputs", str(tmp_path / "x.npy"),
                     "--out", str(tmp_path / "o.npz")]) == 0
    saved = np.load(tmp_path / "o.npz")
    assert_matches(saved[saved.files[0]], case.outputs()[0], case.tolerance, "run on package")


def _run_default_backend(family_case: str, caplog, to_inputs):
    """A graph fixture run once through optimize_for_inference's default backend (no disk
    cache), warnings of the torch_tfjs log captured; returns the case, model and output."""
    folder = FIXTURES / "graph" / family_case
    case = next(c for c in discover("graph") if c.path == folder)
    torch._dynamo.reset()
    fast = torch_tfjs.optimize_for_inference(torch_tfjs.load(folder), cache_dir=False)
    with caplog.at_level(logging.WARNING, logger="torch_tfjs"):
        out = fast(*to_inputs(case.inputs()))
    return case, fast, out


def test_uncapturable_graph_falls_back_to_torch_compile(caplog):
    """A graph whose conv padding is computed from tensor values cannot be exported."""
    case, fast, out = _run_default_backend(
        "convolution/atrous_conv2d_dynamic_hw", caplog,
        lambda arrays: [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    assert fast.backend == "inductor"
    assert "falling back to torch.compile" in caplog.text
    assert_matches(out, case.outputs()[0], case.tolerance, "fallback")


def test_not_a_package(tmp_path):
    bogus = tmp_path / "bogus.pt2"
    bogus.write_bytes(b"not a zip")
    assert not aoti.is_package(bogus)
    with pytest.raises(ExportError, match="not a loadable AOTInductor package"):
        aoti.load_package(bogus)
    with pytest.raises(FileNotFoundError):
        aoti.load_package(tmp_path / "missing.pt2")


def test_num_threads_is_checked_and_restored():
    model = torch_tfjs.load(CNN)
    with pytest.raises(ValueError, match="num_threads"):
        torch_tfjs.optimize_for_inference(model, num_threads=0)
    before = torch.get_num_threads()
    fast = torch_tfjs.optimize_for_inference(model, backend="aot_eager", num_threads=1)
    fast(torch.zeros(1, 32, 32, 3))
    assert torch.get_num_threads() == before


def test_lower_convs_hands_the_lowering_to_the_compile(monkeypatch, tmp_path):
    """By default (``lower_convs=True``) the exported program is compiled after lowering its
    small convs (the compile itself is stubbed: the lowering's numerics are
    tests/test_lowering.py's); ``lower_convs=False`` passes no transform."""
    from torch_tfjs import _lowering
    from torch_tfjs.programs import export_program

    seen = {}

    def fake_compile(model, target, inputs, dynamic_axes, *, threads=None, transform=None,
                     max_autotune=False, cpp_gemm=False):
        seen["transform"] = transform
        seen["max_autotune"] = max_autotune
        raise ExportError("stubbed")

    monkeypatch.setattr(aoti, "compile_package", fake_compile)
    model = torch_tfjs.load(FIXTURES / "models" / "graph_mobilenet_like")
    x = torch.zeros(1, 32, 32, 3)
    plain = torch_tfjs.optimize_for_inference(model, lower_convs=False, cache_dir=tmp_path)
    assert plain._load_or_compile([x], None) is None and seen["transform"] is None
    fast = torch_tfjs.optimize_for_inference(model, cache_dir=tmp_path)
    assert fast._load_or_compile([x], None) is None and fast.backend == "inductor"
    with torch.no_grad():
        program = export_program(model, [x], [[]])
        lowered = seen["transform"](program)
    assert _lowering.count_convolutions(lowered) < _lowering.count_convolutions(program)
    torch.testing.assert_close(lowered.module()(x), model(x), rtol=1e-4, atol=1e-5)


def test_string_inputs_fall_back_to_torch_compile(caplog):
    """String tensors cannot be exported: the call runs through torch.compile instead."""
    case, fast, out = _run_default_backend("string/regex_replace_global", caplog, list)
    assert fast.backend == "inductor" and "string inputs cannot be exported" in caplog.text
    np.testing.assert_array_equal(np.asarray(out), case.outputs()[0])


def _stubbed_inductor(monkeypatch):
    """AOTInductor's compile replaced by a stub that records its inductor configs and fails;
    returns (the recorded configs, one dict per compile, a graph model, an input)."""
    import torch._inductor

    seen = []

    def fake_package(program, package_path=None, inductor_configs=None):
        seen.append(dict(inductor_configs))
        raise RuntimeError("stubbed")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", fake_package)
    model = torch_tfjs.load(FIXTURES / "models" / "graph_mobilenet_like")
    return seen, model, torch.zeros(1, 32, 32, 3)


def test_max_autotune_reaches_inductor_and_the_cache_key(monkeypatch, tmp_path):
    """``max_autotune=True`` compiles with AUTOTUNE_CONFIGS on top of the frozen-weights
    configs, and its packages are cached under their own key (inductor itself is stubbed: the
    autotuned compile takes minutes)."""
    seen, model, x = _stubbed_inductor(monkeypatch)
    with pytest.raises(ExportError, match="stubbed"):
        aoti.compile_package(model, tmp_path / "m.pt2", [x], [[]], max_autotune=True)
    assert seen[-1]["freezing"] is True
    assert all(seen[-1][k] == v for k, v in aoti.AUTOTUNE_CONFIGS.items())
    with pytest.raises(ExportError, match="stubbed"):
        aoti.compile_package(model, tmp_path / "m.pt2", [x], [[]])
    assert not set(aoti.AUTOTUNE_CONFIGS) & set(seen[-1])
    assert not list(tmp_path.glob("*.pt2")) and not list(tmp_path.glob(".*partial*"))

    keys = []
    real_key = aoti.package_key
    monkeypatch.setattr(aoti, "package_key", lambda *a: keys.append(real_key(*a)) or keys[-1])
    for autotune in (False, True):
        fast = torch_tfjs.optimize_for_inference(model, max_autotune=autotune, cache_dir=tmp_path)
        assert fast._load_or_compile([x], None) is None  # the stub fails: falls back
    assert len(set(keys)) == 2


def test_cpp_gemm_is_the_default_and_retried_without(monkeypatch, tmp_path, caplog):
    """``cpp_gemm=True`` (optimize_for_inference's default) compiles with CPP_GEMM_CONFIGS; when
    inductor fails under them, the same program is compiled again with the plain configs; its
    packages have their own cache key (inductor itself is stubbed)."""
    caplog.set_level(logging.INFO, logger="torch_tfjs")
    seen, model, x = _stubbed_inductor(monkeypatch)
    with pytest.raises(ExportError, match="stubbed"):
        aoti.compile_package(model, tmp_path / "m.pt2", [x], [[]], cpp_gemm=True)
    assert len(seen) == 2 and seen[0]["freezing"] is True
    assert all(seen[0][k] == v for k, v in aoti.CPP_GEMM_CONFIGS.items())
    assert not set(aoti.CPP_GEMM_CONFIGS) & set(seen[1])  # the retry: plain configs
    assert "compiling with oneDNN / MKL matmuls" in caplog.text
    assert not list(tmp_path.glob("*.pt2")) and not list(tmp_path.glob(".*partial*"))

    seen.clear()
    with pytest.raises(ExportError, match="stubbed"):  # max_autotune wins, and is not retried
        aoti.compile_package(model, tmp_path / "m.pt2", [x], [[]], cpp_gemm=True, max_autotune=True)
    assert len(seen) == 1 and seen[0]["max_autotune_gemm_backends"] == "CPP,ATEN"

    keys = []
    real_key = aoti.package_key
    monkeypatch.setattr(aoti, "package_key", lambda *a: keys.append(real_key(*a)) or keys[-1])
    seen.clear()
    for cpp_gemm in (True, False):
        fast = torch_tfjs.optimize_for_inference(model, cpp_gemm=cpp_gemm, cache_dir=tmp_path)
        assert fast._load_or_compile([x], None) is None  # the stub fails: falls back
    assert len(set(keys)) == 2
    assert seen[0]["max_autotune_gemm_backends"] == "CPP"  # the default asked for the template
