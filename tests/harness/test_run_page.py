"""Run pages (the executed row notebooks): metrics as one formatted table, each figure linked
from its PNG with its caption under it, no stderr and no folder of the building machine."""

import json
import logging
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from relight_lib.harness import run_page
from relight_lib.library import record


def _row(tmp_path, seeds=(0, 1)):
    for s in seeds:
        per_image = pd.DataFrame({"image": [f"i{k}" for k in range(4)],
                                  "psnr": 20.0 + s + np.arange(4) * 0.1,
                                  "lpips": np.nan})
        out = record.write_run(tmp_path, paper="demo", table="table1", variant="a",
                               profile="smoke", seed=s, dataset="SynVIDIT", split="validation",
                               per_image=per_image, params={},
                               notes={"lpips": "LPIPS unavailable: weights not found in\n"
                                               "  - ~/.cache/torch/hub/checkpoints"})
        (out / "figures").mkdir()
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.plot([0, 1])
        record.save_figure(fig, out / "figures" / "loss.png")
    return run_page.row_dir(tmp_path, "smoke", "demo", "table1", "a")


def test_metrics_table_has_one_row_per_computed_metric_and_fixed_digits(tmp_path):
    t = run_page.metrics_table(_row(tmp_path))
    assert list(t.index) == ["psnr"]  # lpips has no value anywhere: no NaN row
    assert list(t.columns) == ["images", "seed 0", "seed 1", "mean ± sd"]
    assert t.loc["psnr", "seed 0"] == "20.15" and t.loc["psnr", "seed 1"] == "21.15"
    assert t.loc["psnr", "mean ± sd"] == "20.65 ± 0.71"
    assert t.loc["psnr", "images"] == "4"
    why = t.attrs["not computed"]["lpips"]
    assert why.startswith("LPIPS unavailable") and "\n" not in why


def test_a_row_with_no_computed_metric_shows_words_not_an_empty_table(tmp_path, monkeypatch):
    per_image = pd.DataFrame({"image": ["i0"], "psnr": np.nan})
    record.write_run(tmp_path, paper="demo", table="table1", variant="b", profile="smoke",
                     seed=0, dataset="SynVIDIT", split="test", per_image=per_image, params={},
                     notes={"psnr": "not run here: LPIPS unavailable"})
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    run_page.show_metrics(run_page.row_dir(tmp_path, "smoke", "demo", "table1", "b"))
    assert all(not isinstance(o, pd.DataFrame) for o in shown)
    assert "No metric could be computed" in shown[0].data
    assert "**psnr** not computed: not run here" in shown[1].data


def test_figures_are_linked_relative_to_the_page_with_the_caption_under_each(tmp_path,
                                                                             monkeypatch):
    row = _row(tmp_path)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    run_page.show_figures(tmp_path, "smoke", "demo", "table1", "a")
    texts = [o.data for o in shown]
    assert len(texts) == 2  # one per figure, in seed order
    for seed, text in enumerate(texts):
        image, caption = text.split("\n\n")
        link = image[image.index("(") + 1:-1]
        assert link == f"../../demo/table1/a/seed={seed}/figures/loss.png"
        assert (tmp_path / "smoke" / "executed" / "demo" / link).resolve() == \
            (row / f"seed={seed}" / "figures" / "loss.png").resolve()
        assert caption.startswith(f"*Seed {seed}: training loss")


def test_save_figure_writes_a_palette_png(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.imshow(np.random.default_rng(0).random((32, 32, 3)))
    path = record.save_figure(fig, tmp_path / "f.png")
    img = Image.open(path)
    assert img.format == "PNG" and img.mode == "P" and img.size == (240, 160)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_sanitise_drops_stderr_and_machine_folders(tmp_path, monkeypatch):
    repo = tmp_path / "checkout"
    repo.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=f"{repo}/relight_lib/losses.py:1: W\n"),
        nbformat.v4.new_output("stream", name="stdout", text=f"read {repo}/data/a.png\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": f"{tmp_path}/home/.cache/x"}),
    ]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"input_path": f"{repo}/notebooks/a.ipynb"}
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    dropped = run_page.sanitise_notebook(path, repo_root=repo)
    assert dropped == ["relight_lib/losses.py:1: W"]
    text = path.read_text()
    assert str(tmp_path) not in text
    out = json.loads(text)
    assert [o["output_type"] for o in out["cells"][0]["outputs"]] == ["stream", "display_data"]
    assert "".join(out["cells"][0]["outputs"][0]["text"]) == "read data/a.png\n"
    assert "".join(out["cells"][0]["outputs"][1]["data"]["text/plain"]) == "~/.cache/x"
    assert out["metadata"]["papermill"]["input_path"] == "notebooks/a.ipynb"


def test_quiet_collects_what_run_json_records_only_under_the_runner(monkeypatch):
    from relight_lib.library import weights

    monkeypatch.delenv(run_page.RUN_PAGE_ENV, raising=False)
    before = warnings.showwarning
    run_page.quiet()
    assert warnings.showwarning is before  # not a run page: nothing changes

    log = logging.getLogger("relight_lib")
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "propagate", True)
    monkeypatch.setattr(warnings, "showwarning", before)
    monkeypatch.setenv(run_page.RUN_PAGE_ENV, "1")
    run_page.quiet()
    printed = []
    monkeypatch.setattr(run_page, "_collected", [])
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning(weights.RandomInitWarning("vgg16: random init"),
                             weights.RandomInitWarning, "x.py", 1)
    logging.getLogger("relight_lib.library.weights").warning("relight: download failed")
    assert run_page.collected() == ["RandomInitWarning: vgg16: random init",
                                    "relight: download failed"]
    assert not printed
