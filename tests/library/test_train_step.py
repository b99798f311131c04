"""fit with a TrainStep: several networks and optimisers, its own validation, exact resume."""

import pytest
import torch
from torch import nn

from relight_lib.library import train
from relight_lib.library.data.memory import InMemoryPairs


def _pairs(n=6, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        x = torch.rand(3, size, size, generator=g)
        out.append({"input": x, "target": (x * 0.5 + 0.2).clamp(0, 1), "key": f"p{i}",
                    "label": i % 3})
    return out


class _Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.drop = nn.Dropout(0.2)  # uses the global RNG: resume must restore it

    def forward(self, batch):
        return self.conv(self.drop(batch["input"]))


class _Disc(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, x):
        return self.conv(x).mean((1, 2, 3))


class GanStep(train.TrainStep):
    """A generator on L1 plus an LSGAN term, then the discriminator on a detached fake."""

    def __init__(self):
        self.validated = 0

    def parameter_sets(self, model):
        return {"g": list(model["gen"].parameters()), "d": list(model["disc"].parameters())}

    def __call__(self, model, batch, ctx):
        with ctx.autocast():
            fake = model["gen"](batch)
            l1 = (fake - batch["target"]).abs().mean()
            fool = ((model["disc"](fake) - 1) ** 2).mean()
            loss = l1 + 0.1 * fool
        ctx.update(loss, "g")
        d_loss = ((model["disc"](batch["target"]) - 1) ** 2).mean() \
            + (model["disc"](fake.detach()) ** 2).mean()
        ctx.update(d_loss, "d")
        return {"loss": loss, "l1": l1, "d_loss": d_loss}

    def validate(self, model, val_data, device):
        assert not model.training
        self.validated += 1
        batch = train.collate(list(val_data))
        with torch.no_grad():
            err = (model["gen"](batch) - batch["target"]).abs().mean()
        return {"val_psnr": float(-10 * torch.log10(err ** 2)), "val_l1": float(err)}


def _modules():
    torch.manual_seed(0)
    return nn.ModuleDict({"gen": _Gen(), "disc": _Disc()})


def _cfg(**kw):
    return train.TrainConfig(**{"steps": 8, "batch_size": 2, "lr": 1e-2, "device": "cpu",
                                "ckpt_every": 3, "schedule": "cosine", "final_lr": 1e-4, **kw})


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_interrupted_and_resumed_train_step_ends_with_identical_weights(tmp_path):
    data = _pairs()
    full = train.fit(_modules(), GanStep(), data, _pairs(2, seed=1), _cfg(val_every=4),
                     checkpoint=tmp_path / "a.pt", progress=False)

    class Stop(Exception):
        pass

    def stop_at_5(step, loss):
        if step == 5:
            raise Stop

    with pytest.raises(Stop):
        train.fit(_modules(), GanStep(), data, _pairs(2, seed=1), _cfg(val_every=4),
                  checkpoint=tmp_path / "b.pt", progress=False, on_step=stop_at_5)
    state = train.load_checkpoint(tmp_path / "b.pt")
    assert state["step"] == 3 and set(state["optimizer"]["by_name"]) == {"g", "d"}
    resumed = train.fit(_modules(), GanStep(), data, _pairs(2, seed=1), _cfg(val_every=4),
                        checkpoint=tmp_path / "b.pt", resume=True, progress=False)
    assert resumed.resumed_from == 3 and len(resumed.step_times) == 5
    assert _same(full.model, resumed.model)
    assert full.history == resumed.history
    # the step's parts and the hook's validation rows go into the history
    assert {"l1", "d_loss"} <= set(full.history[0])
    assert [h["step"] for h in full.history if "val_l1" in h] == [4, 8]
    # the generator's rate follows the schedule (the discriminator's too)
    total = 8
    assert [h["lr"] for h in full.history] == pytest.approx(
        [train.lr_at(_cfg(), total, s) for s in range(total)])


# the discriminator's optimiser never steps here, which torch's scheduler warns about
@pytest.mark.filterwarnings("ignore:Detected call of .lr_scheduler.step")
def test_a_step_without_the_discriminator_update_leaves_it_alone():
    """Each optimiser steps only its own parameters: the LSGAN term's gradient reaches the
    discriminator, but only its own update changes it."""

    class GenOnly(GanStep):
        def __call__(self, model, batch, ctx):
            fake = model["gen"](batch)
            loss = (fake - batch["target"]).abs().mean() + ((model["disc"](fake) - 1) ** 2).mean()
            ctx.update(loss, "g")
            return {"loss": loss}

    model = _modules()
    before = {k: v.clone() for k, v in model["disc"].state_dict().items()}
    res = train.fit(model, GenOnly(), _pairs(), None, _cfg(steps=3), progress=False)
    assert all(torch.equal(before[k], v) for k, v in res.model["disc"].state_dict().items())


def test_a_one_optimiser_step_matches_the_plain_loss():
    """A TrainStep that does what fit does with ``loss_fn(pred, batch)`` trains to the same
    weights, on streamed and in-memory data alike."""

    class Plain(train.TrainStep):
        def __call__(self, model, batch, ctx):
            with ctx.autocast():
                loss = (model(batch).float() - batch["target"]).abs().mean()
            ctx.update(loss)
            return {"loss": loss}

    def l1(pred, batch):
        return (pred - batch["target"]).abs().mean()

    def gen():
        torch.manual_seed(0)
        return _Gen()

    data = _pairs()
    ref = train.fit(gen(), l1, data, None, _cfg(), progress=False)
    for d in (data, InMemoryPairs(data)):
        got = train.fit(gen(), Plain(), d, None, _cfg(), progress=False)
        assert _same(ref.model, got.model)
        assert [h["loss"] for h in ref.history] == [h["loss"] for h in got.history]


def test_train_step_progress_status_and_validation(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    monkeypatch.setenv(train.PROGRESS_ENV, str(path))
    step = GanStep()
    res = train.fit(_modules(), step, _pairs(), _pairs(2, seed=1), _cfg(steps=4, val_every=2,
                                                                        seed=5),
                    progress=False)
    got = train.read_progress(path)
    assert {k: got[k] for k in ("seed", "stage", "step", "total", "phase")} == \
        {"seed": 5, "stage": "train", "step": 4, "total": 4, "phase": "trained"}
    assert got["val_psnr"] == pytest.approx(res.history[-1]["val_psnr"])
    assert step.validated == 2 and res.model["gen"].training is False


def test_train_step_errors():
    class NoLoss(GanStep):
        def __call__(self, model, batch, ctx):
            return {"l1": 0.0}

    with pytest.raises(ValueError, match="must return the step's 'loss'"):
        train.fit(_modules(), NoLoss(), _pairs(), None, _cfg(steps=1), progress=False)
    with pytest.raises(ValueError, match="DDP and compile"):
        train.fit(_modules(), GanStep(), _pairs(), None, _cfg(steps=1, compile=True),
                  progress=False)

    class Ambiguous(GanStep):
        def __call__(self, model, batch, ctx):
            ctx.update((model["gen"](batch) ** 2).mean())

    with pytest.raises(ValueError, match="name one of the optimisers"):
        train.fit(_modules(), Ambiguous(), _pairs(), None, _cfg(steps=1), progress=False)

    class Diverges(GanStep):
        def __call__(self, model, batch, ctx):
            return {"loss": float("nan")}

    with pytest.raises(FloatingPointError, match="at step 0"):
        train.fit(_modules(), Diverges(), _pairs(), None, _cfg(steps=1), progress=False)
