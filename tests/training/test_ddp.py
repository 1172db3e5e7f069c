"""Fine-tuning a converted LayersModel with DistributedDataParallel on 2 CPU processes (gloo on
the loopback interface) gives the same weights as single-process training on the combined batch.

The model has no BatchNorm: with batch statistics each process would normalise its own half
(use ``torch.nn.SyncBatchNorm``-style syncing for that; our BatchNormalization is not synced)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import torch_tfjs
from fixture_cases import discover

CASE = "layers/core/dense_softmax_chain"
STEPS = 3


def _case_path() -> str:
    return str(next(c for c in discover("layers") if c.id == CASE).path)


def _batches():
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 5, generator=generator), torch.randn(8, 4, generator=generator))
            for _ in range(STEPS)]


def _train(model, batches, world: int = 1, rank: int = 0):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        half = x.shape[0] // world
        xs, ys = x[rank * half:(rank + 1) * half], y[rank * half:(rank + 1) * half]
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xs), ys)
        loss.backward()
        optimizer.step()
    return model


def _worker(rank: int, world: int, store: str, path: str, out: str) -> None:
    # Rendezvous through a file (no port to race for); gloo's traffic stays on loopback.
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch_tfjs.load_layers_model(path).train()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    _train(ddp, _batches(), world, rank)
    if rank == 0:
        torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out)
    dist.barrier()
    dist.destroy_process_group()
    # torch 2.13's gloo threads can abort the interpreter's teardown ("terminate called without
    # an active exception"); the work is done and saved, so leave without running destructors.
    os._exit(0)


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo backend")
def test_ddp_two_processes_match_single_process(tmp_path):
    path = _case_path()
    out = str(tmp_path / "ddp.pt")
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), path, out), nprocs=2, join=True)
    distributed = torch.load(out)
    torch.manual_seed(0)
    single = _train(torch_tfjs.load_layers_model(path).train(), _batches()).state_dict()
    assert distributed.keys() == single.keys()
    for name, value in single.items():
        torch.testing.assert_close(distributed[name], value, rtol=1e-5, atol=1e-6, msg=name)
    # and training did move the weights
    initial = torch_tfjs.load_layers_model(path).state_dict()
    assert any(not torch.equal(initial[k], single[k]) for k in single)
