"""Fast inference: a loaded model compiled with its weights frozen.

``torch.compile(model)`` treats parameters as inputs that may change between calls, so on the CPU
inductor calls plain convolutions and matmuls and runs activations, BatchNorm and residual adds
as separate kernels. For inference the weights are constants; inductor's *freezing* then folds
BatchNorm and other constant arithmetic into the conv weights, prepacks conv and linear weights
for oneDNN once, and fuses conv + activation and conv + add. :func:`optimize_for_inference`
compiles that way and keeps the trained model untouched.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import nn


class InferenceModel(nn.Module):
    """A loaded model compiled for inference (see :func:`optimize_for_inference`).

    Calls take and return exactly what the wrapped model's calls do and always run without
    autograd. The weights count as constants of the compiled code: after changing ``model``'s
    parameters (fine-tuning), make a new one.
    """

    def __init__(self, model: nn.Module, *, dynamic: Optional[bool], cpp_wrapper: bool,
                 backend: str) -> None:
        super().__init__()
        self.model = model
        self._options: Dict[str, Any] = {"freezing": True, "cpp_wrapper": cpp_wrapper} \
            if backend == "inductor" else {}
        self._compiled = torch.compile(model, dynamic=dynamic, backend=backend)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():  # freezing applies to graphs compiled without autograd
            if not self._options:
                return self._compiled(*args, **kwargs)
            # Compiling happens lazily, inside a call that meets a new input shape, and freezing
            # must be on from Dynamo's capture (it marks the weights constant) to inductor's
            # lowering: so the options are set around every call and restored after it (a few
            # microseconds; no effect on the user's other compiles).
            from torch._inductor import config
            saved = {key: getattr(config, key) for key in self._options}
            for key, value in self._options.items():
                setattr(config, key, value)
            try:
                return self._compiled(*args, **kwargs)
            finally:
                for key, value in saved.items():
                    setattr(config, key, value)


def optimize_for_inference(model: nn.Module, *, dynamic: Optional[bool] = False,
                           cpp_wrapper: bool = True, backend: str = "inductor") -> InferenceModel:
    """Compile a LayersModel or GraphModel for inference with frozen weights.

    - ``dynamic=False`` (default) compiles one specialised kernel set per input shape (the first
      call with a new batch size compiles again); ``None`` lets torch decide, ``True`` compiles
      once for any batch size (slower kernels on the CPU).
    - ``cpp_wrapper=True`` (default) has inductor drive the kernels from C++ instead of Python:
      less per-kernel overhead, which matters for small inputs (MobileNetV2 at batch 1: about
      20% faster), for a longer first compile; ``False`` uses inductor's Python wrapper.

    ``model`` is put in eval mode and shared, not copied; it stays trainable and its own weights
    are not modified. Inductor copies the weights it transforms (BatchNorm folded into convs,
    prepacked kernels) and uses the others in place, so results after changing ``model``'s
    weights are undefined: make a new InferenceModel then. The first call compiles (seconds to a
    minute on a CPU); later calls with the same shapes are fast.
    """
    model.eval()
    return InferenceModel(model, dynamic=dynamic, cpp_wrapper=cpp_wrapper, backend=backend)
