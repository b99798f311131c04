"""The any-to-any runner's cached checkpoints: one that cannot be loaded (truncated, foreign)
is a cache miss -- one line naming the file, then the training runs afresh -- never a failure."""

import numpy as np
import pytest
import torch

from relight_lib.library.data.depth import save_depth
from relight_lib.library.data.imageio import write_png_rgb
from relight_lib.papers.swapnet import loop
from relight_lib.papers.swapnet.objective import SwapObjective


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
    from relight_lib.library.data.vidit import AnyToAnyDataset, any_pair

    folder = tmp_path_factory.mktemp("a2a") / "set" / "any2any" / "train"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for s in ("Image000", "Image001"):
        for tag in ("6500_N", "6500_E", "4500_N", "4500_E"):
            write_png_rgb(folder / f"{s}_{tag}.png",
                          rng.integers(0, 255, (16, 16, 3)).astype(np.uint8))
        save_depth(folder / f"{s}.npy", rng.uniform(0, 1, (16, 16)).astype(np.float32))
    return AnyToAnyDataset(folder.parents[1], "train", any_pair, size=32, n_pairs=4, seed=0)


def _train(train_set, ckpt, read_step=None):
    from relight_lib.library.models.swapnet import SwapNetIllum

    torch.manual_seed(0)
    net = SwapNetIllum()
    predicter = net.make_predicter(32)
    history, _ = loop.train_loop(net, predicter, None, SwapObjective("A"), train_set,
                                steps=2, batch_size=2, seed=0, device=torch.device("cpu"),
                                lr=1e-3, ckpt=ckpt, ckpt_every=0, progress=False,
                                read_step=read_step)
    return net, history


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow  # four short trainings of an 18.8 M-parameter model (checkpoints of ~300 MB)
def test_an_unloadable_checkpoint_or_snapshot_is_retrained(tmp_path, train_set, capsys):
    """A truncated checkpoint, then a truncated read-step snapshot (model C is read at an
    earlier step, saved on the way: without it the finished checkpoint is no use either): each
    time one line names the file and the training runs afresh to the same weights."""
    fresh, h_fresh = _train(train_set, tmp_path / "fresh.pt", read_step=1)
    ckpt = tmp_path / "seed=0.pt"
    _train(train_set, ckpt, read_step=1)
    for spoilt in (ckpt, tmp_path / "seed=0-step1.pt"):
        _truncate(spoilt)
        capsys.readouterr()
        again, history = _train(train_set, ckpt, read_step=1)
        out = capsys.readouterr().out.strip().splitlines()
        assert len(out) == 1 and f"checkpoint {spoilt} cannot be loaded" in out[0]
        assert [h["loss"] for h in history] == [h["loss"] for h in h_fresh]  # trained afresh
        a, b = fresh.state_dict(), again.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
