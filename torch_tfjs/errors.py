"""Typed errors raised by torch_tfjs.

Every error derives from :class:`TfjsError`, so ``except torch_tfjs.errors.TfjsError`` catches
anything the library raises on purpose. Messages name the file, layer or node at fault.

    TfjsError
    ├── ArtifactError            reading model.json / weights failed
    │   ├── ModelJSONError       malformed JSON, missing or ill-typed keys
    │   ├── UnsafePathError      a weight path leaves the model's folder / URL base
    │   ├── FetchError           a file or URL could not be read (404, timeout, size cap)
    │   └── WeightsError         manifest and bytes disagree
    │       ├── MissingShardError
    │       ├── ShardSizeError   shards shorter or longer than the manifest needs
    │       └── WeightDTypeError unknown dtype or quantization
    ├── ConversionError          the artifact was read but cannot become a torch model
    │   ├── UnsupportedLayerError  lists every unknown layer class at once
    │   ├── UnsupportedOpError     lists every unknown graph op at once
    │   ├── LayerConfigError       a layer config torch_tfjs cannot honour
    │   ├── GraphError             a malformed graph (dangling input, cycle, bad attr)
    │   └── WeightMismatchError    model weights and manifest do not match
    ├── ExportError              saving / exporting a model failed
    ├── ModelInputError          a call with the wrong number, names or shapes of inputs
    ├── LayerNotFoundError       get_layer: no such layer name or index
    └── ExecutionError           a converted model failed while running (names the layer / node)

Anything unexpected raised while reading or converting an artifact (a converter meeting a
config value of the wrong type, say) is turned into the typed error of that stage by
:func:`blame`, naming the file and the layer or node, with the original exception chained.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, List, Mapping, Type


class TfjsError(Exception):
    """Base class of every error torch_tfjs raises on purpose."""


# --- artifact reading -------------------------------------------------------------------------


class ArtifactError(TfjsError):
    """The artifact (model.json, manifest, shards) could not be read."""


class ModelJSONError(ArtifactError):
    """model.json is malformed or lacks a required key."""


class UnsafePathError(ArtifactError):
    """A path in the manifest points outside the model's folder or URL base."""


class FetchError(ArtifactError):
    """A local file or URL could not be read."""


class WeightsError(ArtifactError):
    """The weights manifest and the weight bytes disagree."""


class MissingShardError(WeightsError):
    """A shard listed in the manifest does not exist."""


class ShardSizeError(WeightsError):
    """The shards hold fewer or more bytes than the manifest describes."""


class WeightDTypeError(WeightsError):
    """A weight has a dtype or quantization the tfjs format does not define."""


# --- conversion -------------------------------------------------------------------------------


class ConversionError(TfjsError):
    """The artifact was read but cannot be turned into a torch model."""


def _format_missing(kind: str, missing: Mapping[str, Iterable[str]]) -> str:
    lines = [f"{len(missing)} unsupported {kind}(s):"]
    for key in sorted(missing):
        names = list(missing[key])
        shown = ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines)


class UnsupportedLayerError(ConversionError):
    """One or more layer classes have no converter.

    ``missing`` maps each unsupported class name to the names of the layers using it.
    """

    def __init__(self, missing: Mapping[str, Iterable[str]], hint: str = ""):
        self.missing: Dict[str, List[str]] = {k: list(v) for k, v in missing.items()}
        msg = _format_missing("layer class", self.missing)
        if hint:
            msg += "\n" + hint
        super().__init__(msg)


class UnsupportedOpError(ConversionError):
    """One or more graph ops have no emitter.

    ``missing`` maps each unsupported op name to the names of the nodes using it.
    """

    def __init__(self, missing: Mapping[str, Iterable[str]], hint: str = ""):
        self.missing: Dict[str, List[str]] = {k: list(v) for k, v in missing.items()}
        msg = _format_missing("op", self.missing)
        if hint:
            msg += "\n" + hint
        super().__init__(msg)


class LayerConfigError(ConversionError):
    """A layer's config cannot be honoured (names the layer and the key)."""


class GraphError(ConversionError):
    """The graph is malformed (names the node)."""


class WeightMismatchError(ConversionError):
    """The model's variables and the manifest's weights do not correspond."""


class ExportError(TfjsError):
    """A model cannot be saved or exported as asked (names what is missing)."""


# --- calling ----------------------------------------------------------------------------------


class ModelInputError(TfjsError, ValueError):
    """A converted model was called with the wrong inputs."""


class LayerNotFoundError(TfjsError, KeyError, ValueError):
    """``LayersModel.get_layer`` was asked for a name or index the model lacks (a ``KeyError`` as
    for a dict, a ``ValueError`` as Keras raises)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# --- warnings ---------------------------------------------------------------------------------


class TfjsSemanticsWarning(UserWarning):
    """A model runs with semantics that differ from tfjs 4.22's on purpose: where tfjs has a bug,
    torch_tfjs follows TF / Keras (the message names the layer or op and both behaviours).
    Silence with ``warnings.filterwarnings("ignore", category=TfjsSemanticsWarning)``."""


# --- errors while running -----------------------------------------------------------------------


class ExecutionError(TfjsError, RuntimeError):
    """Running a converted model failed inside a layer or op (names it; the torch error is
    chained). A ``RuntimeError`` too, so code catching torch's errors still catches it."""


def describe_exception(exc: BaseException) -> str:
    """``TypeName: text`` of an exception, cut to one readable line."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def blame(error: Type[TfjsError], where: str) -> Iterator[None]:
    """The safety net: inside the block, any exception that is not already a :class:`TfjsError`
    becomes ``error("<where>: <TypeName>: <text>")``, chained to the original.

    Hostile or careless artifacts reach code that assumes well-formed configs; whatever they
    break there is reported as the artifact's fault, naming ``where`` (file, layer or node).
    """
    try:
        yield
    except TfjsError:
        raise
    except RecursionError as exc:  # a self-nesting config: say so instead of a stack dump
        raise error(f"{where}: nested too deeply ({describe_exception(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - the point of the net
        raise error(f"{where}: {describe_exception(exc)}") from exc
