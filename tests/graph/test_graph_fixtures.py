"""Every GraphModel fixture made with the real converter: eager output matches tfjs."""

import pytest
import torch

import torch_tfjs
from fixture_cases import assert_matches, params

CASES = [p for p in params("graph") + params("models")
         if p.values[0].meta.get("kind") == "graph-model"]


@pytest.mark.parametrize("case", CASES)
def test_matches_tfjs(case):
    model = torch_tfjs.load_graph_model(case.path)
    inputs = case.inputs()
    names = case.input_names()
    inputs = [x if x.dtype == object else torch.from_numpy(x) for x in inputs]  # strings stay arrays
    feed = dict(zip(names, inputs)) if all(names) else None
    with torch.no_grad():
        out = model(feed) if feed is not None else model(*inputs)
    if isinstance(out, dict):  # structured outputs: references are by signature key → node
        key_of_node = {spec.tensor.split(":")[0]: spec.name for spec in model.signature.outputs}
        nodes = [model.artifact_signature["outputs"][o["name"]]["name"].split(":")[0]
                 for o in case.meta["outputs"]]
        out = [out[key_of_node[node]] for node in nodes]
    outs = out if isinstance(out, list) else [out]
    expected = case.outputs()
    assert len(outs) == len(expected), f"{len(outs)} outputs, reference has {len(expected)}"
    for i, (a, e) in enumerate(zip(outs, expected)):
        assert_matches(a, e, case.tolerance, f"{case.id} output {i}")
