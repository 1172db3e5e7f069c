"""``torch.optim`` optimizers with the update rules of tfjs-core's optimizers, operation for
operation (``@tensorflow/tfjs-core/dist/optimizers/*.js``), float32 throughout.

Where tfjs differs from Keras / torch, tfjs wins:

* :class:`Adam`: ``m_hat = m / (1 - beta1^t)``, ``v_hat = v / (1 - beta2^t)``,
  ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` (epsilon outside the sqrt, *after* bias
  correction; ``beta^t`` accumulated in float32 as tfjs's ``accBeta`` variables), eps = 1e-7.
* :class:`RMSProp`: ``decay`` is the moving-average factor (Keras ``rho``);
  ``mom = momentum * mom + lr * g / sqrt(ms + eps)`` (epsilon *inside* the sqrt),
  ``p -= mom``; centered: ``sqrt(ms - (mg^2 + eps))`` -- tfjs subtracts epsilon there.
* :class:`SGD` with momentum (tfjs ``MomentumOptimizer``): ``acc = momentum * acc + g``,
  ``p -= lr * acc`` or, Nesterov, ``p -= lr * (g + momentum * acc)``.
* :class:`Adagrad`: accumulator starts at ``initial_accumulator_value`` (0.1),
  ``p -= lr * g / sqrt(acc + eps)``.
* :class:`Adadelta`: ``upd = sqrt(acc_upd + eps) / sqrt(acc_grad + eps) * g`` with the
  *previous* ``acc_grad`` (tfjs's order), ``p -= lr * upd``. A consequence: the two
  accumulators start equal and stay equal, so tfjs's Adadelta update is exactly ``-lr * g``.
* :class:`Adamax`: ``lr_t = lr / (1 + decay * t)``, ``u = max(beta2 * u, |g|)``,
  ``p -= lr_t / (1 - beta1^t) * m / (u + eps)``.

A parameter whose ``grad`` is None is skipped (its slots still exist), as tfjs skips a null
gradient. The iteration count and Adam's/Adamax's ``beta^t`` live in each param group (so they
are part of ``state_dict``).

:func:`optimizer_from_config` builds one from a ``trainingConfig.optimizer_config`` as tfjs
writes it (``{"class_name": "Adam", "config": {"learningRate": ..., "beta1": ...}}``) or as the
Python converter writes it (Keras names: ``{"class_name": "Adam", "config": {"learning_rate":
..., "beta_1": ...}}``). :func:`load_tfjs_optimizer_weights` restores the slot variables tfjs
saves with ``includeOptimizer`` (manifest group ``"optimizer"``).
"""

from __future__ import annotations

import re
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Type, Union)

import numpy as np
import torch

from ..errors import ConversionError, WeightMismatchError

#: The backend epsilon tfjs optimizers default to (float32 backends).
EPSILON = 1e-7

Params = Union[Iterable[torch.Tensor], Iterable[Dict[str, Any]]]


class TfjsOptimizer(torch.optim.Optimizer):
    """Base class: per-parameter slots created lazily (tfjs creates them on the first
    ``applyGradients``), ``iterations`` counted per group.

    Subclasses set ``tfjs_class_name`` and ``slots``: ``(tfjs suffix, state key, initial
    value)`` in the order tfjs's ``getWeights`` lists them (all params' first slot, then all
    params' second slot, ...), and implement :meth:`_update`.
    """

    tfjs_class_name: str = ""
    slots: Tuple[Tuple[str, str, float], ...] = ()

    def __init__(self, params: Params, defaults: Dict[str, Any]):
        super().__init__(params, defaults)
        for group in self.param_groups:
            self._init_group(group)

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._init_group(self.param_groups[-1])

    def _init_group(self, group: Dict[str, Any]) -> None:
        group.setdefault("iterations", 0)

    def _slot_initial(self, group: Dict[str, Any], key: str, default: float) -> float:
        return default

    def _ensure_slots(self, p: torch.Tensor, group: Dict[str, Any]) -> Dict[str, torch.Tensor]:
        state = self.state[p]
        for _suffix, key, init in self.slots:
            if key not in state:
                value = self._slot_initial(group, key, init)
                state[key] = torch.full_like(p, value, memory_format=torch.preserve_format)
        return state

    @property
    def iterations(self) -> int:
        """tfjs ``optimizer.iterations``: how many times :meth:`step` ran."""
        return int(self.param_groups[0]["iterations"]) if self.param_groups else 0

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._begin_group(group)
            for p in group["params"]:
                state = self._ensure_slots(p, group)
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                self._update(p, grad, state, group)
            self._end_group(group)
            group["iterations"] += 1
        return loss

    def _begin_group(self, group: Dict[str, Any]) -> None:
        pass

    def _end_group(self, group: Dict[str, Any]) -> None:
        pass

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        raise NotImplementedError

    # --- tfjs getWeights / setWeights -------------------------------------------------------
    def _set_iterations(self, iterations: int) -> None:
        for group in self.param_groups:
            group["iterations"] = int(iterations)

    def tfjs_config(self) -> Dict[str, Any]:
        """``getConfig()`` of the tfjs optimizer this one reproduces (first param group)."""
        raise NotImplementedError

    def load_tfjs_slots(self, params: Sequence[torch.Tensor], iterations: int,
                        slot_values: Sequence[Sequence[torch.Tensor]]) -> None:
        """Set ``iterations`` and, for ``slot_values[k][i]`` (slot kind ``k`` of ``params[i]``,
        in torch layout), the state of each parameter (tfjs ``setWeights``)."""
        self._set_iterations(iterations)
        group_of = {id(p): g for g in self.param_groups for p in g["params"]}
        for k, (_suffix, key, _init) in enumerate(self.slots):
            for p, value in zip(params, slot_values[k]):
                if id(p) not in group_of:
                    raise WeightMismatchError("optimizer weights name a parameter the optimizer "
                                              "does not hold")
                self.state[p][key] = value.detach().to(dtype=p.dtype, device=p.device).clone()


def _f(x: float) -> float:
    """A JS number as tfjs turns it into a float32 scalar."""
    return float(np.float32(x))


class SGD(TfjsOptimizer):
    """tfjs ``SGDOptimizer`` (``p += -lr * g``) or, with ``momentum`` > 0 or ``nesterov``,
    tfjs ``MomentumOptimizer``. Default ``lr`` 0.01 (tfjs's ``'sgd'``)."""

    tfjs_class_name = "SGD"

    def __init__(self, params: Params, lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, *, use_momentum: Optional[bool] = None):
        self.use_momentum = bool(momentum) or bool(nesterov) if use_momentum is None else use_momentum
        if self.use_momentum:
            self.slots = (("momentum", "momentum_buffer", 0.0),)
            self.tfjs_class_name = "Momentum"
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov))

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        c = -group["lr"]
        if not self.use_momentum:
            p.copy_(g * c + p)
            return
        m = group["momentum"]
        acc = state["momentum_buffer"]
        new_acc = acc * m + g
        if group["nesterov"]:
            new_value = (g + new_acc * m) * c + p
        else:
            new_value = new_acc * c + p
        acc.copy_(new_acc)
        p.copy_(new_value)

    def tfjs_config(self) -> Dict[str, Any]:
        g = self.param_groups[0]
        if self.use_momentum:
            return {"learningRate": g["lr"], "momentum": g["momentum"], "useNesterov": g["nesterov"]}
        return {"learningRate": g["lr"]}


class Momentum(SGD):
    """tfjs ``MomentumOptimizer`` (``tf.train.momentum``); always keeps the momentum slot."""

    def __init__(self, params: Params, lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr, momentum, nesterov, use_momentum=True)


class Adam(TfjsOptimizer):
    """tfjs ``AdamOptimizer`` (defaults lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7)."""

    tfjs_class_name = "Adam"
    slots = (("m", "exp_avg", 0.0), ("v", "exp_avg_sq", 0.0))

    def __init__(self, params: Params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: Optional[float] = None):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2,
                                      eps=EPSILON if eps is None else eps))

    def _init_group(self, group: Dict[str, Any]) -> None:
        super()._init_group(group)
        group.setdefault("acc_beta1", torch.tensor(group["beta1"], dtype=torch.float32))
        group.setdefault("acc_beta2", torch.tensor(group["beta2"], dtype=torch.float32))

    def _begin_group(self, group: Dict[str, Any]) -> None:
        self._one_minus_acc = (1.0 - group["acc_beta1"], 1.0 - group["acc_beta2"])

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        b1, b2 = group["beta1"], group["beta2"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        new_m = m * b1 + g * (1 - b1)
        new_v = v * b2 + (g * g) * (1 - b2)
        one_m1, one_m2 = (t.to(p.device) for t in self._one_minus_acc)
        m_hat = new_m / one_m1
        v_hat = new_v / one_m2
        m.copy_(new_m)
        v.copy_(new_v)
        p.copy_((m_hat / (torch.sqrt(v_hat) + group["eps"])) * (-group["lr"]) + p)

    def _end_group(self, group: Dict[str, Any]) -> None:
        group["acc_beta1"] = group["acc_beta1"] * group["beta1"]
        group["acc_beta2"] = group["acc_beta2"] * group["beta2"]

    def _set_iterations(self, iterations: int) -> None:
        super()._set_iterations(iterations)
        for group in self.param_groups:  # tfjs setWeights: accBeta = pow(beta, iterations + 1)
            group["acc_beta1"] = torch.pow(torch.tensor(group["beta1"], dtype=torch.float32),
                                           float(iterations + 1))
            group["acc_beta2"] = torch.pow(torch.tensor(group["beta2"], dtype=torch.float32),
                                           float(iterations + 1))

    def tfjs_config(self) -> Dict[str, Any]:
        g = self.param_groups[0]
        return {"learningRate": g["lr"], "beta1": g["beta1"], "beta2": g["beta2"], "epsilon": g["eps"]}


class Adamax(TfjsOptimizer):
    """tfjs ``AdamaxOptimizer`` (defaults lr 0.002, beta1 0.9, beta2 0.999, eps 1e-7, decay 0).
    tfjs cannot save or restore its slots (``getWeights`` is not implemented)."""

    tfjs_class_name = "Adamax"
    slots = (("m", "exp_avg", 0.0), ("v", "exp_inf", 0.0))

    def __init__(self, params: Params, lr: float = 0.002, beta1: float = 0.9, beta2: float = 0.999,
                 eps: Optional[float] = None, decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2,
                                      eps=EPSILON if eps is None else eps, decay=decay))

    def _init_group(self, group: Dict[str, Any]) -> None:
        super()._init_group(group)
        group.setdefault("iteration", torch.tensor(0.0, dtype=torch.float32))
        group.setdefault("acc_beta1", torch.tensor(group["beta1"], dtype=torch.float32))

    def _begin_group(self, group: Dict[str, Any]) -> None:
        one_minus = 1.0 - group["acc_beta1"]
        lr = (-group["lr"]) / (group["iteration"] * group["decay"] + 1.0)
        self._coef = lr / one_minus

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        b1, b2 = group["beta1"], group["beta2"]
        m, u = state["exp_avg"], state["exp_inf"]
        new_m = m * b1 + g * (1 - b1)
        new_u = torch.maximum(u * b2, torch.abs(g))
        m.copy_(new_m)
        u.copy_(new_u)
        p.copy_(self._coef.to(p.device) * (new_m / (new_u + group["eps"])) + p)

    def _end_group(self, group: Dict[str, Any]) -> None:
        group["iteration"] = group["iteration"] + 1.0
        group["acc_beta1"] = group["acc_beta1"] * group["beta1"]

    def _set_iterations(self, iterations: int) -> None:
        super()._set_iterations(iterations)
        for group in self.param_groups:
            group["iteration"] = torch.tensor(float(iterations), dtype=torch.float32)
            group["acc_beta1"] = torch.pow(torch.tensor(group["beta1"], dtype=torch.float32),
                                           float(iterations + 1))

    def tfjs_config(self) -> Dict[str, Any]:
        g = self.param_groups[0]
        return {"learningRate": g["lr"], "beta1": g["beta1"], "beta2": g["beta2"],
                "epsilon": g["eps"], "decay": g["decay"]}


class RMSProp(TfjsOptimizer):
    """tfjs ``RMSPropOptimizer`` (defaults lr 0.001, decay 0.9, momentum 0, eps 1e-7,
    centered False). ``rho`` is accepted as Keras's name for ``decay``."""

    tfjs_class_name = "RMSProp"

    def __init__(self, params: Params, lr: float = 0.001, decay: float = 0.9, momentum: float = 0.0,
                 eps: Optional[float] = None, centered: bool = False, *, rho: Optional[float] = None):
        if rho is not None:
            decay = rho
        self.centered = bool(centered)
        self.slots = (("rms", "square_avg", 0.0), ("momentum", "momentum_buffer", 0.0))
        if self.centered:
            self.slots += (("mg", "grad_avg", 0.0),)
        super().__init__(params, dict(lr=lr, decay=decay, momentum=momentum,
                                      eps=EPSILON if eps is None else eps, centered=self.centered))

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        d, lr, eps = group["decay"], group["lr"], group["eps"]
        ms, mom = state["square_avg"], state["momentum_buffer"]
        new_ms = ms * d + (g * g) * (1 - d)
        if self.centered:
            mg = state["grad_avg"]
            new_mg = mg * d + g * (1 - d)
            contribution = (g * lr) / torch.sqrt(new_ms - (new_mg * new_mg + eps))
            mg.copy_(new_mg)
        else:
            contribution = (g * lr) / torch.sqrt(new_ms + eps)
        new_mom = mom * group["momentum"] + contribution
        ms.copy_(new_ms)
        mom.copy_(new_mom)
        p.copy_(p - new_mom)

    def tfjs_config(self) -> Dict[str, Any]:
        g = self.param_groups[0]
        return {"learningRate": g["lr"], "decay": g["decay"], "momentum": g["momentum"],
                "epsilon": g["eps"], "centered": self.centered}


class Adagrad(TfjsOptimizer):
    """tfjs ``AdagradOptimizer`` (defaults lr 0.01 as tfjs's ``'adagrad'``, initial
    accumulator 0.1; the epsilon is always the backend's 1e-7)."""

    tfjs_class_name = "Adagrad"
    slots = (("accumulator", "sum", 0.1),)

    def __init__(self, params: Params, lr: float = 0.01, initial_accumulator_value: float = 0.1):
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value))

    def _slot_initial(self, group: Dict[str, Any], key: str, default: float) -> float:
        return float(group["initial_accumulator_value"])

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        acc = state["sum"]
        new_acc = acc + g * g
        acc.copy_(new_acc)
        p.copy_((g / torch.sqrt(new_acc + EPSILON)) * (-group["lr"]) + p)

    def tfjs_config(self) -> Dict[str, Any]:
        g = self.param_groups[0]
        return {"learningRate": g["lr"], "initialAccumulatorValue": g["initial_accumulator_value"]}


class Adadelta(TfjsOptimizer):
    """tfjs ``AdadeltaOptimizer`` (defaults lr 0.001 as ``tf.train.adadelta``, rho 0.95,
    eps 1e-7; tfjs's ``'adadelta'`` string uses lr 1)."""

    tfjs_class_name = "Adadelta"
    slots = (("accum_grad", "square_avg", 0.0), ("accum_var", "acc_delta", 0.0))

    def __init__(self, params: Params, lr: float = 0.001, rho: float = 0.95,
                 eps: Optional[float] = None):
        super().__init__(params, dict(lr=lr, rho=rho, eps=EPSILON if eps is None else eps))

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: Dict[str, torch.Tensor],
                group: Dict[str, Any]) -> None:
        rho, eps = group["rho"], group["eps"]
        ag, au = state["square_avg"], state["acc_delta"]
        new_ag = ag * rho + (g * g) * (1 - rho)
        updates = (torch.sqrt(au + eps) / torch.sqrt(ag + eps)) * g
        new_au = au * rho + (updates * updates) * (1 - rho)
        ag.copy_(new_ag)
        au.copy_(new_au)
        p.copy_(updates * (-group["lr"]) + p)

    def tfjs_config(self) -> Dict[str, Any]:
        g = self.param_groups[0]
        return {"learningRate": g["lr"], "rho": g["rho"], "epsilon": g["eps"]}


# --- identifiers and configs --------------------------------------------------------------------

#: tfjs ``getOptimizer(identifier)``: the string identifiers ``compile`` accepts, with the
#: hyperparameters tfjs uses for them.
STRING_OPTIMIZERS: Dict[str, Callable[[Params], TfjsOptimizer]] = {
    "adagrad": lambda p: Adagrad(p, 0.01),
    "adadelta": lambda p: Adadelta(p, 1.0, 0.95, EPSILON),
    "adam": lambda p: Adam(p, 0.001, 0.9, 0.999, EPSILON),
    "adamax": lambda p: Adamax(p, 0.002, 0.9, 0.999, EPSILON, 0.0),
    "rmsprop": lambda p: RMSProp(p, 0.001, 0.9, 0.0, EPSILON),
    "sgd": lambda p: SGD(p, 0.01),
}

_CLASSES: Dict[str, Type[TfjsOptimizer]] = {
    "sgd": SGD, "momentum": Momentum, "adam": Adam, "adamax": Adamax, "rmsprop": RMSProp,
    "adagrad": Adagrad, "adadelta": Adadelta,
}

#: Keras-only options: honoured only at these neutral values.
_NEUTRAL = {
    "clipnorm": (None,), "clipvalue": (None,), "global_clipnorm": (None,),
    "weight_decay": (None, 0, 0.0), "use_ema": (None, False), "amsgrad": (None, False),
    "gradient_accumulation_steps": (None, 1), "loss_scale_factor": (None, 1, 1.0),
}
_IGNORED = {"name", "is_legacy_optimizer", "jit_compile", "ema_momentum",
            "ema_overwrite_frequency", "mesh", "ema_overwrite_freq"}


def get_optimizer(identifier: str, params: Params) -> TfjsOptimizer:
    """tfjs ``getOptimizer``: ``'sgd'``, ``'adam'``, ``'rmsprop'``, ... (either case as tfjs:
    ``'Adam'``/``'adam'``, ``'RMSProp'``/``'rmsprop'``)."""
    key = identifier if identifier in STRING_OPTIMIZERS else identifier.lower()
    if key not in STRING_OPTIMIZERS or (identifier not in STRING_OPTIMIZERS and identifier not in
                                        ("Adagrad", "Adadelta", "Adam", "Adamax", "RMSProp", "SGD")):
        raise ConversionError(f"unknown optimizer {identifier!r}; known: "
                              "sgd, adam, adamax, rmsprop, adagrad, adadelta (or a class name)")
    return STRING_OPTIMIZERS[key](params)


def optimizer_from_config(optimizer_config: Mapping[str, Any], params: Params) -> TfjsOptimizer:
    """Build the optimizer a ``trainingConfig.optimizer_config`` describes.

    tfjs writes ``{"class_name": "Adam"|"SGD"|"Momentum"|"RMSProp"|..., "config":
    getConfig()}`` (camelCase keys); the Python converter writes Keras's class names and
    snake_case keys (``learning_rate``, ``beta_1``, ``rho``, ``nesterov``, ...). Keys tfjs's
    constructor would leave undefined take the defaults of the ``tf.train.*`` factories (and, for
    a required learning rate, of tfjs's string identifier). Keras-only features (learning-rate
    schedules, weight decay, clipping, EMA, AMSGrad, Nadam, Ftrl, ...) raise
    :class:`ConversionError`, naming them.
    """
    if not isinstance(optimizer_config, Mapping):
        raise ConversionError(f"optimizer_config must be an object, got {optimizer_config!r}")
    class_name = optimizer_config.get("class_name")
    if not isinstance(class_name, str):
        raise ConversionError(f"optimizer_config has no class_name: {dict(optimizer_config)!r}")
    raw = dict(optimizer_config.get("config") or {})
    short = class_name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]  # "Custom>Adam", "keras.optimizers.Adam"
    key = short.lower()
    if key not in _CLASSES:
        raise ConversionError(f"unsupported optimizer {class_name!r}; tfjs has SGD, Momentum, Adam, "
                              "Adamax, RMSProp, Adagrad, Adadelta")
    keras_style = "learning_rate" in raw or "lr" in raw

    bad = [f"{k}={raw[k]!r}" for k, ok in _NEUTRAL.items() if k in raw and raw[k] not in ok]
    if bad:
        raise ConversionError(f"optimizer {class_name!r}: Keras option(s) {', '.join(bad)} have no "
                              "tfjs equivalent")
    cfg: Dict[str, Any] = {_camel(k): v for k, v in raw.items() if k not in _NEUTRAL and k not in _IGNORED}
    lr = cfg.pop("learningRate", None)
    legacy_lr = cfg.pop("lr", None)
    lr = legacy_lr if lr is None else lr
    if isinstance(lr, Mapping):
        raise ConversionError(f"optimizer {class_name!r}: learning-rate schedule "
                              f"{lr.get('class_name', lr)!r} is not supported (tfjs has none)")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
        raise ConversionError(f"optimizer {class_name!r}: learning rate {lr!r} is not a number")
    if keras_style and key not in ("adamax",):
        # Keras's `decay` is a learning-rate time decay (tfjs has it only for Adamax).
        lr_decay = cfg.pop("decay", None)
        if lr_decay not in (None, 0, 0.0):
            raise ConversionError(f"optimizer {class_name!r}: Keras learning-rate decay "
                                  f"{lr_decay!r} is not supported")

    def take(name: str, default: Any) -> Any:
        value = cfg.pop(name, None)
        return default if value is None else value

    def done(opt: TfjsOptimizer) -> TfjsOptimizer:
        if cfg:
            raise ConversionError(f"optimizer {class_name!r}: unknown config key(s) {sorted(cfg)}")
        return opt

    if key in ("sgd", "momentum"):
        momentum = float(take("momentum", 0.0))
        nesterov = bool(take("useNesterov", take("nesterov", False)))
        lr_ = 0.01 if lr is None else lr
        if key == "momentum" or momentum or nesterov:
            return done(Momentum(params, lr_, momentum, nesterov))
        return done(SGD(params, lr_))
    if key == "adam":
        return done(Adam(params, 0.001 if lr is None else lr, take("beta1", 0.9), take("beta2", 0.999),
                         take("epsilon", None)))
    if key == "adamax":
        return done(Adamax(params, 0.002 if lr is None else lr, take("beta1", 0.9), take("beta2", 0.999),
                           take("epsilon", None), take("decay", 0.0)))
    if key == "rmsprop":
        decay = take("rho", 0.9) if keras_style else take("decay", take("rho", 0.9))
        return done(RMSProp(params, 0.001 if lr is None else lr, decay, take("momentum", 0.0),
                            take("epsilon", None), bool(take("centered", False))))
    if key == "adagrad":
        if keras_style:
            cfg.pop("epsilon", None)  # Keras has one; tfjs always uses the backend epsilon
        return done(Adagrad(params, 0.01 if lr is None else lr, take("initialAccumulatorValue", 0.1)))
    return done(Adadelta(params, 0.001 if lr is None else lr, take("rho", 0.95), take("epsilon", None)))


def _camel(key: str) -> str:
    if len(key) <= 1 or "_" not in key:
        return key
    return re.sub(r"_+(\w|$)", lambda m: m.group(1).upper(), key)


# --- optimizer weights (includeOptimizer) ------------------------------------------------------

def load_tfjs_optimizer_weights(optimizer: TfjsOptimizer,
                                params: Sequence[Tuple[str, torch.Tensor, Callable[[np.ndarray], torch.Tensor]]],
                                weights: Mapping[str, np.ndarray]) -> None:
    """Restore what tfjs ``optimizer.getWeights()`` saved (manifest group ``"optimizer"``).

    ``params``: ``(manifest name, parameter, keras→torch layout function)`` for each trainable
    weight in tfjs's ``trainableWeights`` order; ``weights``: the optimizer entries in manifest
    order (``iter`` first, then each slot kind for every variable). tfjs names slots
    ``<variable name>/<suffix>`` where the variable name may carry a ``_N`` uniquifier; the
    names are checked, the order decides (as in tfjs's ``setWeights``).
    """
    items = list(weights.items())
    if not items:
        return
    name0, iter_value = items[0]
    if name0 != "iter" and not name0.endswith("iter"):
        raise WeightMismatchError(f"optimizer weights must start with 'iter', found {name0!r}")
    iterations = int(np.asarray(iter_value).reshape(-1)[0])
    rest = items[1:]
    kinds = len(optimizer.slots)
    if not rest:  # saved before the first update: tfjs then creates fresh slots lazily
        optimizer.load_tfjs_slots([], iterations, [[] for _ in range(kinds)])
        for _, p, _ in params:
            optimizer.state.pop(p, None)
        return
    if len(rest) != kinds * len(params):
        raise WeightMismatchError(
            f"{type(optimizer).__name__} ({optimizer.tfjs_class_name}) expects {kinds} slot(s) for "
            f"each of {len(params)} trainable weight(s) ({kinds * len(params)} in all), the artifact "
            f"has {len(rest)} optimizer weight(s): {[n for n, _ in rest][:8]}")
    values: List[List[torch.Tensor]] = []
    for k, (suffix, _key, _init) in enumerate(optimizer.slots):
        row = []
        for i, (pname, p, to_torch) in enumerate(params):
            sname, array = rest[k * len(params) + i]
            pattern = rf"{re.escape(pname)}(_\d+)?/{re.escape(suffix)}"
            if not re.fullmatch(pattern, sname):
                raise WeightMismatchError(f"optimizer weight #{k * len(params) + i + 1} is {sname!r}; "
                                          f"expected the {suffix!r} slot of {pname!r}")
            tensor = to_torch(np.asarray(array, dtype=np.float32))
            if tuple(tensor.shape) != tuple(p.shape):
                raise WeightMismatchError(f"optimizer weight {sname!r} has shape {list(array.shape)}, "
                                          f"{pname!r} has {list(p.shape)} (torch layout)")
            row.append(tensor)
        values.append(row)
    optimizer.load_tfjs_slots([p for _, p, _ in params], iterations, values)


__all__ = [
    "Adadelta", "Adagrad", "Adam", "Adamax", "EPSILON", "Momentum", "RMSProp", "SGD",
    "STRING_OPTIMIZERS", "TfjsOptimizer", "get_optimizer", "load_tfjs_optimizer_weights",
    "optimizer_from_config",
]
