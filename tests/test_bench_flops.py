"""Training-efficiency bench (relight_lib.bench_flops): columns, FLOP counts, CSV schema.

No timing is asserted: only that times are positive and the columns are the issue's.
"""

from __future__ import annotations

import copy
import csv

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from relight_lib import bench_flops as bf


def _tiny_spec() -> bf.TrainSpec:
    from relight_lib.library.models import build_model

    def build():
        torch.manual_seed(0)
        net = build_model("tiny_unet", width=4)

        def loss(pred, batch):
            return torch.nn.functional.l1_loss(pred, batch["target"])
        return net, loss, []

    return bf.TrainSpec(name="tiny_unet", build=build, batch=2, size=16, amp=False,
                        channels_last=True, lr=1e-3)


def test_conv_flops_formula_matches_the_counter():
    conv = nn.Conv2d(5, 7, 3, padding=1, bias=False)
    x = torch.rand(2, 5, 12, 10, requires_grad=True)
    with FlopCounterMode(display=False) as fc:
        conv(x)
    assert fc.get_total_flops() == bf.conv_flops(2, 5, 7, 3, 12, 10) == 2 * 2 * 7 * 12 * 10 * 5 * 9
    with FlopCounterMode(display=False) as fc:
        conv(x).sum().backward()
    assert fc.get_total_flops() == bf.conv_flops(2, 5, 7, 3, 12, 10, backward=True)


def test_bench_model_on_a_tiny_model(tmp_path):
    spec = _tiny_spec()
    peak = [{"kernel": "matmul", "precision": "fp32", "gflops": 10.0},
            {"kernel": "conv3x3", "precision": "fp32", "gflops": 20.0},
            {"kernel": "conv3x3_c16_fwd_bwd", "precision": "fp32", "gflops": 99.0}]
    got = bf.bench_model(spec, peak, steps=1, top=3)
    row = got["row"]
    assert tuple(row) == bf.FLOPS_COLUMNS
    assert row["model"] == "tiny_unet" and row["batch"] == 2 and row["size"] == 16
    assert row["precision"] == "fp32_cl"
    assert row["machine_peak_gflops"] == 20.0  # the best peak kernel, not the width sweep
    for k in ("gflop_per_step", "s_per_step", "gflops_achieved", "fraction_of_peak"):
        assert row[k] > 0
    assert row["gflops_achieved"] == pytest.approx(row["gflop_per_step"] / row["s_per_step"])
    assert row["fraction_of_peak"] == pytest.approx(row["gflops_achieved"] / 20.0)
    # the forward and backward FLOPs of the step: more than the forward pass alone
    net, _, _ = spec.build()
    with FlopCounterMode(display=False) as fc:
        net({"input": torch.rand(2, 3, 16, 16)})
    assert row["gflop_per_step"] * 1e9 > 2 * fc.get_total_flops()
    assert {p["phase"] for p in got["phases"]} == set(bf.PHASES)
    assert sum(p["share"] for p in got["phases"]) == pytest.approx(1.0)
    assert 1 <= len(got["profile"]) <= 4 and all(tuple(r) == bf.PROFILE_COLUMNS
                                                  for r in got["profile"])
    assert sum(r["self_cpu_share"] for r in got["profile"]) == pytest.approx(1.0)
    path = bf.write_table(tmp_path / "t.csv", [row], bf.FLOPS_COLUMNS)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(bf.FLOPS_COLUMNS) and float(rows[0]["s_per_step"]) > 0


def test_write_table_columns_are_fixed(tmp_path):
    assert bf.FLOPS_COLUMNS == ("model", "precision", "size", "batch", "gflop_per_step",
                                "s_per_step", "gflops_achieved", "machine_peak_gflops",
                                "fraction_of_peak")
    with pytest.raises(ValueError):
        bf.write_table(tmp_path / "bad.csv", [{"model": "x", "typo": 1}], bf.FLOPS_COLUMNS)
    assert not list(tmp_path.glob("*"))  # no half-written file left behind
    path = bf.write_table(tmp_path / "ok.csv", [{"model": "x", "s_per_step": 0.123456789}],
                          bf.FLOPS_COLUMNS)
    line = path.read_text().splitlines()
    assert line[0] == ",".join(bf.FLOPS_COLUMNS)
    assert "0.123457" in line[1]


def test_lever_row_ratios():
    r = bf.lever_row("ltnet", "batch", "batch 8", "batch 16", 1.0, 1.6, work_ratio=2.0)
    assert tuple(r) == bf.LEVER_COLUMNS
    assert r["ratio"] == pytest.approx(0.625) and r["gflops_ratio"] == pytest.approx(1.25)
    empty = bf.lever_row("ltnet", "torch_compile", "eager", "compile", None, None, note="skipped")
    assert empty["ratio"] == "" and empty["note"] == "skipped"


def test_ltnet_group_instance_norm_matches_instance_norm():
    """LTNet's norm layers compute affine instance norm by group_norm (a speed lever made the
    default): the same parameters and, within float tolerance, the same outputs and
    gradients as nn.InstanceNorm2d, in both memory formats."""
    from relight_lib.library.models.ltnet import ConvLayer, GroupInstanceNorm

    torch.manual_seed(0)
    layer = ConvLayer(3, 6, 3, instance_norm=True)
    assert isinstance(layer.instance, GroupInstanceNorm)
    with torch.no_grad():
        layer.instance.weight.uniform_(0.5, 2)
        layer.instance.bias.uniform_(-1, 1)
    ref = copy.deepcopy(layer)
    assert bf.swap_instance_norm(ref, "instance") == 1
    assert type(ref.instance) is nn.InstanceNorm2d
    assert set(ref.state_dict()) == set(layer.state_dict())
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.rand(2, 3, 9, 9).contiguous(memory_format=fmt).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        y, y_ref = layer(x), ref(x2)
        torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
        y.square().sum().backward()
        y_ref.square().sum().backward()
        # float32 summation order: tolerances relative to the largest gradient
        scale = float(x2.grad.abs().max())
        torch.testing.assert_close(x.grad, x2.grad, rtol=1e-4, atol=1e-5 * scale)
        scale = float(ref.instance.weight.grad.abs().max())
        torch.testing.assert_close(layer.instance.weight.grad, ref.instance.weight.grad,
                                   rtol=1e-4, atol=1e-5 * scale)
        layer.zero_grad()
        ref.zero_grad()
    assert bf.swap_instance_norm(ref, "group") == 1
    with pytest.raises(ValueError):
        bf.swap_instance_norm(ref, "batch")


def test_fit_turns_off_the_nan_fill_in_deterministic_mode():
    from relight_lib.library.train import TrainConfig, fit

    spec = _tiny_spec()
    net, loss, _ = spec.build()
    data = bf.random_items(4, 16)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        fit(net, loss, data, None, TrainConfig(steps=1, batch_size=2), progress=False)
        assert torch.utils.deterministic.fill_uninitialized_memory is False
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = True


def test_machine_slug_names_the_cores():
    slug = bf.machine_slug("cpu")
    assert slug.startswith("cpu-") and slug.rsplit("-", 1)[1].endswith("c")


def test_flop_operator_share_and_ratio():
    import pandas as pd

    from relight_lib.harness import bench_results as br

    prof = pd.DataFrame({"model": ["a", "a", "a", "b"],
                         "operator": ["aten::convolution_backward", "aten::mkldnn_convolution",
                                      "aten::native_batch_norm", "aten::addmm"],
                         "self_cpu_share": [0.4, 0.2, 0.4, 1.0]})
    assert br.flop_operator_share(prof, "a") == pytest.approx(0.6)
    assert br.flop_operator_share(prof, "b") == pytest.approx(1.0)
    flops = pd.DataFrame({"model": ["ltnet", "dmshn"], "gflops_achieved": [10.0, 40.0]})
    assert br.flop_ratio(flops) == pytest.approx(0.25)
    assert br.flop_ratio(flops, "mbnet") is None


@pytest.mark.parametrize("name", ["swapnet_illum", "swapnet_envmap"])
def test_the_any_to_any_specs_build_and_take_a_loss(name):
    """The bench's any-to-any steps are built from the paper module's own pieces (a renamed or
    moved piece breaks ``relight bench --training-flops`` before it times anything)."""
    (spec,) = bf.quick_specs([name])
    assert spec.name == name and spec.batch > 0 and spec.size > 0
    step, loss_fn, _ = spec.build()
    data = spec.make_data(2, spec.size, 0)  # the predicter is built for the spec's size
    batch = torch.utils.data.default_collate([data[0], data[1]])  # as the engine's loader
    loss = loss_fn(step(batch), batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in step.parameters())


def test_every_benched_model_has_a_quick_training_spec():
    names = [s.name for s in bf.quick_specs(bf.MODELS + bf.COST_MODELS)]
    assert names == list(bf.MODELS + bf.COST_MODELS)
