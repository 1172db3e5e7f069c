"""torch_tfjs.training optimizers against hand-written tfjs-core update rules (numpy, float64),
their defaults, config mapping (tfjs and Keras spellings) and the optimizer-weights restore."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torch_tfjs import training as T
from torch_tfjs.errors import ConversionError, WeightMismatchError

EPS = 1e-7
RNG = np.random.default_rng(3)
P0 = RNG.normal(size=(3, 4)).astype(np.float32)
GRADS = [RNG.normal(size=(3, 4)).astype(np.float32) for _ in range(3)]


def run(make, steps=3):
    p = torch.nn.Parameter(torch.from_numpy(P0.copy()))
    opt = make([p])
    for g in GRADS[:steps]:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    return p.detach().numpy().astype(np.float64), opt


def ref_sgd(lr):
    p = P0.astype(np.float64)
    for g in GRADS:
        p = p - lr * g
    return p


def ref_momentum(lr, m, nesterov):
    p, acc = P0.astype(np.float64), np.zeros_like(P0, dtype=np.float64)
    for g in GRADS:
        acc = m * acc + g
        p = p - lr * ((g + m * acc) if nesterov else acc)
    return p


def ref_adam(lr, b1, b2, eps):
    p, m, v = P0.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(GRADS, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


def ref_adamax(lr, b1, b2, eps, decay):
    p, m, u = P0.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(GRADS, 1):
        lr_t = lr / (1 + decay * (t - 1))
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        p = p - lr_t / (1 - b1 ** t) * m / (u + eps)
    return p


def ref_rmsprop(lr, decay, momentum, eps, centered):
    p, ms, mg, mom = P0.astype(np.float64), 0.0, 0.0, 0.0
    for g in GRADS:
        ms = decay * ms + (1 - decay) * g * g
        if centered:
            mg = decay * mg + (1 - decay) * g
            mom = momentum * mom + lr * g / np.sqrt(ms - (mg * mg + eps))  # tfjs subtracts eps
        else:
            mom = momentum * mom + lr * g / np.sqrt(ms + eps)  # eps inside the sqrt
        p = p - mom
    return p


def ref_adagrad(lr, init):
    p, acc = P0.astype(np.float64), np.full(P0.shape, init)
    for g in GRADS:
        acc = acc + g * g
        p = p - lr * g / np.sqrt(acc + EPS)
    return p


def ref_adadelta(lr, rho, eps):
    p, ag, au = P0.astype(np.float64), 0.0, 0.0
    for g in GRADS:
        new_ag = rho * ag + (1 - rho) * g * g
        upd = np.sqrt(au + eps) / np.sqrt(ag + eps) * g  # the *old* accumulated gradient
        au = rho * au + (1 - rho) * upd * upd
        ag = new_ag
        p = p - lr * upd
    return p


CASES = {
    "sgd": (lambda ps: T.SGD(ps, 0.1), ref_sgd(0.1)),
    "momentum": (lambda ps: T.SGD(ps, 0.05, momentum=0.9), ref_momentum(0.05, 0.9, False)),
    "nesterov": (lambda ps: T.SGD(ps, 0.05, momentum=0.9, nesterov=True), ref_momentum(0.05, 0.9, True)),
    "adam": (lambda ps: T.Adam(ps, 0.01), ref_adam(0.01, 0.9, 0.999, EPS)),
    "adam_eps": (lambda ps: T.Adam(ps, 0.1, 0.5, 0.6, 0.3), ref_adam(0.1, 0.5, 0.6, 0.3)),
    "adamax": (lambda ps: T.Adamax(ps, 0.01, decay=0.1), ref_adamax(0.01, 0.9, 0.999, EPS, 0.1)),
    "rmsprop": (lambda ps: T.RMSProp(ps, 0.01, eps=0.5), ref_rmsprop(0.01, 0.9, 0.0, 0.5, False)),
    "rmsprop_momentum": (lambda ps: T.RMSProp(ps, 0.01, 0.8, 0.5), ref_rmsprop(0.01, 0.8, 0.5, EPS, False)),
    "rmsprop_centered": (lambda ps: T.RMSProp(ps, 0.01, 0.8, 0.3, -1e-3, True),
                         ref_rmsprop(0.01, 0.8, 0.3, -1e-3, True)),
    "adagrad": (lambda ps: T.Adagrad(ps, 0.1), ref_adagrad(0.1, 0.1)),
    "adadelta": (lambda ps: T.Adadelta(ps, 1.0, 0.9, 1e-3), ref_adadelta(1.0, 0.9, 1e-3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_updates_follow_tfjs(name):
    make, want = CASES[name]
    got, opt = run(make)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert opt.iterations == 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_step(name):
    make, _ = CASES[name]
    got, _ = run(make, steps=1)
    global GRADS
    saved = GRADS
    try:
        GRADS = saved[:1]
        want = {k: v for k, v in {
            "sgd": lambda: ref_sgd(0.1), "momentum": lambda: ref_momentum(0.05, 0.9, False),
            "nesterov": lambda: ref_momentum(0.05, 0.9, True), "adam": lambda: ref_adam(0.01, 0.9, 0.999, EPS),
            "adam_eps": lambda: ref_adam(0.1, 0.5, 0.6, 0.3),
            "adamax": lambda: ref_adamax(0.01, 0.9, 0.999, EPS, 0.1),
            "rmsprop": lambda: ref_rmsprop(0.01, 0.9, 0.0, 0.5, False),
            "rmsprop_momentum": lambda: ref_rmsprop(0.01, 0.8, 0.5, EPS, False),
            "rmsprop_centered": lambda: ref_rmsprop(0.01, 0.8, 0.3, -1e-3, True),
            "adagrad": lambda: ref_adagrad(0.1, 0.1), "adadelta": lambda: ref_adadelta(1.0, 0.9, 1e-3),
        }.items()}[name]()
    finally:
        GRADS = saved
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_adadelta_is_plain_sgd_in_tfjs():
    got, _ = run(lambda ps: T.Adadelta(ps, 0.5, 0.95))
    np.testing.assert_allclose(got, ref_sgd(0.5), rtol=1e-6, atol=1e-6)


def test_missing_gradient_is_skipped_but_counted():
    a = torch.nn.Parameter(torch.ones(2))
    b = torch.nn.Parameter(torch.ones(2))
    opt = T.Adam([a, b], 0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b, torch.ones(2)) and not torch.equal(a, torch.ones(2))
    assert "exp_avg" in opt.state[b]  # slot created as tfjs does
    assert opt.iterations == 1


def test_defaults_are_tfjs():
    p = [torch.nn.Parameter(torch.zeros(1))]
    assert T.Adam(p).tfjs_config() == {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7}
    assert T.Adamax(p).tfjs_config() == {"learningRate": 0.002, "beta1": 0.9, "beta2": 0.999,
                                         "epsilon": 1e-7, "decay": 0.0}
    assert T.RMSProp(p).tfjs_config() == {"learningRate": 0.001, "decay": 0.9, "momentum": 0.0,
                                          "epsilon": 1e-7, "centered": False}
    assert T.Adagrad(p).tfjs_config() == {"learningRate": 0.01, "initialAccumulatorValue": 0.1}
    assert T.Adadelta(p).tfjs_config() == {"learningRate": 0.001, "rho": 0.95, "epsilon": 1e-7}
    assert T.SGD(p).tfjs_config() == {"learningRate": 0.01}
    assert T.SGD(p, 0.1, 0.9).tfjs_class_name == "Momentum"
    # tfjs getOptimizer('adadelta') uses lr 1, 'adagrad' 0.01
    assert T.get_optimizer("adadelta", p).tfjs_config()["learningRate"] == 1.0
    assert T.get_optimizer("RMSProp", p).tfjs_config()["learningRate"] == 0.001
    with pytest.raises(ConversionError):
        T.get_optimizer("nadam", p)


@pytest.mark.parametrize("config, cls, expect", [
    ({"class_name": "Adam", "config": {"learningRate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}},
     "Adam", {"learningRate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}),
    ({"class_name": "Adam", "config": {"learning_rate": 0.002, "beta_1": 0.85, "beta_2": 0.98,
                                       "epsilon": 1e-7, "amsgrad": False, "name": "Adam",
                                       "weight_decay": None, "clipnorm": None, "use_ema": False}},
     "Adam", {"learningRate": 0.002, "beta1": 0.85, "beta2": 0.98, "epsilon": 1e-7}),
    ({"class_name": "Momentum", "config": {"learningRate": 0.1, "momentum": 0.9, "useNesterov": True}},
     "Momentum", {"learningRate": 0.1, "momentum": 0.9, "useNesterov": True}),
    ({"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.5, "nesterov": False}},
     "Momentum", {"learningRate": 0.1, "momentum": 0.5, "useNesterov": False}),
    ({"class_name": "SGD", "config": {"learningRate": 0.3}}, "SGD", {"learningRate": 0.3}),
    ({"class_name": "RMSProp", "config": {"learningRate": 0.01, "decay": 0.8, "momentum": 0.1,
                                          "epsilon": 1e-6, "centered": True}},
     "RMSProp", {"learningRate": 0.01, "decay": 0.8, "momentum": 0.1, "epsilon": 1e-6, "centered": True}),
    ({"class_name": "RMSprop", "config": {"learning_rate": 0.01, "rho": 0.95, "momentum": 0.0,
                                          "epsilon": 1e-7, "centered": False, "decay": 0.0}},
     "RMSProp", {"learningRate": 0.01, "decay": 0.95, "momentum": 0.0, "epsilon": 1e-7, "centered": False}),
    ({"class_name": "Adagrad", "config": {"learning_rate": 0.05, "initial_accumulator_value": 0.2,
                                          "epsilon": 1e-7}},
     "Adagrad", {"learningRate": 0.05, "initialAccumulatorValue": 0.2}),
    ({"class_name": "Adadelta", "config": {"learningRate": 1.0, "rho": 0.9, "epsilon": 1e-6}},
     "Adadelta", {"learningRate": 1.0, "rho": 0.9, "epsilon": 1e-6}),
    ({"class_name": "Adamax", "config": {"learningRate": 0.002, "beta1": 0.9, "beta2": 0.999,
                                         "epsilon": 1e-7, "decay": 0.1}},
     "Adamax", {"learningRate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "decay": 0.1}),
])
def test_optimizer_from_config(config, cls, expect):
    opt = T.optimizer_from_config(config, [torch.nn.Parameter(torch.zeros(2))])
    assert opt.tfjs_class_name == cls
    assert opt.tfjs_config() == pytest.approx(expect)


@pytest.mark.parametrize("config, words", [
    ({"class_name": "Nadam", "config": {}}, "Nadam"),
    ({"class_name": "Adam", "config": {"learning_rate": {"class_name": "ExponentialDecay", "config": {}}}},
     "ExponentialDecay"),
    ({"class_name": "Adam", "config": {"learning_rate": 0.1, "clipnorm": 1.0}}, "clipnorm"),
    ({"class_name": "Adam", "config": {"learning_rate": 0.1, "amsgrad": True}}, "amsgrad"),
    ({"class_name": "SGD", "config": {"learning_rate": 0.1, "decay": 0.01}}, "decay"),
    ({"class_name": "Adam", "config": {"learningRate": 0.1, "frobnicate": 1}}, "frobnicate"),
])
def test_optimizer_config_errors_name_the_problem(config, words):
    with pytest.raises(ConversionError, match=words):
        T.optimizer_from_config(config, [torch.nn.Parameter(torch.zeros(2))])


def test_state_dict_roundtrip_keeps_tfjs_counters():
    got, opt = run(lambda ps: T.Adam(ps, 0.01), steps=2)
    p2 = torch.nn.Parameter(torch.from_numpy(got.astype(np.float32)))
    opt2 = T.Adam([p2], 0.01)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.iterations == 2
    p2.grad = torch.from_numpy(GRADS[2].copy())
    opt2.step()
    np.testing.assert_allclose(p2.detach().numpy(), ref_adam(0.01, 0.9, 0.999, EPS), rtol=1e-5, atol=1e-6)


def test_load_tfjs_optimizer_weights_checks_names_and_counts():
    p = torch.nn.Parameter(torch.zeros(2, 3))
    opt = T.Adam([p], 0.01)
    ident = lambda a: torch.from_numpy(a)  # noqa: E731
    m = np.full((2, 3), 0.5, np.float32)
    v = np.full((2, 3), 0.25, np.float32)
    T.load_tfjs_optimizer_weights(opt, [("dense/kernel", p, ident)],
                                  {"iter": np.array(4, np.int32), "dense/kernel_1/m": m, "dense/kernel_1/v": v})
    assert opt.iterations == 4
    assert torch.equal(opt.state[p]["exp_avg"], torch.from_numpy(m))
    assert float(opt.param_groups[0]["acc_beta1"]) == pytest.approx(0.9 ** 5, rel=1e-6)
    with pytest.raises(WeightMismatchError, match="expected"):
        T.load_tfjs_optimizer_weights(opt, [("dense/kernel", p, ident)],
                                      {"iter": np.array(1, np.int32), "other/m": m, "dense/kernel/v": v})
    with pytest.raises(WeightMismatchError, match="slot"):
        T.load_tfjs_optimizer_weights(opt, [("dense/kernel", p, ident)],
                                      {"iter": np.array(1, np.int32), "dense/kernel/m": m})
