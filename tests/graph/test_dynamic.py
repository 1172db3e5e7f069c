"""dynamic emitters: NMS variants, Where, ListDiff (numpy statements of the algorithms)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from single_op import run_single_op

BOXES = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11],
                  [0, 10.1, 1, 11.1], [0, 100, 1, 101]], np.float32)
SCORES = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3], np.float32)


def c(v, dt=np.float32):
    return (np.array(v, dt), True)


def test_nms_v3_greedy(tmp_path):
    # the TF docs' example: boxes 3, 0, 5 survive (IoU 0.5, max 3)
    out = run_single_op(tmp_path, "NonMaxSuppressionV3",
                        [(BOXES, False), (SCORES, False), c(3, np.int32), c(0.5), c(0.0)])
    assert out.tolist() == [3, 0, 5] and out.dtype == torch.int32


def test_nms_v3_score_threshold_and_v2(tmp_path):
    out = run_single_op(tmp_path / "a", "NonMaxSuppressionV3",
                        [(BOXES, False), (SCORES, False), c(10, np.int32), c(0.5), c(0.4)])
    assert out.tolist() == [3, 0]
    out = run_single_op(tmp_path / "b", "NonMaxSuppressionV2",
                        [(BOXES, False), (SCORES, False), c(10, np.int32), c(0.5)])
    assert out.tolist() == [3, 0, 5]


def test_nms_v4_padded(tmp_path):
    idx, valid = run_single_op(tmp_path, "NonMaxSuppressionV4",
                               [(BOXES, False), (SCORES, False), c(5, np.int32), c(0.5), c(0.0)],
                               {"pad_to_max_output_size": True}, n_outputs=2)
    assert idx.tolist() == [3, 0, 5, 0, 0] and int(valid) == 3


def test_nms_v5_soft(tmp_path):
    idx, scores, valid = run_single_op(tmp_path, "NonMaxSuppressionV5",
                                       [(BOXES, False), (SCORES, False), c(6, np.int32), c(1.0), c(0.0), c(0.5)],
                                       n_outputs=3)
    # soft-NMS keeps everything (iou < 1) but decays overlapping boxes' scores
    assert sorted(idx.tolist()) == [0, 1, 2, 3, 4, 5] and int(valid) == 6
    assert idx.tolist()[:2] == [3, 0]
    assert scores[0] == SCORES[3] and all(s <= o for s, o in zip(scores.tolist(), SCORES[idx.numpy()]))
    assert float(scores[2]) < 0.75  # box 1 overlaps box 0 heavily: decayed


def test_where_and_list_diff(tmp_path):
    x = np.array([[0, 2], [3, 0]], np.float32)
    assert run_single_op(tmp_path / "w", "Where", [(x, False)]).tolist() == [[0, 1], [1, 0]]
    out, idx = run_single_op(tmp_path / "l", "ListDiff", [(np.array([1, 2, 3, 4, 6], np.int32), False),
                                                         (np.array([1, 3, 5], np.int32), False)], n_outputs=2)
    assert out.tolist() == [2, 4, 6] and idx.tolist() == [1, 3, 4]


_MANY_BOXES = """
import json, torch
from torch_tfjs.graph.ops.dynamic import non_max_suppression
def peak_kib():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
g = torch.Generator().manual_seed(0)
corners = torch.rand(20000, 2, generator=g)
boxes = torch.cat([corners, corners + 0.05 * torch.rand(20000, 2, generator=g)], dim=1)
scores = torch.rand(20000, generator=g)
before = peak_kib()
hard, _ = non_max_suppression(boxes, scores, 50, 0.5, 0.0, 0.0)
soft, _ = non_max_suppression(boxes, scores, 50, 0.5, 0.0, 0.5)
print(json.dumps({"grew_mib": (peak_kib() - before) / 1024, "hard": len(hard), "soft": len(soft)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_nms_memory_does_not_grow_with_the_square_of_the_boxes():
    """A detector's NMS over 20,000 boxes: IoU is computed per selected box, not as the full
    pairwise matrix (1.6 GB per intermediate here; handtrack's SSD peaked at 7.2 GB)."""
    done = subprocess.run([sys.executable, "-c", _MANY_BOXES], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hard"] == 50 and result["soft"] == 50, result
    assert result["grew_mib"] < 200, result
