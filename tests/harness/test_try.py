"""``relight try``: one table row with changed parameters, into a scratch folder, compared with
the committed row."""

import os
from pathlib import Path

import pytest

from relight_lib import cli
from relight_lib.harness import reproduce

REPO = Path(__file__).resolve().parents[2]

# Under `pytest -n` these run on one worker: `relight try` renders the smoke SynVIDIT set into the
# repository's data/ when it is missing, and the plans read the same folders
pytestmark = pytest.mark.xdist_group("repository_data")


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # rows name their notebooks relative to the repository root


def test_values_are_yaml_literals():
    got = reproduce.parse_set(["stage1_fraction=0.25", "residual=true", "sizes=[4, 16]",
                               "postprocess=null", "normal_recipe=code", "table5_label=4,16",
                               "lr=1e-3", "seeds=[0, 1]"])
    assert got == {"stage1_fraction": 0.25, "residual": True, "sizes": [4, 16],
                   "postprocess": None, "normal_recipe": "code", "table5_label": "4,16",
                   "lr": 1e-3, "seeds": [0, 1]}
    # 1e-3 is a number (YAML 1.1 would read it as text, and Adam would fail on it)
    assert type(got["stage1_fraction"]) is float and type(got["residual"]) is bool
    assert type(got["lr"]) is float
    for bad in ("stage1_fraction", "=3", "a b=1", "x=[1, 2"):
        with pytest.raises(reproduce.RunsFileError, match="--set"):
            reproduce.parse_set([bad])


def test_unknown_key_names_the_notebook_and_the_valid_keys(in_repo):
    with pytest.raises(reproduce.RunsFileError) as e:
        reproduce.try_row_for("msrnet/table2/dmshn_cl", {"stage1_fractoin": 0.25})
    msg = str(e.value)
    assert "notebooks/msrnet/table2.ipynb" in msg and "'stage1_fractoin'" in msg
    assert ("valid: batch_size, budget_scale, data_root, init, loss, lr, model, seeds, "
            "stage1_fraction, steps") in msg
    # parameters the runner sets are not for --set
    with pytest.raises(reproduce.RunsFileError, match="profile is set by the runner"):
        reproduce.try_row_for("msrnet/table2/dmshn_cl", {"profile": "gpu"})


def test_cli_rejects_an_unknown_key_with_exit_2(in_repo, capsys):
    rc = cli.main(["try", "ltnet/table2/i_d", "--set", "los=A", "--profile", "smoke"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "notebooks/ltnet/table2.ipynb" in err and "'los'" in err
    assert "loss_setting" in err and "normal_recipe" in err
    assert cli.main(["try", "ltnet/table2", "--set", "inputs=[rgb]"]) == 2
    assert cli.main(["try", "ltnet/table2/nope"]) == 2


def test_the_try_row_is_a_renamed_copy(in_repo):
    row, tried = reproduce.try_row_for("msrnet/table2/dmshn_cl", {"stage1_fraction": 0.25})
    assert tried.variant == "dmshn_cl__stage1_fraction-0.25"
    assert tried.params == {**row.params, "stage1_fraction": 0.25}
    assert (tried.paper, tried.table, tried.notebook) == (row.paper, row.table, row.notebook)
    _, named = reproduce.try_row_for("msrnet/table2/dmshn_cl", {"init": "dehazing"}, name="mine")
    assert named.variant == "dmshn_cl__mine"
    with pytest.raises(reproduce.RunsFileError, match="--name"):
        reproduce.try_row_for("msrnet/table2/dmshn_cl", {}, name="../up")
    long = reproduce.changes_slug({"inputs": ["rgb", "depth", "inverse_depth", "normal"] * 4})
    assert len(long) <= 48 and long != reproduce.changes_slug({"inputs": ["rgb"] * 16})


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()} if root.exists() else {}


@pytest.mark.render
def test_try_end_to_end_at_smoke(in_repo, tmp_path, capsys):
    pytest.importorskip("mitsuba")  # try renders the smoke set when it is missing
    committed = REPO / "results"
    before = {p: _listing(committed / p / "baselines") for p in ("smoke", "quick")}
    # a committed row to compare with, in its own folder (results/smoke is not committed)
    (row,) = reproduce.select_rows(reproduce.load_rows(), "baselines", "onetoone",
                                   "colour_lstsq")
    reproduce.profiles.ensure_data(reproduce.profiles.resolve("smoke"), progress=False)
    assert reproduce.run_row(row, "smoke", tmp_path / "committed", True,
                             log=lambda *a: None).status == "ran"

    out_root = tmp_path / "exercises"
    rc = cli.main(["try", "baselines/onetoone/colour_lstsq", "--set", "seeds=[0, 1]",
                   "--profile", "smoke", "--results-root", str(out_root)])
    out = capsys.readouterr().out
    assert rc == 0, out
    run = out_root / "smoke" / "baselines" / "onetoone" / "colour_lstsq__seeds-0-1"
    assert (run / "seed=0" / "metrics.csv").exists() and (run / "seed=1" / "metrics.csv").exists()
    assert (out_root / "smoke" / "executed" / "baselines"
            / "onetoone__colour_lstsq__seeds-0-1.ipynb").exists()
    assert "ran in" in out and "psnr" in out and str(run) in out

    # the same try again is cached; compared with the committed row this time
    res = reproduce.try_row("baselines", "onetoone", "colour_lstsq", {"seeds": [0, 1]},
                            profile="smoke", results_root=out_root,
                            committed_root=tmp_path / "committed", log=lambda *a: None)
    assert res.outcome.status == "cached"
    comp = {m: (a, b, d) for m, a, b, d in res.comparison()}
    a, b, d = comp["psnr"]
    assert a is not None and b is not None and d == pytest.approx(b - a)
    assert comp["lpips"] == (None, None, None)  # no AlexNet weights in tests: not measured
    report = res.report()
    assert "committed colour_lstsq" in report and "try seeds-0-1" in report
    assert "means over seeds: committed 1, try 2" in report
    assert res.committed_stale is None and "not up to date" not in report

    # a committed row made with other settings is flagged: the difference mixes two versions
    rj = tmp_path / "committed" / "smoke" / "baselines" / "onetoone" / "colour_lstsq" / \
        "seed=0" / "run.json"
    rj.write_text(rj.read_text().replace('"cache_key": "', '"cache_key": "old'))
    res = reproduce.try_row("baselines", "onetoone", "colour_lstsq", {"seeds": [0, 1]},
                            profile="smoke", results_root=out_root,
                            committed_root=tmp_path / "committed", log=lambda *a: None)
    assert res.outcome.status == "cached" and res.committed_stale
    assert "the committed row is not up to date" in res.report()

    after = {p: _listing(committed / p / "baselines") for p in ("smoke", "quick")}
    assert after == before, "relight try wrote into results/"
    assert not list(committed.glob("*/**/colour_lstsq__*"))


@pytest.mark.render
def test_a_failing_try_exits_non_zero_and_says_where_the_notebook_is(in_repo, tmp_path,
                                                                       capsys):
    pytest.importorskip("mitsuba")
    rc = cli.main(["try", "baselines/onetoone/identity", "--set", "method=no_such_method",
                   "--profile", "smoke", "--results-root", str(tmp_path), "--name", "broken"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "baselines/onetoone/identity__broken failed" in err and "no_such_method" in err
    nb = Path("_build/failed/smoke/baselines__onetoone__identity__broken.ipynb")
    assert str(nb) in err and nb.exists()
    os.remove(nb)
    assert not (tmp_path / "smoke" / "executed" / "baselines"
                / "onetoone__identity__broken.ipynb").exists()
