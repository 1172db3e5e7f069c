"""Dynamic-shape ops (tfjs op list ``dynamic``): NonMaxSuppressionV2/V3/V4/V5, Where, ListDiff.

Their output shapes depend on values, so under ``torch.compile`` they break the graph (they
run eagerly in between). NMS follows TF's greedy algorithm (``non_max_suppression_op.cc``),
soft-NMS included, written in torch: no torchvision dependency.
"""

from __future__ import annotations

import heapq
import math
from typing import List, Tuple

import numpy as np
import torch

from ..node import OpNode, Value
from ..registry import register_op
from .control import eagerly


Extents = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _box_extents(boxes: torch.Tensor) -> Extents:
    """(ymin, ymax, xmin, xmax, area) of (y1, x1, y2, x2) boxes whose corners may come in any
    order."""
    ymin = torch.minimum(boxes[:, 0], boxes[:, 2])
    ymax = torch.maximum(boxes[:, 0], boxes[:, 2])
    xmin = torch.minimum(boxes[:, 1], boxes[:, 3])
    xmax = torch.maximum(boxes[:, 1], boxes[:, 3])
    return ymin, ymax, xmin, xmax, (ymax - ymin) * (xmax - xmin)


def _iou_with(extents: Extents, k: int) -> np.ndarray:
    """IoU of every box with box ``k``: one row of the pairwise matrix, computed on its own
    (the whole matrix of a detector's thousands of boxes took gigabytes)."""
    ymin, ymax, xmin, xmax, area = extents
    iy = (torch.minimum(ymax, ymax[k]) - torch.maximum(ymin, ymin[k])).clamp(min=0)
    ix = (torch.minimum(xmax, xmax[k]) - torch.maximum(xmin, xmin[k])).clamp(min=0)
    inter = iy * ix
    union = area + area[k] - inter
    valid = (area > 0) & (area[k] > 0)
    iou = torch.where(valid, inter / torch.where(union > 0, union, torch.ones_like(union)),
                      torch.zeros_like(inter))
    return iou.detach().cpu().numpy()  # read a few entries each: no list of every box's IoU


def non_max_suppression(boxes: torch.Tensor, scores: torch.Tensor, max_output_size: int,
                        iou_threshold: float, score_threshold: float, soft_nms_sigma: float
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Selected box indices (int32) and their (possibly soft-NMS-decayed) scores (see
    :func:`_non_max_suppression`); run eagerly under ``torch.compile`` (a Python heap loop,
    which Dynamo would trace in pieces)."""
    fn = eagerly(_non_max_suppression) if torch.compiler.is_compiling() else _non_max_suppression
    return fn(boxes, scores, max_output_size, iou_threshold, score_threshold, soft_nms_sigma)


def _non_max_suppression(boxes: torch.Tensor, scores: torch.Tensor, max_output_size: int,
                         iou_threshold: float, score_threshold: float, soft_nms_sigma: float
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Selected box indices (int32) and their (possibly soft-NMS-decayed) scores.

    TF's and tfjs's order (``nonMaxSuppressionImpl``): candidates above ``score_threshold`` by
    score, the lower index first among equal scores; a candidate with IoU >= ``iou_threshold`` against a
    selected box is dropped; with ``soft_nms_sigma`` > 0 its score decays by
    ``exp(-0.5 * iou^2 / sigma)`` per selected box and it is re-queued.
    """
    extents = _box_extents(boxes.float())
    rows: List[np.ndarray] = []  # per selected box, its IoU with every box
    score_list = scores.float().tolist()
    scale = -0.5 / soft_nms_sigma if soft_nms_sigma > 0 else 0.0
    heap = [(-s, i, s, 0) for i, s in enumerate(score_list) if s > score_threshold]
    heapq.heapify(heap)
    selected: List[int] = []
    selected_scores: List[float] = []
    while heap and len(selected) < max_output_size:
        _, index, score, begin = heapq.heappop(heap)
        original = score
        ignore = False
        for j in range(len(selected) - 1, begin - 1, -1):
            overlap = float(rows[j][index])
            if overlap >= iou_threshold:
                ignore = True
                break
            score = float(np.float32(score * np.float32(math.exp(scale * overlap * overlap))))
            if score <= score_threshold:
                break
        if ignore:
            continue
        if score == original:
            selected.append(index)
            selected_scores.append(score)
            rows.append(_iou_with(extents, index))
        elif score > score_threshold:
            heapq.heappush(heap, (-score, index, score, len(selected)))
    device = boxes.device
    return (torch.tensor(selected, dtype=torch.int32, device=device),
            torch.tensor(selected_scores, dtype=scores.dtype if scores.is_floating_point() else torch.float32,
                         device=device))


def _scalar(node: OpNode, i: int, default: float = float("-inf")) -> float:
    if node.num_inputs <= i:
        return default
    value = node.static_list(i)
    if value is None:
        raise node.error(f"input {i} must be a constant (tfjs reads it once, too)")
    return float(value[0])


def nms_v3(boxes: torch.Tensor, scores: torch.Tensor, max_output: int, iou: float, threshold: float) -> torch.Tensor:
    return non_max_suppression(boxes, scores, max_output, iou, threshold, 0.0)[0]


def nms_padded(boxes: torch.Tensor, scores: torch.Tensor, max_output: int, iou: float, threshold: float,
               sigma: float, pad: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    idx, sel_scores = non_max_suppression(boxes, scores, max_output, iou, threshold, sigma)
    valid = torch.tensor(idx.shape[0], dtype=torch.int32)
    if pad and idx.shape[0] < max_output:
        fill = max_output - idx.shape[0]
        idx = torch.cat([idx, torch.zeros(fill, dtype=torch.int32, device=idx.device)])
        sel_scores = torch.cat([sel_scores, torch.zeros(fill, dtype=sel_scores.dtype, device=sel_scores.device)])
    return idx, sel_scores, valid


@register_op("NonMaxSuppressionV2", "NonMaxSuppressionV3")
def nms_v2_v3(node: OpNode) -> Value:
    threshold = _scalar(node, 4) if node.op == "NonMaxSuppressionV3" else float("-inf")
    return node.call(nms_v3, node.input(0), node.input(1), int(_scalar(node, 2)), _scalar(node, 3), threshold)


@register_op("NonMaxSuppressionV4", output_args=("selected_indices", "valid_outputs"))
def nms_v4(node: OpNode) -> List[Value]:
    out = node.call(nms_padded, node.input(0), node.input(1), int(_scalar(node, 2)), _scalar(node, 3),
                    _scalar(node, 4), 0.0, node.attr_bool("pad_to_max_output_size"))
    idx, _, valid = node.outputs(out, 3)
    return [idx, valid]


@register_op("NonMaxSuppressionV5", output_args=("selected_indices", "selected_scores", "valid_outputs"))
def nms_v5(node: OpNode) -> List[Value]:
    out = node.call(nms_padded, node.input(0), node.input(1), int(_scalar(node, 2)), _scalar(node, 3),
                    _scalar(node, 4), _scalar(node, 5, 0.0), node.attr_bool("pad_to_max_output_size"))
    return node.outputs(out, 3)


def where(condition: torch.Tensor) -> torch.Tensor:
    """Coordinates of true (non-zero) elements, row-major, int32 [n, rank]."""
    return torch.nonzero(condition != 0 if condition.dtype != torch.bool else condition).to(torch.int32)


@register_op("Where")
def where_op(node: OpNode) -> Value:
    if node.num_inputs != 1:
        raise node.error("only the one-input Where (coordinates) is a Where; use SelectV2")
    return node.call(where, node.input(0))


def list_diff(x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Values of x not in y, in x's order, and their positions in x."""
    keep = ~torch.isin(x, y)
    positions = torch.nonzero(keep).reshape(-1)
    return x[positions], positions.to(torch.int32)


@register_op("ListDiff", output_args=("out", "idx"))
def list_diff_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(list_diff, node.input(0), node.input(1)), 2)
