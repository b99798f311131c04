"""The engine: training beats identity, exact resume, schedules, checkpoints, DDP, predict."""

import json

import pytest
import torch

from relight_lib.library import metrics, train
from relight_lib.library.data import synvidit
from relight_lib.library.data.vidit import OneToOneDataset
from relight_lib.library.models import build_model


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    pytest.importorskip("mitsuba")
    root = tmp_path_factory.mktemp("train") / "set"
    cfg = synvidit.RenderConfig(n_scenes=6, size=32, spp=2, seed=3, conditions=("6500_N", "4500_E"))
    synvidit.render_dataset(root, cfg, progress=False)
    return root


def l1(pred, batch):
    return (pred - batch["target"]).abs().mean()


def _fit(root, steps, **kw):
    torch.manual_seed(0)
    model = build_model("tiny_unet", width=8)
    data = OneToOneDataset(root, split="train")
    settings = {"steps": steps, "batch_size": 2, "lr": 2e-3, "device": "cpu",
                **kw.pop("cfg", {})}
    cfg = train.TrainConfig(**settings)
    return train.fit(model, l1, data, config=cfg, progress=False, **kw), data


def test_training_beats_identity_on_the_training_pairs(data_root):
    res, data = _fit(data_root, 40)
    batch = train.collate([data[i] for i in range(len(data))])
    pred = train.predict(res.model, batch)
    ours = metrics.psnr(pred, batch["target"]).item()
    ident = metrics.psnr(batch["input"], batch["target"]).item()
    assert ours > ident + 0.5
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 40 and sum(losses[-5:]) < sum(losses[:5])


def test_interrupted_and_resumed_run_ends_with_identical_weights(data_root, tmp_path):
    full, _ = _fit(data_root, 8, checkpoint=tmp_path / "a.pt", cfg={"ckpt_every": 4})

    class Stop(Exception):
        pass

    def stop_at_5(step, loss):
        if step == 5:
            raise Stop

    with pytest.raises(Stop):
        _fit(data_root, 8, checkpoint=tmp_path / "b.pt", cfg={"ckpt_every": 4},
             on_step=stop_at_5)
    assert train.load_checkpoint(tmp_path / "b.pt")["step"] == 4
    resumed, _ = _fit(data_root, 8, checkpoint=tmp_path / "b.pt", cfg={"ckpt_every": 4},
                      resume=True)
    assert resumed.resumed_from == 4
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]


def test_resume_refuses_another_configuration(data_root, tmp_path):
    _fit(data_root, 2, checkpoint=tmp_path / "c.pt")
    with pytest.raises(ValueError, match="lr"):
        _fit(data_root, 2, checkpoint=tmp_path / "c.pt", resume=True, cfg={"lr": 1e-2})


def test_checkpoints_are_weights_only(tmp_path):
    model = build_model("tiny_unet", width=4)
    path = train.save_checkpoint(tmp_path / "m.pt", model, step=3,
                                 model_spec={"name": "tiny_unet", "kwargs": {"width": 4}})
    state = torch.load(path, weights_only=True)
    assert state["step"] == 3
    again = train.model_from_checkpoint(path)
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(again({"input": x}), model.eval()({"input": x}))
    with pytest.raises(ValueError, match="holds a 'tiny_unet'"):
        train.model_from_checkpoint(path, name="other")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not a relight checkpoint"):
        train.load_checkpoint(bad)
    evil = tmp_path / "evil.pt"
    torch.save({"f": print}, evil)  # a pickled function: refused by weights_only
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        train.load_checkpoint(evil)
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("schedule, kw, last", [
    ("constant", {}, 1e-2),
    ("step", {"step_size": 5, "gamma": 0.5}, 1e-2 * 0.5),
    ("exponential", {"final_lr": 1e-4}, 1e-4),
    ("cosine", {"final_lr": 1e-4}, 1e-4),
])
def test_schedules(schedule, kw, last):
    cfg = train.TrainConfig(steps=10, lr=1e-2, schedule=schedule, **kw)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=cfg.lr)
    sched = train.make_scheduler(opt, cfg, 10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-2)
    assert lrs[-1] == pytest.approx(last, rel=1e-6)


def test_config_errors():
    with pytest.raises(ValueError, match="budget"):
        train.TrainConfig()
    with pytest.raises(ValueError, match="final_lr"):
        train.TrainConfig(steps=1, schedule="cosine")
    with pytest.raises(ValueError, match="not one of"):
        train.TrainConfig(steps=1, schedule="linear")


def test_data_order_depends_on_seed_and_epoch_only():
    a = [train.batch_indices(10, 3, seed=1, step=s) for s in range(6)]
    assert a == [train.batch_indices(10, 3, seed=1, step=s) for s in range(6)]
    assert sorted(sum(a[:3], [])) == sorted(set(sum(a[:3], [])))  # an epoch has no repeats
    assert a != [train.batch_indices(10, 3, seed=2, step=s) for s in range(6)]


def test_predict_pads_and_crops():
    model = build_model("tiny_unet", width=4)
    x = torch.rand(1, 3, 30, 33)
    out = train.predict(model, {"input": x})
    assert out.shape == x.shape and torch.allclose(out, x)  # the untrained net is the identity


def test_workers_give_the_same_batches(data_root):
    a, _ = _fit(data_root, 4)
    b, _ = _fit(data_root, 4, cfg={"num_workers": 2})
    assert [h["loss"] for h in a.history] == pytest.approx([h["loss"] for h in b.history])


@pytest.mark.slow
def test_ddp_two_processes_match_one(data_root, tmp_path):
    config = {
        "model": {"name": "tiny_unet", "kwargs": {"width": 4}},
        "loss": [{"name": "charbonnier", "weight": 1.0}],
        "train_data": {"type": "one_to_one", "root": str(data_root), "split": "train"},
        "train": {"steps": 4, "batch_size": 4, "lr": 1e-3, "device": "cpu", "seed": 0},
        "progress": False,
    }
    # one process
    single = dict(config, checkpoint=str(tmp_path / "one.pt"), history=str(tmp_path / "one.json"))
    train.run_config(single)
    # two processes under torchrun (gloo)
    hist = train.launch_distributed(config, devices=2, workdir=tmp_path / "ddp", timeout=300)
    assert hist["world_size"] == 2 and len(hist["history"]) == 4
    a = train.load_checkpoint(tmp_path / "one.pt")["model"]
    b = train.load_checkpoint(tmp_path / "ddp" / "model.pt")["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    one = json.loads((tmp_path / "one.json").read_text())
    assert one["world_size"] == 1


def test_time_inference_is_positive_and_uses_what_the_model_needs():
    model = build_model("tiny_unet", width=4, use_depth=True)
    assert 0 < train.time_inference(model, 32, repeats=2) < 10


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_resume_restores_the_rng_state_on_each_device(tmp_path, device):
    """A checkpoint loaded onto the GPU holds CUDA tensors; torch's and numpy's RNG setters
    want CPU ones (resuming failed on an H200 before _set_rng_state moved them back)."""
    from relight_lib.bench import _RandomPairs

    class Stop(Exception):
        pass

    def stop_at_3(step, loss):
        if step == 3:
            raise Stop

    data = _RandomPairs((), 32, n=8)
    cfg = train.TrainConfig(steps=4, batch_size=2, lr=1e-3, device=device, ckpt_every=2)
    torch.manual_seed(0)
    with pytest.raises(Stop):
        train.fit(build_model("tiny_unet", width=8), l1, data, config=cfg,
                  checkpoint=tmp_path / "c.pt", progress=False, on_step=stop_at_3)
    torch.manual_seed(0)
    resumed = train.fit(build_model("tiny_unet", width=8), l1, data, config=cfg,
                        checkpoint=tmp_path / "c.pt", resume=True, progress=False)
    assert resumed.resumed_from == 2 and str(resumed.device).startswith(device)
    assert [h["step"] for h in resumed.history] == [1, 2, 3, 4]


@needs_cuda
def test_loss_networks_follow_the_prediction_to_cuda():
    spec = [{"name": "perceptual", "weight": 1.0, "kwargs": {"allow_random": True}}]
    loss_fn = train.build_loss_fn(spec)
    pred = torch.rand(1, 3, 32, 32, device="cuda")
    assert torch.isfinite(loss_fn(pred, {"target": torch.rand_like(pred)}))


def _torch_scheduler(opt, cfg, total):
    """torch's own scheduler for each schedule, the reference for the closed form."""
    sched = torch.optim.lr_scheduler
    if cfg.schedule == "constant":
        return sched.LambdaLR(opt, lambda s: 1.0)
    if cfg.schedule == "step":
        return sched.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "multistep":
        return sched.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    if cfg.schedule == "exponential":
        return sched.ExponentialLR(opt, gamma=(cfg.final_lr / cfg.lr) ** (1 / (total - 1)))
    return sched.CosineAnnealingLR(opt, T_max=total - 1, eta_min=cfg.final_lr)


@pytest.mark.parametrize("kw", [
    {"schedule": "constant"},
    {"schedule": "step", "step_size": 4, "gamma": 0.5},
    {"schedule": "multistep", "milestones": [3, 7], "gamma": 0.1},
    {"schedule": "exponential", "final_lr": 1e-4},
    {"schedule": "cosine", "final_lr": 1e-4},
])
def test_lr_at_equals_torchs_schedulers(kw):
    total = 12
    cfg = train.TrainConfig(steps=total, lr=1e-2, **kw)
    ours = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    ref = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    s_ours, s_ref = train.make_scheduler(ours, cfg, total), _torch_scheduler(ref, cfg, total)
    for step in range(total):
        assert train.lr_at(cfg, total, step) == pytest.approx(ref.param_groups[0]["lr"], rel=1e-9)
        assert ours.param_groups[0]["lr"] == pytest.approx(ref.param_groups[0]["lr"], rel=1e-9)
        for o in (ours, ref):
            o.step()
        s_ours.step()
        s_ref.step()


def test_warmup_cosine_known_values():
    cfg = train.TrainConfig(steps=101, lr=1e-3, schedule="warmup_cosine", final_lr=1e-5,
                            warmup=0.1, warmup_start=0.01)
    assert train.lr_at(cfg, 101, 0) == pytest.approx(1e-5)          # 1 % of the peak
    assert train.lr_at(cfg, 101, 5) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert train.lr_at(cfg, 101, 10) == pytest.approx(1e-3)         # the peak
    assert train.lr_at(cfg, 101, 55) == pytest.approx((1e-3 + 1e-5) / 2)
    assert train.lr_at(cfg, 101, 100) == pytest.approx(1e-5)
    assert (10, pytest.approx(1e-3)) in train.lr_schedule_points(cfg, 101)


def test_a_stage_follows_its_slice_of_one_runs_curve():
    whole = train.TrainConfig(steps=20, lr=1e-3, schedule="warmup_cosine", final_lr=1e-5)
    second = train.TrainConfig(steps=8, lr=1e-3, schedule="warmup_cosine", final_lr=1e-5,
                               schedule_offset=12, schedule_total=20)
    for s in range(8):
        assert train.lr_at(second, 8, s) == pytest.approx(train.lr_at(whole, 20, 12 + s))


def test_lr_schedule_points_show_every_drop():
    cfg = train.TrainConfig(steps=200, lr=1e-4, schedule="multistep", milestones=[50])
    assert train.lr_schedule_points(cfg, 200) == [(0, 1e-4), (50, pytest.approx(1e-5))]
    step = train.TrainConfig(steps=10, lr=1.0, schedule="step", step_size=3, gamma=0.5)
    assert [s for s, _ in train.lr_schedule_points(step, 10)] == [0, 3, 6, 9]
    smooth = train.TrainConfig(steps=101, lr=1.0, schedule="exponential", final_lr=0.01)
    pts = train.lr_schedule_points(smooth, 101)
    assert pts[0] == (0, 1.0) and pts[-1][0] == 100 and pts[-1][1] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="multistep"):
        train.TrainConfig(steps=1, schedule="multistep")
    with pytest.raises(ValueError, match="at least one step"):
        train.lr_schedule_points(smooth, 0)


def test_a_finished_checkpoint_keeps_only_the_weights(data_root, tmp_path):
    res, _ = _fit(data_root, 4, checkpoint=tmp_path / "f.pt", cfg={"ckpt_every": 2},
                  on_step=lambda step, loss: (step == 2 and _snapshot(tmp_path)))
    mid = train.load_checkpoint(tmp_path / "mid.pt")
    done = train.load_checkpoint(tmp_path / "f.pt")
    assert mid["optimizer"] is not None and mid["step"] == 2  # unfinished: resumable
    assert done["optimizer"] is None and done["scheduler"] is None and done["step"] == 4
    assert "relight_lib.library.train" in done["modules"]
    assert (tmp_path / "f.pt").stat().st_size < (tmp_path / "mid.pt").stat().st_size
    # resuming a finished training trains nothing and gives the same weights
    again, _ = _fit(data_root, 4, checkpoint=tmp_path / "f.pt", resume=True,
                    cfg={"ckpt_every": 2})
    assert again.resumed_from == 4
    assert all(torch.equal(v, again.model.state_dict()[k])
               for k, v in res.model.state_dict().items())
    # an unfinished checkpoint without its optimiser cannot be resumed silently
    mid["optimizer"] = None
    torch.save(mid, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="without optimiser state"):
        _fit(data_root, 4, checkpoint=tmp_path / "broken.pt", resume=True,
             cfg={"ckpt_every": 2})


def _snapshot(tmp_path):
    import shutil

    shutil.copy(tmp_path / "f.pt", tmp_path / "mid.pt")


@pytest.mark.parametrize("change, says", [
    (lambda c: c["model"].update(name="unet9000"), "model.name: 'unet9000' is not a registered"),
    (lambda c: c["loss"].append({"name": "l3"}), "loss[1].name: 'l3' is not a loss"),
    (lambda c: c["train"].update(speed=3), "train.speed: unknown setting"),
    (lambda c: c["train"].update(steps=0), "steps must be a positive whole number"),
    (lambda c: c["train_data"].update(root="/no/such/vidit"), "train_data.root: /no/such/vidit"),
    (lambda c: c.update(epochs=3), "epochs: unknown key"),
])
def test_config_errors_are_one_line_naming_file_and_key(tmp_path, data_root, capsys, change,
                                                         says):
    import json

    config = {"model": {"name": "tiny_unet"}, "loss": [{"name": "l1"}],
              "train_data": {"type": "one_to_one", "root": str(data_root), "split": "train"},
              "train": {"steps": 1, "batch_size": 2, "device": "cpu"}}
    change(config)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    assert train.main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and says in err
    path.write_text("{not json")
    assert train.main(["--config", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_in_memory_data_trains_to_the_same_weights(data_root, tmp_path):
    """The in-memory path serves exactly the batches streaming would, so the weights match
    (augmentation included), and it resumes exactly."""
    from relight_lib.library.data.memory import InMemoryPairs, to_memory
    from relight_lib.library.data.transforms import random_flip_rotate

    data = OneToOneDataset(data_root, split="train")
    mem = InMemoryPairs(data)
    assert len(mem) == len(data) and mem.nbytes() > 0
    ref = train.collate([data[i] for i in (2, 0)])
    got = mem.batch([2, 0])
    assert got.keys() == ref.keys()
    assert all(torch.equal(got[k], ref[k]) if isinstance(ref[k], torch.Tensor)
               else got[k] == ref[k] for k in ref)

    def run(dataset, **kw):
        torch.manual_seed(0)
        model = build_model("tiny_unet", width=8)
        cfg = train.TrainConfig(steps=6, batch_size=2, lr=2e-3, device="cpu", ckpt_every=3)
        return train.fit(model, l1, dataset, config=cfg, progress=False,
                         augment=random_flip_rotate, **kw)

    a, b = run(data), run(mem)
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    small, how = to_memory(data, limit_bytes=10)
    assert small is data and how.startswith("stream:")
    _, how = to_memory(data)
    assert how.startswith("memory:")


def test_bf16_native_is_true_on_cuda_and_asks_the_cpu_otherwise(monkeypatch):
    from relight_lib.library import utils

    assert utils.bf16_native("cuda")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not utils.bf16_native("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert utils.bf16_native("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_amp_trains_under_bf16_only_where_it_is_native(data_root, monkeypatch, native):
    """The forward pass sees bf16 autocast on a CPU with native bf16, fp32 elsewhere; the
    weights stay fp32 either way, and channels_last is applied on the CPU too."""
    seen = []

    def spy(pred, batch):
        seen.append((torch.is_autocast_enabled("cpu"), pred.dtype))
        return l1(pred, batch)

    monkeypatch.setattr(train, "bf16_native", lambda device: native)
    torch.manual_seed(0)
    model = build_model("tiny_unet", width=8)
    cfg = train.TrainConfig(steps=2, batch_size=2, lr=1e-3, device="cpu", amp=True,
                            channels_last=True)
    res = train.fit(model, spy, OneToOneDataset(data_root, split="train"), config=cfg,
                    progress=False)
    assert [on for on, _ in seen] == [native, native]
    assert all(p.dtype == torch.float32 for p in res.model.parameters())
    conv = next(m for m in res.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


# --------------------------------------------------------------------------------------------
# a cached checkpoint that cannot be loaded is a cache miss, never a failed row


def _pairs(n=4, size=16):
    g = torch.Generator().manual_seed(0)
    return [{"input": torch.rand(3, size, size, generator=g),
             "target": torch.rand(3, size, size, generator=g)} for _ in range(n)]


def _fit_pairs(checkpoint, width=4, resume=True, steps=3):
    torch.manual_seed(0)
    model = build_model("tiny_unet", width=width)
    cfg = train.TrainConfig(steps=steps, batch_size=2, lr=2e-3, device="cpu")
    return train.fit(model, l1, _pairs(), config=cfg, checkpoint=checkpoint, resume=resume,
                     progress=False, model_spec={"name": "tiny_unet", "kwargs": {"width": width}})


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_model(path):
    train.save_checkpoint(path, build_model("tiny_unet", width=8), step=3, history=[],
                          model_spec={"name": "tiny_unet", "kwargs": {"width": 8}})


@pytest.mark.parametrize("spoil, says", [
    (_truncate, "not a loadable checkpoint"),
    (lambda p: torch.save({"weights": torch.zeros(3)}, p), "not a relight checkpoint"),
    (lambda p: p.write_bytes(b"not a torch file"), "not a loadable checkpoint"),
    (_other_model, "has another shape than this model's"),
    (lambda p: train.save_checkpoint(p, torch.nn.Linear(2, 2), step=3, history=[]),
     "its weights are not this model's"),
])
def test_an_unloadable_checkpoint_is_a_cache_miss(tmp_path, capsys, spoil, says):
    path = tmp_path / "seed=0.pt"
    fresh = _fit_pairs(tmp_path / "fresh.pt", resume=False)
    _fit_pairs(path)
    spoil(path)
    capsys.readouterr()
    again = _fit_pairs(path)  # what a rerun (even --force) does: resume from the cache
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"cache miss: checkpoint {path} cannot be loaded")
    assert says in out[0] and out[0].endswith("; training afresh")
    assert again.resumed_from == 0
    a, b = fresh.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same weights as a fresh training
    assert train.load_checkpoint(path)["step"] == 3  # and a good checkpoint in its place


def test_load_cached_checkpoint_reports_a_miss_once_and_loads_nothing(tmp_path):
    lines = []
    model = build_model("tiny_unet", width=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert train.load_cached_checkpoint(tmp_path / "none.pt", model, log=lines.append) is None
    assert lines == []  # no file: an ordinary miss, nothing to say
    _other_model(tmp_path / "other.pt")
    assert train.load_cached_checkpoint(tmp_path / "other.pt", model, log=lines.append) is None
    assert len(lines) == 1 and "other.pt" in lines[0]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    path = train.save_checkpoint(tmp_path / "ok.pt", model, step=2)
    state = train.load_cached_checkpoint(path, model, needs=("model", "step"), log=lines.append)
    assert state["step"] == 2 and len(lines) == 1
    assert train.load_cached_checkpoint(path, model, needs=train.RESUME_KEYS,
                                        log=lines.append) is not None
    torch.save({k: v for k, v in torch.load(path, weights_only=True).items() if k != "rng"},
               tmp_path / "norng.pt")
    assert train.load_cached_checkpoint(tmp_path / "norng.pt", model, needs=train.RESUME_KEYS,
                                        log=lines.append) is None
    assert "it has no rng" in lines[-1]


def test_a_spoilt_snapshot_retrains_the_seed(tmp_path, capsys):
    """LTNet's ensemble reads snapshots saved on the way: a spoilt one sends the seed's whole
    training back (its checkpoints go), other seeds keep theirs."""
    from relight_lib.papers import onetoone

    model = build_model("tiny_unet", width=4)
    for name in ("seed=1.pt", "seed=1-snapshot2.pt", "seed=1-snapshot3.pt", "seed=1-stage1.pt",
                 "seed=10.pt", "seed=10-snapshot2.pt"):
        train.save_checkpoint(tmp_path / name, model, step=3)
    onetoone._check_snapshots(tmp_path, 1, [2, 3])
    assert len(list(tmp_path.glob("*.pt"))) == 6 and capsys.readouterr().out == ""
    _truncate(tmp_path / "seed=1-snapshot3.pt")
    onetoone._check_snapshots(tmp_path, 1, [2, 3])
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["seed=10-snapshot2.pt", "seed=10.pt"]
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "seed=1-snapshot3.pt cannot be loaded" in out[0]
