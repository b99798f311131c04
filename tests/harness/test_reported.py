"""The papers' numbers in results/reported/*.csv: schema, completeness, internal consistency.

The CSVs are transcribed by hand from spec/papers.md section 7; these tests pin the row counts,
the variant slugs, the MPS identity (papers.md 2.1) and the cross-references papers.md notes
between tables, so that a typo in a transcription fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from relight_lib.harness import results as R

ROOT = Path(__file__).resolve().parents[2] / "results" / "reported"
PAPERS = ("ltnet", "mbnet", "msrnet", "swapnet")
FIVE = {"mps", "ssim", "lpips", "psnr", "runtime_s"}

#: (paper, table) -> split -> (variant slugs in printed order, metrics of each row)
EXPECTED = {
    ("ltnet", "table1"): {
        "validation": (["wdrn", "deeprelight", "msrnet", "ltnet_small_ensemble",
                        "ltnet_large_dehaze", "ltnet_large_no_dehaze"], FIVE),
        "test": (["aicsntu_mbnet", "ipal_relightnet", "vue", "ltnet_small_ensemble"], FIVE),
    },
    ("ltnet", "table2"): {"validation": (["i_d", "i_d_v", "i_d_n", "i_d_v_n"], FIVE)},
    ("ltnet", "table3"): {"validation": (["no_skip", "skip", "skip_lr_no_lrc", "skip_lr_lrc"],
                                         FIVE)},
    ("ltnet", "table4"): {"validation": (["wdrn", "pynet"], FIVE)},
    ("ltnet", "table5"): {"validation": (["f1_8_nc_32", "f1_4_nc_32", "f1_4_nc_16",
                                          "f1_2_nc_16", "f1_4_nc_4"], FIVE)},
    ("ltnet", "table6"): {"validation": (["a_lc", "b_lc_lpips", "c_lc_lr", "d_l1c_lpips_lr"],
                                         FIVE)},
    ("mbnet", "table1"): {"validation": (["baseline", "extra_data", "extra_data_residual"],
                                         {"psnr", "ssim"})},
    ("mbnet", "table2"): {"validation": (["atst", "danet", "rd3d", "pgar", "mbnet"],
                                         {"psnr", "ssim"})},
    ("mbnet", "table3"): {
        "validation": (["auy200", "aics", "lifu", "jimmy3505090", "deepblueai", "mbnet"],
                       {"ssim", "psnr"}),
        "test": (["auy200", "aics", "lifu", "jimmy3505090", "deepblueai", "mbnet"],
                 {"mps", "ssim", "lpips", "psnr"}),
    },
    ("msrnet", "table1"): {"validation": (["dense_gridnet", "srn", "drn", "dmshn", "stacked_dmshn"],
                                          {"psnr", "ssim", "lpips", "runtime_s"})},
    ("msrnet", "table2"): {"validation": (["dmshn_csl", "dmshn_mse", "dmshn_cl",
                                           "stacked_dmshn_mse", "stacked_dmshn_cl"],
                                          {"psnr", "ssim", "lpips"})},
    ("swapnet", "table1"): {"validation": (["illumination_predicter", "envmap", "envmap_scene"],
                                           {"mse", "psnr", "ssim", "lpips"})},
}


@pytest.fixture(scope="module")
def reported() -> dict[str, pd.DataFrame]:
    return {p: R.load_reported(p, root=ROOT, printed=True) for p in PAPERS}


def _value(reported, paper, table, variant, metric, split="validation"):
    df = reported[paper]
    sel = ((df["table"] == table) & (df["variant"] == variant) & (df["metric"] == metric)
           & (df["split"] == split))
    assert sel.sum() == 1, (paper, table, variant, metric, split)
    return float(df.loc[sel, "value"].iloc[0])


@pytest.mark.parametrize("paper", PAPERS)
def test_csv_loads_validates_and_has_the_exact_header(paper, reported):
    with open(ROOT / f"{paper}.csv", newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(R.SCHEMA)
    df = reported[paper]
    assert set(df["source"]) == {"reported"} and set(df["profile"]) == {"paper"}
    assert set(df["paper"]) == {paper}
    assert df["seed"].isna().all()
    assert df["label"].str.len().min() > 0 and df["dataset"].str.startswith("VIDIT (").all()
    # where names the table
    for table, where in zip(df["table"], df["where"]):
        assert where.endswith(f"Table {table.removeprefix('table')}")
    assert set(df["n_images"].dropna()) <= {45, 10000}


def test_no_other_files_in_reported():
    # the papers' tables, plus the code-completeness facts of their repositories (scorecard)
    assert sorted(p.name for p in ROOT.iterdir()) == sorted(
        [f"{p}.csv" for p in PAPERS] + ["code_completeness.yaml"])


def test_row_counts_slugs_and_metrics_per_table(reported):
    seen = set()
    for paper, df in reported.items():
        for (table, split), group in df.groupby(["table", "split"], sort=False):
            seen.add((paper, table))
            slugs, metrics = EXPECTED[(paper, table)][split]
            assert list(dict.fromkeys(group["variant"])) == slugs, (paper, table, split)
            for variant, rows in group.groupby("variant"):
                assert set(rows["metric"]) == metrics, (paper, table, split, variant)
                assert rows["label"].nunique() == 1
            assert len(group) == len(slugs) * len(metrics)
        assert set(df["table"]) == {t for p, t in EXPECTED if p == paper}
        splits = {(t, s) for (t, s) in df[["table", "split"]].itertuples(index=False)}
        assert splits == {(t, s) for (p, t), d in EXPECTED.items() if p == paper for s in d}
    assert seen == set(EXPECTED)
    assert {p: len(df) for p, df in reported.items()} == {
        "ltnet": 145, "mbnet": 52, "msrnet": 35, "swapnet": 12}


def test_variant_slugs_unique_within_table_and_split(reported):
    for df in reported.values():
        rows = df.drop_duplicates(["table", "split", "variant", "label"])
        dup = rows.duplicated(["table", "split", "variant"])
        assert not dup.any(), rows[dup]
        assert df["variant"].str.fullmatch(r"[a-z0-9][a-z0-9_]*").all()


def test_mps_equals_half_ssim_plus_one_minus_lpips(reported):
    checked = 0
    for paper, df in reported.items():
        wide = df.pivot_table(index=["table", "variant", "split"], columns="metric",
                              values="value", aggfunc="first")
        if not {"mps", "ssim", "lpips"} <= set(wide.columns):
            continue
        wide = wide.dropna(subset=["mps", "ssim", "lpips"])
        for key, row in wide.iterrows():
            expected = 0.5 * (row["ssim"] + 1 - row["lpips"])
            assert abs(row["mps"] - expected) <= 6e-5, (paper, key, row["mps"], expected)
            checked += 1
    assert checked == 35  # LTNet Tables 1-6 (29 rows) and MBNet Table 3 test (6 rows)


def test_values_exactly_as_printed(reported):
    lt = reported["ltnet"].set_index(["table", "variant", "split", "metric"])["value_printed"]
    assert lt[("table1", "wdrn", "validation", "runtime_s")] == "0.0300"
    assert lt[("table1", "aicsntu_mbnet", "test", "runtime_s")] == "2.88"
    assert lt[("table5", "f1_4_nc_16", "validation", "psnr")] == "16.9539"
    mb = reported["mbnet"].set_index(["table", "variant", "split", "metric"])["value_printed"]
    assert mb[("table2", "atst", "validation", "ssim")] == "0.665"
    ms = reported["msrnet"].set_index(["table", "variant", "split", "metric"])["value_printed"]
    assert ms[("table1", "drn", "validation", "lpips")] == "0.440"
    assert ms[("table1", "stacked_dmshn", "validation", "psnr")] == "17.89"
    sw = reported["swapnet"].set_index(["table", "variant", "split", "metric"])["value_printed"]
    assert sw[("table1", "envmap_scene", "validation", "ssim")] == "0.2988"


BASELINE = {"mps": 0.6828, "ssim": 0.6473, "lpips": 0.2817, "psnr": 16.6719, "runtime_s": 0.0467}


def test_cross_references_noted_in_papers_md(reported):
    # the common baseline row of LTNet Tables 2-6
    for table, slug in [("table2", "i_d_v_n"), ("table3", "skip_lr_lrc"), ("table4", "pynet"),
                        ("table5", "f1_2_nc_16"), ("table6", "d_l1c_lpips_lr")]:
        for metric, value in BASELINE.items():
            assert _value(reported, "ltnet", table, slug, metric) == value
    for metric in FIVE:
        # Table 5 "8,32" = LTNet† with dehaze
        assert (_value(reported, "ltnet", "table5", "f1_8_nc_32", metric)
                == _value(reported, "ltnet", "table1", "ltnet_large_dehaze", metric))
    for metric in ("mps", "ssim", "lpips", "psnr"):
        assert (_value(reported, "mbnet", "table3", "mbnet", metric, "test")
                == _value(reported, "ltnet", "table1", "aicsntu_mbnet", metric, "test"))
        assert (_value(reported, "mbnet", "table3", "auy200", metric, "test")
                == _value(reported, "ltnet", "table1", "ipal_relightnet", metric, "test"))
    for metric in ("psnr", "ssim"):
        ours = _value(reported, "mbnet", "table1", "extra_data_residual", metric)
        assert ours == _value(reported, "mbnet", "table2", "mbnet", metric)
        assert ours == _value(reported, "mbnet", "table3", "mbnet", metric)
    for metric in ("psnr", "ssim", "lpips"):
        assert (_value(reported, "msrnet", "table1", "dmshn", metric)
                == _value(reported, "msrnet", "table2", "dmshn_cl", metric))
        assert (_value(reported, "msrnet", "table1", "stacked_dmshn", metric)
                == _value(reported, "msrnet", "table2", "stacked_dmshn_cl", metric))
    for metric in ("psnr", "ssim", "lpips", "runtime_s"):
        assert (_value(reported, "ltnet", "table1", "msrnet", metric)
                == _value(reported, "msrnet", "table1", "stacked_dmshn", metric))


def test_caveats_are_in_the_notes(reported):
    lt = reported["ltnet"]
    t1_runtime = lt[(lt["table"] == "table1") & (lt["metric"] == "runtime_s")]
    assert t1_runtime["note"].str.contains("hardware: ").all()
    copied = lt[(lt["table"] == "table1") & lt["variant"].isin(["wdrn", "deeprelight", "msrnet"])]
    assert copied["note"].str.contains("copied by the LTNet authors").all()
    assert set(copied["dataset"]) == {"VIDIT (AIM 2020 Track 1)"}
    dup = lt[(lt["table"] == "table5") & (lt["label"] == "4,16")]
    assert set(dup["variant"]) == {"f1_4_nc_16", "f1_2_nc_16"}
    assert dup["note"].str.contains("'4,16' on two rows").all()
    sw = reported["swapnet"]
    assert sw.loc[sw["metric"] == "ssim", "note"].str.contains("very likely DSSIM").all()
    assert sw.loc[sw["metric"] == "lpips", "note"].str.contains(r"\[0,1\] inputs").all()
    ms = reported["msrnet"]
    assert ms.loc[ms["metric"] == "runtime_s", "note"].str.len().gt(0).all()
