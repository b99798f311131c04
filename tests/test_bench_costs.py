"""relight bench --costs: the OpenMP wait-policy rounds and the step timings (subprocesses faked)."""

import csv

import pytest

from relight_lib import bench_flops as b


def test_omp_rounds_alternate_and_divide(monkeypatch):
    calls = []

    def fake(name, steps, env=None, timeout=0, compile=False, without_perceptual=False):
        policy = env["OMP_WAIT_POLICY"]
        calls.append((name, policy))
        return [6.0, 8.0] if policy is None else [2.0, 2.0]

    monkeypatch.setattr(b, "time_in_subprocess", fake)
    rows = b.measure_omp_wait_policy(["ltnet"], steps=2, rounds=2, log=lambda *a: None)
    # round 0 default first, round 1 PASSIVE first: a drift of the load falls on both
    assert calls == [("ltnet", None), ("ltnet", "PASSIVE"), ("ltnet", "PASSIVE"),
                     ("ltnet", None)]
    assert [r["round"] for r in rows] == [0, 1]
    assert rows[0]["s_per_step_default"] == 7.0 and rows[0]["ratio"] == pytest.approx(3.5)
    assert set(rows[0]) == set(b.OMP_COLUMNS)


def test_measure_steps_times_both_arms_where_the_loss_has_vgg(monkeypatch):
    seen = []

    def fake(name, steps, env=None, timeout=0, compile=False, without_perceptual=False):
        seen.append((name, without_perceptual, env["OMP_WAIT_POLICY"], env["OMP_NUM_THREADS"]))
        return [3.0] * steps if not without_perceptual else [1.0] * steps

    monkeypatch.setattr(b, "time_in_subprocess", fake)
    rows = b.measure_steps("dmshn", steps=4, threads=2, log=lambda *a: None)
    assert seen == [("dmshn", False, "PASSIVE", "2"), ("dmshn", True, "PASSIVE", "2")]
    assert [r["arm"] for r in rows] == ["loss as trained", "without the VGG term"]
    assert rows[0]["s_per_step_median"] == 3.0 and rows[1]["steps"] == 4
    assert set(rows[0]) == set(b.STEP_COLUMNS)
    seen.clear()
    assert len(b.measure_steps("ltnet", steps=2, log=lambda *a: None)) == 1  # no VGG term


def test_cost_models_have_specs_and_the_swap_b_data_has_directions():
    names = [s.name for s in b.quick_specs(["ltnet_4_32", "swapnet_envmap"])]
    assert names == ["ltnet_4_32", "swapnet_envmap"]
    items = b.random_items(2, 8, swap=True)
    from relight_lib.library.data.layout import DIRECTION_ANGLES

    d = items[0]["input_direction"]
    assert DIRECTION_ANGLES[d] == float(items[0]["input_angle"])
