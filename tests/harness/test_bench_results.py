"""The plausibility check of the papers' reported run times (FLOPs over the named GPU's peak)."""

import pytest

from relight_lib.harness import bench_results as B


def test_datasheet_matching():
    assert B.datasheet("GTX 1080 Ti (AMD 1950X, 64 GB RAM)")[0] == 11.34
    assert B.datasheet("Tesla K80")[0] == 8.73 and B.datasheet("2080TI")[0] == 13.45
    assert B.datasheet("a mystery card") is None


def test_flops_are_counted_without_memory():
    # the committed H200 benchmark counted 684 GFLOP for DMSHN at 1024 px the slow way
    assert B.flops_at("dmshn", {}) == pytest.approx(684.03e9, rel=1e-3)


def test_the_reported_times_that_physics_forbids_are_flagged():
    t = B.plausibility().set_index(["paper", "table", "variant", "split"])
    dmshn = t.loc[("msrnet", "table1", "dmshn", "validation")]
    # 684 GFLOP in 5.8 ms is 118 TFLOP/s: ten times a GTX 1080 Ti's fp32 peak
    assert dmshn["verdict"] == "impossible" and dmshn["bound_s"] == pytest.approx(0.0603, rel=0.01)
    assert "10.4x" in dmshn["why"]
    assert t.loc[("ltnet", "table1", "ltnet_large_no_dehaze", "validation")]["verdict"] == \
        "impossible"
    small = t.loc[("ltnet", "table1", "ltnet_small_ensemble", "validation")]
    assert small["verdict"] == "possible" and "5-snapshot ensemble" in small["why"]
    assert t.loc[("ltnet", "table1", "aicsntu_mbnet", "test")]["verdict"] == "possible"
    other = t.loc[("msrnet", "table1", "srn", "validation")]
    assert other["verdict"] == "not checked" and "not implemented" in other["why"]
