"""BatchNormalization's no-autograd inference path (a cached scale/shift multiply-add) agrees with
the batch_norm path used under autograd, follows changes to its statistics and weights, and
matches tfjs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import FIXTURES, Case, assert_matches, discover

CASES = [c for c in discover("layers", "normalization") if c.name.startswith("batchnorm_")
         and not c.meta.get("training")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_grad_path_matches_autograd_path_and_tfjs(case: Case):
    model = torch_tfjs.load_layers_model(case.path).eval()
    inputs = [torch.from_numpy(x) for x in case.inputs()]
    with torch.no_grad():
        fast = model(*inputs)
    slow = model(*inputs)  # autograd on: F.batch_norm
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-5, atol=1e-6)
    assert_matches(fast, case.outputs()[0], case.tolerance, case.id)


def test_cached_affine_follows_in_place_updates_and_replacements():
    case = next(c for c in CASES if c.name == "batchnorm_nhwc")
    model = torch_tfjs.load_layers_model(case.path).eval()
    bn = next(m for m in model.modules() if type(m).__name__ == "BatchNormalization")
    x = torch.from_numpy(case.inputs()[0])
    with torch.no_grad():
        before = model(x)
        bn.moving_variance.mul_(4.0)          # an in-place update (an optimizer step, load_state_dict)
        after = model(x)
        bn.moving_mean = bn.moving_mean + 1.0  # a replaced tensor
        replaced = model(x)
    assert not torch.allclose(before, after)
    assert not torch.allclose(after, replaced)
    torch.testing.assert_close(replaced, model(x).detach(), rtol=1e-5, atol=1e-6)


def _mobilenet_like():
    case = next(c for c in discover("models") if c.name == "mobilenet_like")
    return case, torch_tfjs.load_layers_model(case.path)


def _unfolded(model):
    model._fold_plan = {}  # run every BatchNormalization as its own layer
    return model


def test_conv_batch_norm_pairs_fold_in_inference_and_match_tfjs():
    case, model = _mobilenet_like()
    plan = model._batch_norm_folds()
    kinds = {type(model._modules[model._layer_attrs[model._nodes[p].layer]]).__name__ for p in plan}
    assert len(plan) == 10 and kinds == {"Conv2D", "DepthwiseConv2D"}
    x = torch.from_numpy(case.inputs()[0])
    with torch.no_grad():
        folded = model(x)
        unfolded = _unfolded(torch_tfjs.load_layers_model(case.path))(x)
    assert_matches(folded, case.outputs()[0], case.tolerance, "folded")
    torch.testing.assert_close(folded, unfolded, rtol=1e-5, atol=1e-5)


def test_folded_inference_is_differentiable_like_the_layers():
    """eval() with autograd (fine-tuning on top of frozen BatchNorm statistics): the folded
    convolution gives the gradients of conv → BatchNorm."""
    case, folded = _mobilenet_like()
    unfolded = _unfolded(torch_tfjs.load_layers_model(case.path))
    x = torch.from_numpy(case.inputs()[0])
    grads = []
    for model in (folded.eval(), unfolded.eval()):
        model.zero_grad()
        model(x).square().sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and any("gamma" in n for n in grads[0])
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-5, msg=name)


def test_training_mode_does_not_fold():
    case, model = _mobilenet_like()
    bn = next(m for m in model.modules() if type(m).__name__ == "BatchNormalization")
    before = bn.moving_mean.clone()
    model.train()
    model(torch.from_numpy(case.inputs()[0]))
    assert not torch.equal(bn.moving_mean, before)  # batch statistics ran and updated the moving ones


def test_conv_chain_runs_on_nchw_views_with_axis_moves_only_at_the_edges():
    """Conv → BatchNorm → ReLU → DepthwiseConv ... → Add pass NCHW views along
    (KerasLayer.forward_channels_first): no axis move around each conv, in eval and in train."""
    from torch.profiler import profile

    case, model = _mobilenet_like()
    x = torch.from_numpy(case.inputs()[0])
    for training in (False, True):
        model.train(training)
        with torch.no_grad(), profile() as prof:
            out = model(x)
        moves = sum(1 for e in prof.events() if e.name == "aten::movedim")
        convs = sum(1 for e in prof.events() if e.name == "aten::convolution")
        assert convs == 10
        assert moves == 1, (training, moves)  # the input's view; GlobalAveragePooling ends it
        if not training:
            assert_matches(out, case.outputs()[0], case.tolerance, "views")


def test_dropout_and_residual_adds_stay_on_nchw_views():
    """EfficientNet-like: a Dropout inside a block passes its view on at inference, a residual
    Add of a view and a plain value runs on views, and a value read by two view-taking layers
    is viewed once; the result matches tfjs and the plain module calls (a global hook)."""
    from torch.profiler import profile

    case = next(c for c in discover("models") if c.name == "efficientnet_like")
    model = torch_tfjs.load_layers_model(case.path).eval()
    x = torch.from_numpy(case.inputs()[0])
    with torch.no_grad(), profile() as prof:
        fast = model(x)
    moves = sum(1 for e in prof.events() if e.name == "aten::movedim")
    assert moves == 2, moves  # the rescaled input (read by a conv and the Add), the SE Reshape
    assert_matches(fast, case.outputs()[0], case.tolerance, "views")
    handle = torch.nn.modules.module.register_module_forward_hook(lambda *args: None)
    try:
        with torch.no_grad():
            plain = model(x)
    finally:
        handle.remove()
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)


def test_hooks_see_every_layer_in_its_keras_layout():
    """A hooked layer runs as a plain module call: forward hooks fire on folded convs and their
    BatchNorms and see channels-last tensors; summary() lists every output shape."""
    case, model = _mobilenet_like()
    model.eval()
    x = torch.from_numpy(case.inputs()[0])
    seen = {}
    names = [n for n in model.layer_names
             if type(model.get_layer(n)).__name__ in ("Conv2D", "BatchNormalization", "ReLU")][:3]
    assert len(names) == 3

    def record(name):
        def hook(module, inputs, output):
            seen[name] = tuple(output.shape)  # (a hook returning a value would replace the output)
        return hook

    for n in names:
        model.get_layer(n).register_forward_hook(record(n))
    with torch.no_grad():
        out = model(x)
    assert set(seen) == set(names)
    assert all(shape[-1] == model.get_layer(names[0]).kernel.shape[0] for shape in seen.values()), seen  # NHWC
    assert_matches(out, case.outputs()[0], case.tolerance, "hooked")
    _, fresh = _mobilenet_like()
    text = fresh.summary(print_fn=None)
    assert "?" not in text.split("Output shape")[1].split("Total params")[0], text


def test_folded_kernels_are_made_once_and_follow_weight_changes(monkeypatch):
    """Eager inference reuses each conv's BatchNorm-folded kernel (no per-call rescaling), and
    remakes it after an in-place update of the kernel or the statistics, a replaced tensor, or
    under autograd; copies and pickles start with an empty cache."""
    import copy
    import io

    from torch_tfjs.layers import conv as conv_module

    case, model = _mobilenet_like()
    model.eval()
    x = torch.from_numpy(case.inputs()[0])
    folds = []
    real_get = conv_module.DerivedCache.get

    def counting_get(self, sources, compute):  # conv folds only (a BatchNorm's first source is 1-D)
        if sources[0].dim() < 3:
            return real_get(self, sources, compute)
        return real_get(self, sources, lambda: folds.append(1) or compute())

    monkeypatch.setattr(conv_module.DerivedCache, "get", counting_get)
    with torch.inference_mode():
        first = model(x)
        made = len(folds)
        assert made == 10  # one per conv → BatchNorm pair
        torch.testing.assert_close(model(x), first, rtol=0, atol=0)
        assert len(folds) == made  # reused
    conv = next(m for m in model.modules() if type(m).__name__ == "Conv2D")
    bn = next(m for m in model.modules() if type(m).__name__ == "BatchNormalization")
    with torch.no_grad():
        conv.kernel.mul_(2.0)
        changed = model(x)
        assert len(folds) == made + 1 and not torch.allclose(changed, first)
        bn.moving_mean = bn.moving_mean + 1.0  # replaced: its conv's fold is remade
        model(x)
        assert len(folds) == made + 2
        conv.kernel.div_(2.0)
    model(x).sum().backward()  # autograd: computed, never cached
    assert conv.kernel.grad is not None
    clone = copy.deepcopy(model)
    torch.save(model, io.BytesIO())
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)
