"""``save_exported``: free axes (batch and spatial) stay dynamic, chosen axes by name, the
fallback warning, and the CLI's --input-shape / --dynamic."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs import export
from torch_tfjs.cli import main
from torch_tfjs.errors import ExportError
from fixture_cases import FIXTURES


def _check(module, model, shapes):
    for shape in shapes:
        x = torch.randn(*shape)
        with torch.no_grad():
            got, want = module(x), model(x)
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-5), shape


def test_free_spatial_axes_stay_dynamic(free_hw, tmp_path):
    model = torch_tfjs.load(free_hw).eval()
    path = tmp_path / "m.pt2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing pinned, no torch noise
        export.save_exported(model, path)
    module = torch.export.load(str(path)).module()
    _check(module, model, [(1, 17, 23, 3), (3, 40, 8, 3), (2, 64, 64, 3)])


def test_chosen_axes_and_pinned_warning(free_hw, tmp_path):
    model = torch_tfjs.load(free_hw).eval()
    name = model.signature.input_names[0]
    program = export.export_program(model, [torch.zeros(1, 24, 24, 3)], {name: [0]})
    module = program.module()
    _check(module, model, [(1, 24, 24, 3), (4, 24, 24, 3)])  # batch 1 example still dynamic
    with pytest.raises(Exception):
        module(torch.zeros(1, 16, 24, 3))  # H static
    with pytest.raises(ExportError, match="unknown input"):
        export.export_program(model, dynamic_shapes={"nope": [0]})
    with pytest.raises(ExportError, match="not axes"):
        export.export_program(model, dynamic_shapes={name: [7]})


def test_lstm_pins_nothing_it_cannot_keep(tmp_path):
    model = torch_tfjs.load(FIXTURES / "layers" / "recurrent" / "lstm_default").eval()
    path = tmp_path / "m.pt2"
    export.save_exported(model, path)
    module = torch.export.load(str(path)).module()
    _check(module, model, [(1, 5, 3), (6, 5, 3)])


def test_cli_input_shape_and_dynamic(free_hw, tmp_path, capsys):
    out = tmp_path / "m.pt2"
    assert main(["convert", str(free_hw), str(out), "--input-shape", "1,20,20,3",
                 "--dynamic", "0,1,2"]) == 0
    model = torch_tfjs.load(free_hw).eval()
    _check(torch.export.load(str(out)).module(), model, [(1, 20, 20, 3), (2, 31, 9, 3)])
    static = tmp_path / "s.pt2"
    assert main(["convert", str(free_hw), str(static), "--input-shape", "1,20,20,3",
                 "--dynamic", ""]) == 0
    module = torch.export.load(str(static)).module()
    _check(module, model, [(1, 20, 20, 3)])
    with pytest.raises(Exception):
        module(torch.zeros(2, 20, 20, 3))
    traced = tmp_path / "m.pt"
    assert main(["convert", str(free_hw), str(traced), "--input-shape", "2,20,20,3"]) == 0
    _check(torch.jit.load(str(traced)), model, [(2, 20, 20, 3)])
    x = np.random.rand(1, 20, 20, 3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model(torch.from_numpy(x)).detach().numpy())
    capsys.readouterr()
    assert main(["verify", str(out), "--inputs", str(tmp_path / "x.npy"),
                 "--expected", str(tmp_path / "y.npy")]) == 0
    assert main(["convert", str(free_hw), str(out), "--input-shape", "x=1,2"]) == 2
    assert "unknown input" in capsys.readouterr().err


def test_an_axis_torch_specialises_is_reported_pinned(free_hw):
    """``int()`` on a dynamic size makes torch specialise it while the placeholder still holds a
    symbol: export_program must say the batch is pinned (and the program must refuse batch 3)."""
    model = torch_tfjs.load(free_hw).eval()

    class IntOfBatch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.signature = model, model.signature

        def forward(self, *inputs):  # varargs, as LayersModel / GraphModel
            return self.inner(*inputs) * int(inputs[0].shape[0])

    with pytest.warns(UserWarning, match=r"static size\(s\) .*\[0\]=2"):
        program = export.export_program(IntOfBatch())
    with pytest.raises(Exception):
        program.module()(torch.zeros(3, 32, 32, 3))
