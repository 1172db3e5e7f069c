"""The one registry of graph-op emitters: TF op name → emitter.

An emitter is ``fn(node: OpNode) -> value | list[value]``: it reads the node's attributes and
inputs and emits torch calls with ``node.call(torch_fn, *args, **kwargs)``. One file per tfjs
op-list category lives in :mod:`torch_tfjs.graph.ops`::

    @register_op("AddV2", "Add")
    def add(node: OpNode):
        return node.call(torch.add, node.input(0), node.input(1))

Ops whose TF OpDef has several *named* output args declare them (``output_args``) so that
references inside library functions (``"node:indices:0"``) resolve to the right output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class OpEntry:
    emitter: Callable
    #: Named output args in OpDef order, when the op has more than one; each takes one tensor.
    output_args: Tuple[str, ...] = ()
    #: Input index → weight layout name (``torch_tfjs._layout.WEIGHT_LAYOUTS``) the emitter wants
    #: for a Const weight fed there; the importer then stores that parameter in that layout.
    param_layouts: Tuple[Tuple[int, str], ...] = ()


_EMITTERS: Dict[str, OpEntry] = {}

#: The 242 op names the tfjs 4.22 runtime maps (tfjs-converter op lists), by category.
TFJS_OPS: Dict[str, Tuple[str, ...]] = {
    "arithmetic": ("Add AddV2 AddN BiasAdd Sub RealDiv Div DivNoNan FloorDiv Mul Maximum Minimum "
                   "Pow SquaredDifference Mod FloorMod").split(),
    "basic_math": ("Abs Acos Asin Atan Atan2 Ceil ClipByValue Complex ComplexAbs Cos Cosh Elu Exp "
                   "Floor Log Imag Neg Real Prelu Relu Relu6 Selu Sigmoid Sin Sinh Sqrt Rsqrt "
                   "Square Tan Tanh Sign Round Expm1 Log1p Reciprocal Softplus Asinh Acosh Atanh "
                   "Erf LeakyRelu IsNan IsFinite IsInf").split(),
    "control": ("EmptyTensorList LoopCond Switch Merge Enter Exit NextIteration TensorArrayV3 "
                "TensorArrayWriteV3 TensorArrayReadV3 TensorArrayGatherV3 TensorArrayScatterV3 "
                "TensorArrayConcatV3 TensorArraySplitV3 TensorArraySizeV3 TensorArrayCloseV3 "
                "StatelessIf If StatelessWhile While TensorListScatter TensorListScatterV2 "
                "TensorListGather TensorListGetItem TensorListSetItem TensorListReserve "
                "TensorListFromTensor TensorListStack TensorListSplit TensorListConcat "
                "TensorListConcatV2 TensorListPopBack TensorListPushBack TensorListLength "
                "TensorListResize").split(),
    "convolution": ("AvgPool MaxPool MaxPoolWithArgmax AvgPool3D MaxPool3D Conv1D Conv2D "
                    "_FusedConv2D Conv2DBackpropInput DepthwiseConv2d DepthwiseConv2dNative "
                    "FusedDepthwiseConv2dNative Conv3D Dilation2D").split(),
    "creation": ("Fill LinSpace OneHot Ones OnesLike RandomStandardNormal RandomUniform "
                 "RandomUniformInt Range TruncatedNormal Zeros ZerosLike Multinomial").split(),
    "dynamic": ("NonMaxSuppressionV2 NonMaxSuppressionV3 NonMaxSuppressionV4 NonMaxSuppressionV5 "
                "Where ListDiff").split(),
    "evaluation": "LowerBound TopKV2 UpperBound Unique UniqueV2".split(),
    "graph": ("PlaceholderWithDefault Placeholder Const Identity IdentityN Snapshot Rank Size "
              "Shape ShapeN Print NoOp StopGradient FakeQuantWithMinMaxVars").split(),
    "hash_table": ("HashTable HashTableV2 LookupTableImport LookupTableImportV2 LookupTableFind "
                   "LookupTableFindV2 LookupTableSize LookupTableSizeV2 InitializeTable "
                   "InitializeTableV2").split(),
    "image": "ResizeBilinear ResizeNearestNeighbor CropAndResize ImageProjectiveTransformV3".split(),
    "logical": ("Equal NotEqual Greater GreaterEqual Less LessEqual LogicalAnd LogicalNot "
                "LogicalOr Select SelectV2 BitwiseAnd").split(),
    "matrices": "_FusedMatMul MatMul BatchMatMul BatchMatMulV2 Transpose Einsum MatrixBandPart".split(),
    "normalization": ("EuclideanNorm FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3 LRN Softmax "
                      "LogSoftmax").split(),
    "reduction": ("Bincount DenseBincount Max Mean Min Sum All Any ArgMax ArgMin Prod Cumprod "
                  "Cumsum").split(),
    "slice_join": ("ConcatV2 Concat GatherV2 Gather Reverse ReverseV2 Slice StridedSlice Pack "
                   "Unpack Tile Split SplitV ScatterNd GatherNd SparseToDense "
                   "TensorScatterUpdate").split(),
    "sparse": "SparseFillEmptyRows SparseReshape SparseSegmentMean SparseSegmentSum".split(),
    "spectral": "FFT IFFT RFFT IRFFT".split(),
    "string": "StaticRegexReplace StringNGrams StringSplit StringToHashBucketFast".split(),
    "transformation": ("Cast ExpandDims MirrorPad Pad PadV2 Reshape EnsureShape Squeeze "
                       "SpaceToBatchND BatchToSpaceND DepthToSpace BroadcastTo "
                       "BroadcastArgs").split(),
}


def register_op(op_name: str, *aliases: str, output_args: Sequence[str] = (),
                param_layouts: Optional[Dict[int, str]] = None,
                override: bool = False) -> Callable[[_T], _T]:
    """Decorator registering an emitter for ``op_name`` (and aliases).

    ``param_layouts={1: "hwio_to_oihw"}``: when input 1 is a Const weight used only in that
    layout, store the parameter pre-transformed (no per-call permute); the emitter reads it with
    ``node.input_in_layout(1, "hwio_to_oihw")``.
    """

    def decorator(emitter: _T) -> _T:
        for name in (op_name, *aliases):
            if name in _EMITTERS and not override and _EMITTERS[name].emitter is not emitter:
                raise ValueError(f"an emitter for op '{name}' is already registered "
                                 "(pass override=True to replace it)")
            _EMITTERS[name] = OpEntry(emitter, tuple(output_args),  # type: ignore[arg-type]
                                      tuple(sorted((param_layouts or {}).items())))
        return emitter

    return decorator


# --- layout facts about runtime functions (read by the layout pass, graph/layout.py) --------------

#: Runtime functions that act per element (numpy broadcasting, no axis arguments): a
#: channels-last view can move through them unchanged.
ELEMENTWISE_FNS: Set[Callable] = set()
@dataclass(frozen=True)
class ChannelsLastFlag:
    """How a runtime function takes channels-last or channels-first (NCHW) data."""

    flag: str = "channels_last"   #: the bool argument: True = channels-last data
    data: Optional[str] = None    #: the data argument (default: the first one)
    rank: Optional[int] = None    #: spatial rank (default: the function's ``rank`` argument)


#: Runtime function → its :class:`ChannelsLastFlag`.
CHANNELS_LAST_FLAGS: Dict[Callable, ChannelsLastFlag] = {}
#: Runtime function → ``rewrite(args, rank, nchw) -> (args, channels_last) | None``: the call's
#: arguments for data given as NCHW views of rank-``rank`` channels-last tensors, where
#: ``nchw(arg)`` is the NCHW view of a channels-last argument (None when it has none); the flag
#: says whether the result is still channels-last (True) or layout-free (False). None: no rewrite.
LayoutRewrite = Callable[[Tuple[Any, ...], int, Callable[[Any], Any]], Optional[Tuple[Tuple[Any, ...], bool]]]
LAYOUT_REWRITES: Dict[Callable, LayoutRewrite] = {}


def elementwise(*fns: Callable) -> None:
    """Declare runtime functions elementwise (see :data:`ELEMENTWISE_FNS`)."""
    ELEMENTWISE_FNS.update(fns)


def channels_last_flag(fn: Callable, flag: str = "channels_last", data: Optional[str] = None,
                       rank: Optional[int] = None) -> None:
    """Declare that ``fn`` takes NCHW data when its ``flag`` argument is False."""
    CHANNELS_LAST_FLAGS[fn] = ChannelsLastFlag(flag, data, rank)


def layout_rewrite(fn: Callable) -> Callable[[_T], _T]:
    """Decorator registering the NCHW rewrite of ``fn``'s arguments (see :data:`LAYOUT_REWRITES`)."""

    def decorator(rewrite: _T) -> _T:
        LAYOUT_REWRITES[fn] = rewrite  # type: ignore[assignment]
        return rewrite

    return decorator


def get_op(op_name: str) -> Optional[OpEntry]:
    _ensure_loaded()
    return _EMITTERS.get(op_name)


def supported_ops() -> List[str]:
    _ensure_loaded()
    return sorted(_EMITTERS)


_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import ops  # noqa: F401  (imports every category module)
