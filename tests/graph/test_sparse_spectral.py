"""sparse and spectral emitters against numpy statements of TF's semantics."""

import numpy as np

from single_op import run_single_op

RNG = np.random.default_rng(2)


def test_rfft_irfft_fft(tmp_path):
    x = RNG.standard_normal((2, 8)).astype(np.float32)
    out = run_single_op(tmp_path / "r", "RFFT", [(x, False), (np.array([6], np.int32), True)])
    np.testing.assert_allclose(out.numpy(), np.fft.rfft(x, n=6), atol=1e-5)
    back = run_single_op(tmp_path / "i", "IRFFT", [(np.fft.rfft(x).astype(np.complex64), False),
                                                   (np.array([8], np.int32), True)])
    np.testing.assert_allclose(back.numpy(), x, atol=1e-5)
    z = (x[:, :4] + 1j * x[:, 4:]).astype(np.complex64)
    np.testing.assert_allclose(run_single_op(tmp_path / "f", "FFT", [(z, False)]).numpy(), np.fft.fft(z), atol=1e-5)


def test_sparse_segment_sum_mean(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    idx = np.array([0, 1, 3], np.int32)
    seg = np.array([0, 0, 2], np.int32)
    out = run_single_op(tmp_path / "s", "SparseSegmentSum", [(data, False), (idx, False), (seg, False)])
    assert out.tolist() == [[3, 5, 7], [0, 0, 0], [9, 10, 11]]
    out = run_single_op(tmp_path / "m", "SparseSegmentMean", [(data, False), (idx, False), (seg, False)])
    assert out.tolist() == [[1.5, 2.5, 3.5], [0, 0, 0], [9, 10, 11]]


def test_sparse_fill_empty_rows(tmp_path):
    # TF docs example: rows 1 and 4 empty in a 5-row tensor
    indices = np.array([[0, 0], [0, 1], [2, 0], [3, 2], [3, 3]], np.int32)
    values = np.array([1, 2, 3, 4, 5], np.float32)
    out_i, out_v, empty, rev = run_single_op(
        tmp_path, "SparseFillEmptyRows",
        [(indices, False), (values, False), (np.array([5, 6], np.int32), True), (np.array(-1, np.float32), True)],
        n_outputs=4)
    assert out_i.tolist() == [[0, 0], [0, 1], [1, 0], [2, 0], [3, 2], [3, 3], [4, 0]]
    assert out_v.tolist() == [1, 2, -1, 3, 4, 5, -1]
    assert empty.tolist() == [False, True, False, False, True]
    assert rev.tolist() == [0, 1, 3, 4, 5]


def test_sparse_reshape(tmp_path):
    indices = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 2, 3]], np.int32)
    out_i, shape = run_single_op(tmp_path, "SparseReshape",
                                 [(indices, False), (np.array([2, 3, 6], np.int32), True),
                                  (np.array([9, -1], np.int32), True)], n_outputs=2)
    assert shape.tolist() == [9, 4]
    flat = indices[:, 0] * 18 + indices[:, 1] * 6 + indices[:, 2]
    assert out_i.tolist() == np.stack([flat // 4, flat % 4], 1).tolist()
