"""Fine-tuning converted LayersModels with tfjs's training semantics.

    import torch_tfjs
    from torch_tfjs import training

    model = torch_tfjs.load_layers_model("model/")       # saved with includeOptimizer: true
    setup = training.from_training_config(model, source="model/")   # + optimizer state
    history = training.fit(model, x, y, epochs=3, batch_size=32)

* :mod:`.losses`: every tfjs-layers loss (per-sample, tfjs's epsilon clipping).
* :mod:`.metrics`: tfjs metrics, ``accuracy``/``acc`` resolved from the output and the loss.
* :mod:`.optimizers`: ``torch.optim`` optimizers with tfjs-core's exact update rules; configs
  as tfjs or the Python converter write them; tfjs optimizer weights restored.
* :mod:`.fit`: :func:`compile`, :func:`from_training_config`, :func:`fit` (tfjs ``model.fit``).
"""

from __future__ import annotations

from . import losses, metrics, optimizers
from .fit import (Callback, History, TrainableWeight, TrainingSetup, compile, evaluate_batches, fit,
                  from_training_config, make_batches, restore_optimizer_state, train_step,
                  trainable_weights)
from .losses import get_loss
from .metrics import get_metric
from .optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, Momentum, RMSProp, TfjsOptimizer,
                         get_optimizer, load_tfjs_optimizer_weights, optimizer_from_config)

__all__ = [
    "Adadelta", "Adagrad", "Adam", "Adamax", "Callback", "History", "Momentum", "RMSProp", "SGD",
    "TfjsOptimizer", "TrainableWeight", "TrainingSetup", "compile", "evaluate_batches", "fit",
    "from_training_config", "get_loss", "get_metric", "get_optimizer",
    "load_tfjs_optimizer_weights", "losses", "make_batches", "metrics", "optimizer_from_config",
    "optimizers", "restore_optimizer_state", "train_step", "trainable_weights",
]
