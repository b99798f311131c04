"""Which one-to-one rows share one training, and the training time that sharing saves.

A one-to-one row's checkpoint is keyed by its *effective recipe*
(:func:`relight_lib.papers.onetoone.training_recipe`): what decides the trained weights, with the
loss terms left out here (weights missing) dropped and without what a row only evaluates or
keeps on the way (post-process, snapshots). Rows with the same recipe train once; the others
reuse the finished checkpoint. LTNet without the AlexNet weights of LPIPS, at one budget:
Table 6's A trains what Table 3's ``skip`` trains, Table 6's C and the snapshot ensemble what
LTNet* trains (at the quick profile Tables 2, 3 and 6 train twice as long: they share among
themselves, and with the budget checks of Tables 1 and 5 for the checks' seed).

:func:`shared_trainings` reads the committed ``run.json`` files of a profile, rebuilds each
row's effective recipe from what they record (``params``, the deviations naming the terms left
out, the backbones' weights), groups the rows that share one, and says how many training
seconds the group spent and how many one training per seed needs: the saving of training each
recipe once. It works on results written before the rows shared (each row then trained on its
own and recorded its seconds) as on results written after (the rows that reused a training
recorded no step of their own).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from relight_lib.harness.results import _glob_runs

#: A loss term left out of the training because its weights are missing here, as
#: :func:`relight_lib.papers.onetoone.build_objective` words it (multi-stage rows prefix the
#: stage's name).
_DROPPED = re.compile(r"^(?:(?P<stage>[\w.-]+): )?(?P<name>\w+) term \(weight (?P<weight>[^)]+)\) "
                      r"left out of the loss")

#: run.json ``weights`` entries that the evaluation uses, not the training.
_EVAL_WEIGHTS = ("lpips_metric",)

COLUMNS = ["paper", "recipe", "rows", "seeds", "trainings", "spent_s", "needed_s", "saved_s",
           "training_keys"]


def _dropped_terms(deviations: list[str]) -> list[tuple[str | None, str, float]]:
    out = []
    for d in deviations:
        m = _DROPPED.match(d)
        if m:
            out.append((m["stage"], m["name"], float(m["weight"])))
    return out


def effective_recipe(rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The effective training recipe of one seed's ``run.json``, less the seed and its data
    (:func:`_seed_data`), or None for a run that trained nothing (a baseline, a row not run
    here) or is not a one-to-one row.

    The loss of each stage is its terms less those a deviation says were left out, each
    written as :func:`~relight_lib.papers.onetoone.trained_term` writes it; the backbones'
    weights are reduced to their identity (:func:`~relight_lib.papers.onetoone.weights_identity`;
    the LPIPS of the metrics left out); the data is the folder, its draw and its manifest.
    """
    from relight_lib.papers.onetoone import trained_term, weights_identity

    params = rec.get("params") or {}
    extra = rec.get("extra") or {}
    if "train_pairs" not in params or not (params.get("loss") or params.get("stages")) \
            or not extra.get("train_steps"):
        return None
    stages = params.get("stages") or [{"name": None, "loss": params["loss"]}]
    dropped = _dropped_terms(list(rec.get("deviations") or []))
    plan = []
    for st in stages:
        terms = [dict(t) for t in st["loss"]]
        for stage, name, weight in dropped:
            if stage not in (None, st.get("name")):
                continue
            hit = next((t for t in terms if t["name"] == name
                        and float(t.get("weight", 1.0)) == weight), None)
            if hit is not None:
                terms.remove(hit)
        plan.append({"name": st.get("name"), "fraction": st.get("fraction"),
                     "loss": [trained_term(t) for t in terms]})
    weights = {k: weights_identity(v) for k, v in (rec.get("weights") or {}).items()
               if k not in _EVAL_WEIGHTS}
    return {"model": params.get("model"), "model_kwargs": params.get("model_kwargs"),
            "plan": plan, "train": params.get("train"), "train_size": params.get("train_size"),
            "train_pairs": params.get("train_pairs"), "augment": params.get("augment"),
            "weights": weights,
            "data": {"dataset": rec.get("dataset"), "root": params.get("track1_root")}}


def _seed_data(rec: Mapping[str, Any]) -> str:
    """The identity of one seed's training data (a profile may draw each seed's scenes): its
    draw, scene seed and manifest."""
    data = (rec.get("extra") or {}).get("data") or {}
    return json.dumps([data.get("draw"), data.get("scene_seed"), data.get("root"),
                       rec.get("data_manifest_sha256")], default=str)


def _recipe_id(recipe: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()
                          ).hexdigest()[:12]


#: Older run.json files do not record the steps a run trained: one whose training took less
#: than this many seconds reused a finished training (loading it takes a tenth of a second; a
#: training this short would count as reused, which only understates the saving).
REUSE_MAX_S = 1.0


def _trained_here(rec: Mapping[str, Any]) -> bool:
    """Whether this run trained (rather than reused a finished training): the steps it ran
    where recorded (``extra.steps_trained_here``), else its training time (:data:`REUSE_MAX_S`)."""
    extra = rec.get("extra") or {}
    steps = extra.get("steps_trained_here")
    if steps is not None:
        return steps > 0
    return float((extra.get("seconds") or {}).get("train") or 0.0) >= REUSE_MAX_S


def shared_trainings(profile: str, results_root: str | os.PathLike[str] = "results",
                     paper: str | None = None, all_groups: bool = False) -> pd.DataFrame:
    """The groups of one-to-one rows at ``profile`` that share one training recipe, with the
    training time each group spent and the time one training per seed needs.

    For each group and seed (and the seed's data), the runs that trained
    (:func:`_trained_here`) spent their ``extra.seconds.train``; one training is needed,
    estimated as the mean of those measured trainings (they trained the same recipe: their
    times differ by the machine's noise). The saving is what the group spent beyond that:
    ``(k - 1)`` mean trainings where ``k`` rows trained the seed, nothing where the rows
    already reused one.

    Args:
        profile: The results profile (``quick``, ...).
        results_root: The results folder.
        paper: Only this paper's rows.
        all_groups: Also list the recipes of a single row (saving nothing).

    Returns:
        One row per group, largest saving first: ``paper``, ``recipe`` (12 hex digits of the
        effective recipe), ``rows`` (``table/variant``, sorted), ``seeds``, ``trainings`` (runs
        that trained, over all seeds), ``spent_s``, ``needed_s``, ``saved_s`` (seconds, over
        all seeds) and ``training_keys`` (the distinct ``extra.training_key`` the runs
        recorded: one once the rows share, several when they trained apart).
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for run in _glob_runs(results_root, profile, paper, None):
        try:
            rec = json.loads((run / "run.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        recipe = effective_recipe(rec)
        if recipe is None:
            continue
        g = groups.setdefault((rec["paper"], _recipe_id(recipe)),
                              {"rows": set(), "seeds": {}, "keys": set()})
        g["rows"].add(f"{rec['table']}/{rec['variant']}")
        if (rec.get("extra") or {}).get("training_key"):
            g["keys"].add(rec["extra"]["training_key"])
        # one training per seed and its data: the runs of one seed on other data trained apart
        times = g["seeds"].setdefault((int(rec["seed"]), _seed_data(rec)), [])
        if _trained_here(rec):
            times.append(float(rec["extra"]["seconds"]["train"]))
    out = []
    for (pap, rid), g in groups.items():
        if len(g["rows"]) < 2 and not all_groups:
            continue
        spent = sum(sum(t) for t in g["seeds"].values())
        needed = sum(sum(t) / len(t) for t in g["seeds"].values() if t)
        out.append({"paper": pap, "recipe": rid, "rows": sorted(g["rows"]),
                    "seeds": sorted({seed for seed, _ in g["seeds"]}),
                    "trainings": sum(len(t) for t in g["seeds"].values()),
                    "spent_s": round(spent, 1), "needed_s": round(needed, 1),
                    "saved_s": round(spent - needed, 1), "training_keys": sorted(g["keys"])})
    df = pd.DataFrame(out, columns=COLUMNS)
    return df.sort_values(["saved_s", "paper", "recipe"], ascending=[False, True, True],
                          ignore_index=True)


def training_seconds_saved(profile: str, results_root: str | os.PathLike[str] = "results",
                           paper: str | None = None) -> float:
    """Training seconds the shared rows of ``profile`` no longer spend (the sum of
    :func:`shared_trainings`' ``saved_s``): what the committed results spent training recipes
    more than once per seed."""
    return float(shared_trainings(profile, results_root, paper)["saved_s"].sum())
