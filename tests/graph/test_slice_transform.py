"""slice_join and transformation emitters against numpy statements of TF's documented semantics.
(Converter-made fixtures with tfjs references are under tests/fixtures/graph/ once generated.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from single_op import run_single_op
from torch_tfjs.graph.ops.slice_join import strided_slice, strided_slice_index
from torch_tfjs.graph.ops.transformation import batch_to_space_nd, space_to_batch_nd

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5, 6)).astype(np.float32)


def np_strided(x, begin, end, strides, bm=0, em=0, elm=0, nam=0, sam=0):
    """numpy basic indexing equivalent of a TF StridedSlice spec."""
    idx = []
    for i in range(len(begin)):
        bit = 1 << i
        if elm & bit:
            idx.append(Ellipsis)
        elif nam & bit:
            idx.append(None)
        elif sam & bit:
            idx.append(begin[i])
        else:
            idx.append(slice(None if bm & bit else begin[i], None if em & bit else end[i], strides[i]))
    return x[tuple(idx)]


STRIDED = [
    ([1, 0, 2], [3, 5, 6], [1, 1, 2], {}),
    ([0, 0, 0], [0, 0, 0], [1, 1, 1], {"bm": 7, "em": 7}),
    ([-1, 0, 0], [0, 0, 0], [-1, 1, 1], {"bm": 0b110, "em": 0b111}),        # reverse axis 0
    ([3, -2, 5], [0, -6, 0], [-2, -1, -3], {"em": 0b100}),                   # negative strides
    ([1, 0], [2, 0], [1, 1], {"sam": 1, "elm": 0b10}),                       # shrink + ellipsis
    ([0, 2], [0, 4], [1, 1], {"elm": 1}),                                    # leading ellipsis
    ([0, 0, 1], [0, 0, 3], [1, 1, 1], {"nam": 0b1, "bm": 0b10, "em": 0b10}),  # new axis
    ([-1], [0], [1], {"sam": 1}),                                            # x[-1]
    ([0, 1, 0], [0, 2, 0], [1, 1, 1], {"bm": 0b101, "em": 0b101, "sam": 0b10}),
    ([0, 0], [2, 0], [1, 1], {"nam": 0b10, "em": 0b10}),
    ([5, 0, 0], [9, 0, 0], [1, 1, 1], {"bm": 0b110, "em": 0b110}),           # empty, out of range
]


@pytest.mark.parametrize("begin,end,strides,masks", STRIDED)
def test_strided_slice_masks(tmp_path, begin, end, strides, masks):
    expected = np_strided(X, begin, end, strides, **masks)
    attrs = {"begin_mask": masks.get("bm", 0), "end_mask": masks.get("em", 0),
             "ellipsis_mask": masks.get("elm", 0), "new_axis_mask": masks.get("nam", 0),
             "shrink_axis_mask": masks.get("sam", 0)}
    out = run_single_op(tmp_path, "StridedSlice",
                        [(X, False), (np.array(begin, np.int32), True), (np.array(end, np.int32), True),
                         (np.array(strides, np.int32), True)], attrs)
    assert out.shape == expected.shape
    assert np.array_equal(out.numpy(), expected)
    # the same with the spec fed at run time
    dyn = run_single_op(tmp_path / "dyn", "StridedSlice",
                        [(X, False), (np.array(begin, np.int32), False), (np.array(end, np.int32), False),
                         (np.array(strides, np.int32), False)], attrs)
    assert np.array_equal(dyn.numpy(), expected)


def test_strided_slice_masked_begin_with_shrink():
    # TF: shrink with begin masked takes the first element in stride direction
    idx = strided_slice_index([5], [0], [1], 1, 0, 0, 0, 1)
    assert idx == [0]
    assert torch.equal(strided_slice(torch.arange(4), idx), torch.tensor(0))


def test_slice_size_minus_one(tmp_path):
    out = run_single_op(tmp_path, "Slice", [(X, False), (np.array([1, 2, 0], np.int32), True),
                                            (np.array([2, -1, 3], np.int32), True)])
    assert np.array_equal(out.numpy(), X[1:3, 2:, 0:3])


@pytest.mark.parametrize("axis,batch_dims", [(0, 0), (1, 0), (-1, 0), (1, 1), (2, 1)])
def test_gather_v2(tmp_path, axis, batch_dims):
    params = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    if batch_dims == 0:
        idx = RNG.integers(0, params.shape[axis], size=(2, 3)).astype(np.int32)
        expected = np.take(params, idx, axis=axis)
    else:
        idx = RNG.integers(0, params.shape[axis], size=(3, 2)).astype(np.int32)
        expected = np.stack([np.take(params[b], idx[b], axis=axis - 1) for b in range(3)])
    out = run_single_op(tmp_path, "GatherV2", [(params, False), (idx, False), (np.array(axis, np.int32), True)],
                        {"batch_dims": batch_dims})
    assert np.array_equal(out.numpy(), expected)


def test_gather_nd_and_scatter_nd_accumulate(tmp_path):
    params = RNG.standard_normal((3, 4, 2)).astype(np.float32)
    idx = np.array([[0, 1], [2, 3], [1, 0]], np.int32)
    out = run_single_op(tmp_path / "g", "GatherNd", [(params, False), (idx, False)])
    assert np.array_equal(out.numpy(), params[idx[:, 0], idx[:, 1]])
    upd = np.array([1.0, 2.0, 3.0], np.float32)
    sidx = np.array([[1], [3], [1]], np.int32)
    out = run_single_op(tmp_path / "s", "ScatterNd", [(sidx, False), (upd, False), (np.array([5], np.int32), True)])
    assert out.tolist() == [0.0, 4.0, 0.0, 2.0, 0.0]


def test_concat_pack_unpack_split(tmp_path):
    a, b = X[:2], X[2:]
    out = run_single_op(tmp_path / "c", "ConcatV2", [(a, False), (b, False), (np.array(-3, np.int32), True)], {"N": 2})
    assert np.array_equal(out.numpy(), X)
    out = run_single_op(tmp_path / "p", "Pack", [(a, False), (b, False)], {"axis": 1, "N": 2})
    assert np.array_equal(out.numpy(), np.stack([a, b], axis=1))
    outs = run_single_op(tmp_path / "u", "Unpack", [(X, False)], {"num": 5, "axis": 1}, n_outputs=5)
    assert all(np.array_equal(o.numpy(), X[:, i]) for i, o in enumerate(outs))
    outs = run_single_op(tmp_path / "sv", "SplitV", [(X, False), (np.array([1, -1, 2], np.int32), True),
                                                    (np.array(2, np.int32), True)], n_outputs=3)
    assert [o.shape[2] for o in outs] == [1, 3, 2]
    assert np.array_equal(outs[1].numpy(), X[:, :, 1:4])
    outs = run_single_op(tmp_path / "sp", "Split", [(np.array(1, np.int32), True), (X, False)],
                         {"num_split": 5}, n_outputs=5)
    assert np.array_equal(outs[4].numpy(), X[:, 4:5])


def test_tile_reverse(tmp_path):
    out = run_single_op(tmp_path / "t", "Tile", [(X, False), (np.array([1, 2, 3], np.int32), True)])
    assert np.array_equal(out.numpy(), np.tile(X, (1, 2, 3)))
    out = run_single_op(tmp_path / "r", "ReverseV2", [(X, False), (np.array([0, -1], np.int32), True)])
    assert np.array_equal(out.numpy(), X[::-1, :, ::-1])


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
def test_mirror_pad(tmp_path, mode):
    pads = np.array([[1, 2], [0, 0], [2, 3]], np.int32)
    out = run_single_op(tmp_path, "MirrorPad", [(X, False), (pads, True)], {"mode": mode})
    assert np.array_equal(out.numpy(), np.pad(X, pads, mode="reflect" if mode == "REFLECT" else "symmetric"))


def test_pad_v2_and_reshape_and_squeeze(tmp_path):
    pads = np.array([[0, 1], [2, 0], [1, 1]], np.int32)
    out = run_single_op(tmp_path / "p", "PadV2", [(X, False), (pads, True), (np.array(-1.5, np.float32), True)])
    assert np.array_equal(out.numpy(), np.pad(X, pads, constant_values=-1.5))
    out = run_single_op(tmp_path / "r", "Reshape", [(X, False), (np.array([-1, 30], np.int32), True)])
    assert out.shape == (4, 30)
    out = run_single_op(tmp_path / "rd", "Reshape", [(X, False), (np.array([2, -1], np.int32), False)])
    assert out.shape == (2, 60)
    y = X.reshape(4, 1, 5, 1, 6)
    assert run_single_op(tmp_path / "s", "Squeeze", [(y, False)], {"squeeze_dims": [-2]}).shape == (4, 1, 5, 6)
    assert run_single_op(tmp_path / "s2", "Squeeze", [(y, False)]).shape == (4, 5, 6)


def test_space_batch_round_trip_matches_tf_doc_example():
    # tf.space_to_batch_nd doc: x = [[[[1], [2]], [[3], [4]]]], block [2, 2] -> [[[[1]]], [[[2]]], [[[3]]], [[[4]]]]
    x = torch.tensor([[[[1.0], [2.0]], [[3.0], [4.0]]]])
    y = space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])
    assert y.reshape(-1).tolist() == [1.0, 2.0, 3.0, 4.0] and y.shape == (4, 1, 1, 1)
    z = torch.randn(2, 6, 4, 3)
    s = space_to_batch_nd(z, [2, 3], [[1, 1], [1, 1]])
    assert s.shape == (12, 4, 2, 3)
    assert torch.equal(batch_to_space_nd(s, [2, 3], [[1, 1], [1, 1]]), z)


def test_depth_to_space_doc_example(tmp_path):
    # tf.nn.depth_to_space doc: [1, 1, 1, 4] -> [1, 2, 2, 1]
    x = np.array([[[[1, 2, 3, 4]]]], np.float32)
    out = run_single_op(tmp_path, "DepthToSpace", [(x, False)], {"block_size": 2, "data_format": "NHWC"})
    assert out.reshape(-1).tolist() == [1, 2, 3, 4] and out.shape == (1, 2, 2, 1)
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 1, 12)
    out = run_single_op(tmp_path / "b", "DepthToSpace", [(x, False)], {"block_size": 2})
    assert out[0, :, :, 0].tolist() == [[0, 3], [6, 9]]


def test_cast_truncates_and_broadcast(tmp_path):
    x = np.array([-1.7, -0.2, 0.0, 2.9], np.float32)
    out = run_single_op(tmp_path / "c", "Cast", [(x, False)], {"DstT": "DT_INT32"})
    assert out.tolist() == [-1, 0, 0, 2] and out.dtype == torch.int32
    out = run_single_op(tmp_path / "cb", "Cast", [(x, False)], {"DstT": "DT_BOOL"})
    assert out.tolist() == [True, True, False, True]
    out = run_single_op(tmp_path / "b", "BroadcastTo", [(x, False), (np.array([3, 4], np.int32), True)])
    assert out.shape == (3, 4)
