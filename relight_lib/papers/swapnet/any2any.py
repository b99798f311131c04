"""One row of an any-to-any table (2DSceneRelighting): train, evaluate, write results.

The any-to-any analogue of :mod:`relight_lib.papers.onetoone`. A row names a swap model
(``swapnet_illum`` = model A, ``swapnet_envmap`` = B, ``swapnet_envmap_scene`` = C, or
``identity``, which returns the input unchanged and is not trained), its loss setting and
whether a PatchGAN discriminator is trained alongside; :func:`run_any_to_any` does the rest for
every seed of the profile, or only plans it (``dry_run=True``).


The row runs in the same three steps as a one-to-one row
(:func:`relight_lib.papers.onetoone.run_one_to_one`): a resolved plan
(:func:`relight_lib.papers.swapnet.plan.resolve_plan`, also what ``dry_run=True`` returns), then
per seed train (:func:`relight_lib.papers.swapnet.loop.train_seed`), evaluate
(:func:`relight_lib.papers.swapnet.evaluate.evaluate_seed`) and record (:func:`record_seed`).
The concerns live in the package's modules:

* :mod:`~relight_lib.papers.swapnet.objective`: the swap models, loss settings A/B/C and their
  losses, model A's temperature head, the PatchGAN modes, the predicter's chance levels;
* :mod:`~relight_lib.papers.swapnet.pairs`: training and evaluation pair sets;
* :mod:`~relight_lib.papers.swapnet.budget`: the report's budgets, the read checkpoint, the
  schedule, validation's interval and pairs;
* :mod:`~relight_lib.papers.swapnet.deviations`: the row's deviation sentences and plan notes;
* :mod:`~relight_lib.papers.swapnet.plan`: the plan object;
* :mod:`~relight_lib.papers.swapnet.loop`: the training key and the training loop;
* :mod:`~relight_lib.papers.swapnet.evaluate`: scoring, validation;
  :mod:`~relight_lib.papers.swapnet.figures`: the figures.

Data: at a profile that draws its SynVIDIT scenes per seed (quick, gpu) each seed reads its own
any-to-any set (:func:`relight_lib.papers.profiles.for_seed`), and the row is resolved and run
seed by seed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from relight_lib.library import record, utils
from relight_lib.library.convergence import from_history
from relight_lib.papers import profiles
from relight_lib.papers.swapnet.evaluate import (SUBSET_METRICS, EvaluatedSeed,
                                                 evaluate_seed, scored_checkpoint)
from relight_lib.papers.swapnet.figures import write_figures
from relight_lib.papers.swapnet.loop import TrainedSeed, train_seed
from relight_lib.papers.swapnet.objective import chance_losses
from relight_lib.papers.swapnet.plan import AnyToAnyPlan, resolve_plan

__all__ = ["record_seed", "run_any_to_any"]


def run_any_to_any(*, paper: str, table: str, variant: str, profile: str,
                   results_root: str = "results", cache_key: str = "", model: str,
                   model_kwargs: Mapping[str, Any] | None = None,
                   loss_setting: str | None = None, discriminator: bool | str = False,
                   data_root: str | None = None, seeds: Sequence[int] | None = None,
                   steps: int | None = None, lr: float = 1e-3, envmap_recipe: str = "code",
                   lpips_form: str = "code", train_pairs: str | None = None,
                   n_eval_pairs: int | None = None, eval_subsets: str = "report",
                   read_at: float | None = None, amp: bool | None = None,
                   extra_tables: bool = True, label: str | None = None,
                   deviations: Sequence[str] = (), progress: bool = False,
                   budget_scale: float = 1, dry_run: bool = False,
                   temperature_head: str | None = None
                   ) -> pd.DataFrame | dict[str, Any]:
    """Train ``model`` for each seed of the profile, evaluate it, write the results.

    Args:
        paper, table, variant, profile, results_root, cache_key: Where the row goes.
        model: ``swapnet_illum`` | ``swapnet_envmap`` | ``swapnet_envmap_scene`` (registered
            names) or ``identity`` (no network: the input is the prediction).
        model_kwargs: Constructor arguments of the model.
        loss_setting: ``"A"``, ``"B"`` or ``"C"`` (see the module docstring); must match the
            model's latent (A: illum, B: envmap, C: envmap_scene).
        discriminator: False (none), ``"pix2pix"`` (or True: the LSGAN generator term is added)
            or ``"code"`` (a PatchGAN trained alongside, no adversarial term), see
            :data:`DISCRIMINATORS`.
        data_root: Real VIDIT folder (None: the profile's SynVIDIT any-to-any set).
        seeds: Override the profile's seeds.
        steps: Override the budget's steps (at the paper profile, with the report's batch).
        lr: Adam learning rate (the code uses PyTorch's default 1e-3, betas (0.9, 0.999)).
        envmap_recipe: ``"code"`` (default) or ``"report"`` ground-truth envmaps.
        lpips_form: Model C's LPIPS term, ``"code"`` (default) or ``"mean"``
            (:data:`~relight_lib.papers.swapnet.objective.LPIPS_FORMS`).
        train_pairs: ``"all"`` (model A's code: every pair) or ``"protocol"`` (different scene
            and direction, models B and C); default by loss setting.
        n_eval_pairs: Pairs per evaluation set; None: the report's 10,000 at the paper profile,
            100 otherwise; capped by the profile's ``eval_limit``.
        eval_subsets: Definitions of the ``subsets`` table's sets, ``"report"`` (default) or
            ``"protocol"`` (:data:`~relight_lib.papers.swapnet.pairs.EVAL_SUBSETS`).
        read_at: Fraction of the budget whose checkpoint is evaluated; None: the report's
            at the paper profile (model B 8/20, model C 6/20, model A the last), the last
            below it (:func:`~relight_lib.papers.swapnet.evaluate.scored_checkpoint`); 1: the
            last.
        amp: bf16 autocast, where it runs natively (CUDA, a CPU with AVX-512 BF16 or AMX);
            None: the profile's, except fp32 at the paper profile (as the report).
        extra_tables: Also write the ``subsets`` and ``predicter`` tables.
        label: Human label of the row.
        deviations: Known deviations for this row (to run.json and the page), before the ones
            the row itself adds.
        progress: Progress bars (off in papermill runs).
        budget_scale: Train for this many times the budget's steps (a budget check row
            ``<variant>__x2`` of ``notebooks/budget_checks.yaml``; a read checkpoint stays at
            its fraction of the longer budget).
        dry_run: Resolve everything (profile, data, model, losses, budget, evaluation sets) and
            return the plan dict without training or writing anything.
        temperature_head: Model A's predicter temperature output, ``"kelvin"`` (the code) or
            ``"normalised"``
            (:data:`~relight_lib.papers.swapnet.objective.TEMPERATURE_HEADS`); None: kelvin at
            the report's budget, normalised below it (a listed deviation).

    Returns:
        Per-seed summary of the main table: one row per (seed, metric) with mean, std, count;
        with ``dry_run``, the plan: ``row, model, model_kwargs, parameters, image_size,
        train_size, batch_size, steps, epochs, n_train, precision, optimizer, lr_schedule, loss,
        eval, postprocess, snapshots, deviations, notes``.

    Raises:
        ValueError: a setting that cannot be planned (the message says which).
    """
    call = dict(locals())  # the arguments, to run seed by seed
    # each seed its own scenes: the row is resolved (data, pairs, evaluation sets) and run
    # once per seed; rows of one seed share the seed's data, so claims stay paired
    prof = profiles.resolve(profile, data_root=data_root, seeds=seeds)
    if not dry_run and prof.scene_seed == "per_seed" and len(prof.seeds) > 1:
        return pd.concat([run_any_to_any(**{**call, "seeds": [s]}) for s in prof.seeds],
                         ignore_index=True)
    read_at, read_deviation = scored_checkpoint(prof, loss_setting, read_at)
    if read_deviation:
        deviations = [*deviations, read_deviation]
    plan = resolve_plan(profile=profile, table=table, variant=variant, model=model,
                        model_kwargs=model_kwargs, loss_setting=loss_setting,
                        discriminator=discriminator, data_root=data_root, seeds=seeds,
                        steps=steps, lr=lr, envmap_recipe=envmap_recipe, lpips_form=lpips_form,
                        train_pairs=train_pairs, n_eval_pairs=n_eval_pairs,
                        eval_subsets=eval_subsets, read_at=read_at, amp=amp,
                        extra_tables=extra_tables, label=label, deviations=deviations,
                        budget_scale=budget_scale, plan_only=dry_run,
                        temperature_head=temperature_head)
    if dry_run:
        return plan.to_dict()
    device = utils.pick_device(plan.cfg.device)
    val_set = plan.val_set()
    params = plan.run_params(val_set)
    chance = None
    if plan.loss_setting == "A" and plan.extra_tables:
        chance = chance_losses([c for _, c in plan.train_index.images()],
                               plan.eval_sets[table].pairs)
    summaries = []
    for seed in plan.cfg.seeds:
        done = record.kept_seed(
            results_root, profile=plan.cfg.name, paper=paper, seed=seed, cache_key=cache_key,
            runs=[(plan.table, variant), *companion_runs(plan, variant, chance is not None)])
        if done is not None:
            summaries.append(done)
            continue
        trained = train_seed(plan, seed, device, val_set, progress)
        evaluated = evaluate_seed(plan, trained, device, progress)
        summaries.append(record_seed(plan, trained, evaluated, paper=paper, variant=variant,
                                     results_root=results_root, cache_key=cache_key,
                                     params=params, chance=chance, device=device))
    return pd.concat(summaries, ignore_index=True)


def record_seed(plan: AnyToAnyPlan, trained: TrainedSeed, evaluated: EvaluatedSeed, *,
                paper: str, variant: str, results_root: str, cache_key: str,
                params: Mapping[str, Any], chance: Mapping[str, Any] | None,
                device: torch.device) -> pd.DataFrame:
    """Write one seed of the row: the main table's run (run.json with the plateau test of the
    scored weights, history.csv, figures), the ``subsets`` and ``predicter`` tables when
    ``extra_tables``; returns the seed's summary (one row per metric: mean, std, count)."""
    cfg, b, table, seed = plan.cfg, plan.budget, plan.table, trained.seed
    label = plan.label
    history, extra, weights = trained.history, trained.extra, trained.weights
    if evaluated.eval_s_per_pair is not None:
        extra.setdefault("timing", {})["eval_s_per_pair"] = evaluated.eval_s_per_pair
    if evaluated.lpips_weights:
        weights["lpips_metric"] = evaluated.lpips_weights
    extra["data"] = {**{k: v for k, v in profiles.data_key(cfg, cfg.any2any_root).items()
                        if k in ("root", "draw", "scene_seed")},
                     "eval_split": cfg.eval_split, "val_split": cfg.val_split}
    common = dict(profile=cfg.name, seed=seed,
                  dataset="SynVIDIT" if cfg.render_preset else "VIDIT", split=cfg.eval_split,
                  params=params, weights=weights, deviations=list(plan.deviations),
                  peak_memory_mb=utils.peak_memory_mb(), cache_key=cache_key,
                  data_manifest_sha256=profiles.data_manifest_sha256(cfg),
                  precision=record.precision_entry(plan.amp_requested, plan.amp)
                  if history else None)
    rows, notes = evaluated.sets[table]
    out = record.write_run(results_root, paper=paper, table=table, variant=variant,
                           per_image=rows, notes=notes, label=label,
                           wall_time_s=time.perf_counter() - trained.t0,
                           extra={**extra, "train_steps": len(history),
                                  # the scored weights (model C: its read checkpoint)
                                  # on PSNR, and on L_c for model A
                                  "convergence": from_history(
                                      history, read_step=b.read_step,
                                      metrics=("val_psnr", "val_lc")
                                      if plan.loss_setting == "A" else None).to_dict()
                                  if history else None}, **common)
    if plan.extra_tables:
        for name in ("full", "same_colour", "same_direction"):
            r, n = evaluated.sets[f"subsets/{name}"]
            r = r[r["metric"].isin(SUBSET_METRICS)] if len(r) else r
            record.write_run(results_root, paper=paper, table="subsets",
                             variant=f"{variant}_{name}", per_image=r,
                             notes={k: v for k, v in n.items() if k in SUBSET_METRICS},
                             label=f"{label} ({name.replace('_', ' ')})", **common)
        if plan.loss_setting == "A" and not plan.identity:
            _write_predicter(results_root, paper, evaluated.sets[table], trained.reason, chance,
                             plan.eval_sets[table], label, common)
    if history:
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)
    if trained.net is not None and trained.reason is None:
        write_figures(out, history, trained.net, plan.eval_sets[table], trained.objective,
                      device, rows, examples=seed == cfg.seeds[0])
    return record.seed_summary(rows, seed)


def companion_runs(plan: AnyToAnyPlan, variant: str, with_chance: bool) -> list[tuple[str, str]]:
    """``(table, variant)`` of the runs :func:`record_seed` writes beside the main one: the
    three ``subsets`` runs when ``extra_tables``, and model A's ``predicter`` runs."""
    if not plan.extra_tables:
        return []
    out = [("subsets", f"{variant}_{name}")
           for name in ("full", "same_colour", "same_direction")]
    if plan.loss_setting == "A" and not plan.identity:
        for which in ("temperature", "direction"):
            out.append(("predicter", which))
            if with_chance:
                out.append(("predicter", f"{which}_chance"))
    return out


def _write_predicter(results_root, paper, evaluated, reason, chance, eval_set, label, common):
    """The ``predicter`` table: model A's per-pair L_c and L_d (``temperature``, ``direction``)
    and the chance levels on the same pairs (``temperature_chance``, ``direction_chance``), all
    as the metric ``light_loss``."""
    r, n = evaluated
    for which, metric in (("temperature", "temperature_loss"), ("direction", "direction_loss")):
        sel = r[r["metric"] == metric].assign(metric="light_loss") if len(r) else r
        record.write_run(results_root, paper=paper, table="predicter", variant=which,
                         per_image=sel,
                         notes={"light_loss": n[metric]} if metric in n else
                         ({"light_loss": reason} if reason else None),
                         label=f"{which} ({label})", **common)
        if chance is not None:
            keys = [p.key for p in eval_set.pairs]
            per = pd.DataFrame({"image": keys, "metric": "light_loss",
                                "value": chance[which].astype(float)})
            record.write_run(results_root, paper=paper, table="predicter",
                             variant=f"{which}_chance", per_image=per,
                             notes={"light_loss": "chance level: a predicter that always "
                                                  "answers the training prior (mean "
                                                  "temperature, circular-mean direction)"},
                             label=f"{which}: chance level (training prior)", **common)
