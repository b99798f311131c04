"""An any-to-any row (2DSceneRelighting) resolved before anything trains: the plan object that
``relight reproduce --dry-run`` prints and the run executes, seed by seed.

:func:`resolve_plan` turns a row's arguments into an :class:`AnyToAnyPlan` (profile, data and
pairs, model and its parameter counts, loss setting, budget, evaluation and validation sets,
deviations, notes); :meth:`AnyToAnyPlan.to_dict` is the dry run's plan;
:mod:`relight_lib.papers.swapnet.loop`, :mod:`~relight_lib.papers.swapnet.evaluate` and
:func:`relight_lib.papers.swapnet.any2any.run_any_to_any` train, score and record it.

Data: at a profile that draws its SynVIDIT scenes per seed (quick, gpu) each seed reads its own
any-to-any set (:func:`relight_lib.papers.profiles.for_seed`), and the row is resolved and run
seed by seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from relight_lib.library import metrics, utils
from relight_lib.papers import profiles
from relight_lib.papers.swapnet.budget import (DEFAULT_EVAL_PAIRS, PAPER_EVAL_PAIRS, PAPER_SIZE,
                                               VAL_PAIRS, Budget, budget_for, finish_budget,
                                               train_config, validation_interval,
                                               validation_subset)
from relight_lib.papers.swapnet.deviations import row_deviations, row_notes
from relight_lib.papers.swapnet.objective import (LIGHT_KIND, LOSS_SETTINGS, LPIPS_FORMS,
                                                  build_swap_model, describe_loss,
                                                  discriminator_mode, resolve_temperature_head)
from relight_lib.papers.swapnet.pairs import (EVAL_SUBSETS, eval_rules, evaluation_set,
                                              planned_index, scene_index, training_set)

__all__ = ["AnyToAnyPlan", "resolve_plan"]


@dataclasses.dataclass
class AnyToAnyPlan:
    """Everything a row resolves to before training (shared by the run and the plan)."""

    cfg: Any
    identity: bool
    size: int
    budget: Budget | None
    discriminator: str
    amp: bool
    n_eval: int
    eval_sets: dict[str, Any]
    eval_defs: dict[str, str]
    eval_index: Any
    planned: bool
    train_index: Any
    train_rule: Any
    train_sets: dict[int, Any]
    parameters: dict[str, int]
    deviations: list[str]
    notes: list[str]
    lpips_reason: str | None
    temperature_head: str | None = None  # model A's predicter (None: no predicter)
    amp_requested: bool = False  # the profile's or row's amp, before the native-bf16 check
    #: pairs of the validation split (learning curves, plateau test); None: the tables' split
    val_pairs: Any = None
    #: per seed, the data the row reads (profiles.seed_data_plan)
    data_plan: list = dataclasses.field(default_factory=list)
    # the row as the notebook gives it (what the run, the key and run.json read)
    table: str = ""
    label: str = ""
    model: str = "identity"
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    loss_setting: str | None = None
    lr: float = 1e-3
    envmap_recipe: str = "code"
    lpips_form: str = "code"
    #: the training pairs' rule (default by loss setting); None for the identity
    train_pairs: str | None = None
    eval_subsets: str = "report"
    extra_tables: bool = True

    @property
    def n_train(self) -> int:
        """Training pairs of a seed (every seed draws as many); 0 for the identity."""
        return len(next(iter(self.train_sets.values()))) if self.train_sets else 0

    @property
    def val_every(self) -> int:
        """Steps between validation points (:func:`~relight_lib.papers.swapnet.budget.
        validation_interval`); 0: no validation."""
        return validation_interval(self.cfg, self.budget)

    def val_set(self):
        """The pairs validation scores (None without validation): a fixed share of the
        validation split's protocol pairs (of the main evaluation set where the two splits
        are one, as at the paper profile)."""
        if not self.val_every:
            return None
        return validation_subset(self.eval_sets[self.table] if self.val_pairs is None
                                 else self.val_pairs, VAL_PAIRS)

    def run_params(self, val_set) -> dict[str, Any]:
        """The row's ``params`` in run.json."""
        cfg, b = self.cfg, self.budget
        return {**cfg.to_dict(), "size": self.size, "model": self.model,
                "model_kwargs": dict(self.model_kwargs), "loss_setting": self.loss_setting,
                "discriminator": self.discriminator, "lr": self.lr, "betas": [0.9, 0.999],
                "lr_schedule": train_config(b, self.lr).schedule if b is not None else None,
                "envmap_recipe": self.envmap_recipe, "lpips_form": self.lpips_form,
                "train_pairs": self.train_pairs, "eval_subsets": self.eval_subsets,
                "amp": self.amp, "temperature_head": self.temperature_head,
                "budget": dataclasses.asdict(b) if b is not None else None,
                "n_eval_pairs": {k: len(v) for k, v in self.eval_sets.items()},
                "eval_sets": self.eval_defs, "val_every": self.val_every,
                "n_val_pairs": len(val_set) if val_set is not None else 0}

    def to_dict(self) -> dict[str, Any]:
        """The plan as ``relight reproduce --dry-run`` prints it (the keys of
        :func:`relight_lib.papers.onetoone.plan_dict`)."""
        from relight_lib.library.train import lr_schedule_points

        row = self
        b = row.budget
        label, model, model_kwargs = row.label, row.model, row.model_kwargs
        setting, lr, table = row.loss_setting, row.lr, row.table
        envmap_recipe, lpips_form = row.envmap_recipe, row.lpips_form
        if b is None:
            steps = batch = n_train = 0
            schedule: list[list[float]] = []
            optimizer = "none (not trained)"
            loss: list[str] = []
        else:
            steps, batch, n_train = b.steps, b.batch_size, row.n_train
            tc = train_config(b, lr)
            schedule = [[int(s), float(v)] for s, v in lr_schedule_points(tc, steps)]
            optimizer = f"Adam(lr={lr}, betas=(0.9, 0.999))"
            if setting == "A":
                optimizer += " over the generator and the predicter"
            loss = describe_loss(setting, envmap_recipe, lpips_form,
                                 row.temperature_head or "kelvin")
            if row.discriminator == "pix2pix":
                loss.append("1.0 x lsgan_generator (MSE(D(relit), 1), pix2pix reading)")
            if row.discriminator != "none":
                optimizer += f"; PatchGAN: Adam(lr={lr}, betas=(0.9, 0.999))"
                loss.append("discriminator: 1.0 x lsgan_discriminator (MSE(D(G), 1) + "
                            "MSE(D(relit), 0))" + ("; no adversarial term in the generator loss "
                                                   "(the code's WithGAN)"
                                                   if row.discriminator == "code" else ""))
        return {
            "row": label,
            "model": model,
            "model_kwargs": dict(model_kwargs or {}),
            "parameters": int(row.parameters.get("model", 0)),
            "image_size": int(row.size),
            "train_size": int(row.size),
            "batch_size": int(batch),
            "steps": int(steps),
            "epochs": None if b is None or b.epochs is None else float(b.epochs),
            "n_train": int(n_train),
            "precision": "bf16" if row.amp else "fp32",
            "optimizer": optimizer,
            "lr_schedule": schedule,
            "loss": loss,
            "eval": [{"name": name, "split": row.cfg.eval_split, "n": len(ds),
                      "definition": row.eval_defs[name]} for name, ds in row.eval_sets.items()],
            "validation": None if b is None else {
                "split": row.cfg.val_split if row.val_pairs is not None else row.cfg.eval_split,
                "n": min(VAL_PAIRS, len(row.val_pairs if row.val_pairs is not None
                                        else row.eval_sets[table]))},
            "data": list(row.data_plan),
            "postprocess": None,
            "snapshots": [int(b.read_step)] if b is not None and b.read_step is not None else None,
            "deviations": list(row.deviations),
            "notes": list(row.notes) + [f"{k} parameters: {v:,}" for k, v in row.parameters.items()
                                        if k != "model"],
        }


def _count_parameters(model: str, model_kwargs: Mapping[str, Any], setting: str | None,
                      disc: str, size: int) -> tuple[dict[str, int], str | None]:
    """Parameter counts (built on the meta device: nothing is allocated) and the light kind."""
    from relight_lib.library.models import count_parameters
    from relight_lib.library.models.patchgan import PatchGAN

    with torch.device("meta"):
        net = build_swap_model(model, **dict(model_kwargs))
        counts = {"model": count_parameters(net)}
        if setting == "A" and hasattr(net, "make_predicter"):
            counts["predicter"] = count_parameters(net.make_predicter(size))
        if disc != "none":
            counts["discriminator"] = count_parameters(PatchGAN())
    return counts, getattr(net, "light_kind", None)


def resolve_plan(*, profile: str, table: str, variant: str, model: str,
                 model_kwargs: Mapping[str, Any] | None = None,
                 loss_setting: str | None = None, discriminator: bool | str = False,
                 data_root: str | None = None, seeds: Sequence[int] | None = None,
                 steps: int | None = None, lr: float = 1e-3, envmap_recipe: str = "code",
                 lpips_form: str = "code", train_pairs: str | None = None,
                 n_eval_pairs: int | None = None, eval_subsets: str = "report",
                 read_at: float | None = None, amp: bool | None = None,
                 extra_tables: bool = True, label: str | None = None,
                 deviations: Sequence[str] = (), budget_scale: float = 1,
                 plan_only: bool = False, temperature_head: str | None = None
                 ) -> AnyToAnyPlan:
    """Resolve a row (the arguments of :func:`relight_lib.papers.swapnet.any2any.
    run_any_to_any`): profile, data, pairs, model, losses, budget, evaluation sets, deviations.

    ``plan_only``: for a plan (``--dry-run``): a SynVIDIT preset not rendered yet is planned
    from its parameters, only the first seed's training pairs are drawn, and LPIPS is only
    looked for on disk. At a profile that draws its scenes per seed, the first seed's data
    (:func:`~relight_lib.papers.swapnet.any2any.run_any_to_any` resolves seed by seed).

    Raises:
        ValueError: a setting that cannot be planned (the message says which).
    """
    if budget_scale != 1:  # a budget check (spec/evidence.md section 5)
        base = steps or profiles.resolve(profile, data_root=data_root).train_steps
        if base is None or not budget_scale > 0:
            raise ValueError(f"budget_scale={budget_scale} needs a positive scale and a step "
                             "budget (give steps= at the paper profile)")
        steps = max(1, round(int(base) * budget_scale))
        deviations = [*deviations, f"Budget check: trained for {budget_scale:g} x the row's "
                      f"budget ({int(base):,} -> {steps:,} steps, its schedule stretched alike) "
                      "to show whether that budget suffices; not a row of the paper's table."]
    label = label or variant
    from relight_lib.library.data import vidit
    from relight_lib.papers.swapnet.envmap import RECIPES

    cfg = profiles.resolve(profile, data_root=data_root, seeds=seeds, train_steps=steps)
    data_plan = profiles.seed_data_plan(cfg, "any2any")
    if cfg.scene_seed == "per_seed":  # one seed's scenes (run_any_to_any runs seed by seed)
        cfg = profiles.for_seed(cfg, cfg.seeds[0])
    identity = model == "identity"
    disc = discriminator_mode(discriminator)
    if envmap_recipe not in RECIPES:
        raise ValueError(f"envmap_recipe must be one of {RECIPES}, got {envmap_recipe!r}")
    if lpips_form not in LPIPS_FORMS:
        raise ValueError(f"lpips_form must be one of {sorted(LPIPS_FORMS)}, got {lpips_form!r}")
    if eval_subsets not in EVAL_SUBSETS:
        raise ValueError(f"eval_subsets must be one of {sorted(EVAL_SUBSETS)}, "
                         f"got {eval_subsets!r}")
    if train_pairs not in (None, "all", "protocol"):
        raise ValueError(f"train_pairs must be 'all', 'protocol' or None, got {train_pairs!r}")
    paper = cfg.name == "paper" or cfg.train_steps is None
    size = PAPER_SIZE if paper else int(cfg.size)
    devs: list[str] = list(deviations)
    notes: list[str] = []
    parameters: dict[str, int] = {}
    if identity:
        if disc != "none":
            raise ValueError("the identity row has no generator to train against a "
                             "discriminator")
    else:
        if loss_setting not in LOSS_SETTINGS:
            raise ValueError(f"loss_setting must be one of {sorted(LOSS_SETTINGS)}, "
                             f"got {loss_setting!r}")
        parameters, kind = _count_parameters(model, dict(model_kwargs or {}), loss_setting,
                                             disc, size)
        if kind != LIGHT_KIND[loss_setting]:
            raise ValueError(f"loss setting {loss_setting} needs a {LIGHT_KIND[loss_setting]} "
                             f"light latent; {model} has {kind}")
    amp_on = bool(cfg.amp) if amp is None else bool(amp)
    if amp is None and paper:
        amp_on = False  # the report trained in fp32
    # bf16 only where it runs natively (CUDA, or a CPU with AVX-512 BF16 / AMX)
    amp_requested = amp_on
    amp_on = amp_on and utils.bf16_native(utils.pick_device(cfg.device))

    # evaluation sets (the same pairs for every seed and row)
    if n_eval_pairs is None:
        n_eval = PAPER_EVAL_PAIRS if paper else DEFAULT_EVAL_PAIRS
    else:
        n_eval = int(n_eval_pairs)
    if n_eval < 1:
        raise ValueError(f"n_eval_pairs must be >= 1, got {n_eval}")
    if cfg.eval_limit is not None:
        n_eval = min(n_eval, cfg.eval_limit)
    root = cfg.any2any_root
    eval_index = planned_index(cfg, cfg.eval_split) if plan_only else None
    planned = eval_index is not None
    if eval_index is None:
        eval_index = scene_index(root, cfg.eval_split)
    eval_sets = {table: evaluation_set(root, cfg.eval_split, eval_index, size,
                                       vidit.PROTOCOL_2DSCENE, n_eval, table, devs, planned)}
    eval_defs = {table: "Table 1's protocol: different scene and different light direction "
                        "(evaluate.py: DifferentScene + DifferentLightDirection), drawn once "
                        "with seed 0"}
    if extra_tables:
        for name, (rule, definition) in eval_rules(eval_subsets).items():
            eval_sets[f"subsets/{name}"] = evaluation_set(root, cfg.eval_split, eval_index,
                                                          size, rule, n_eval, name, devs, planned)
            eval_defs[f"subsets/{name}"] = definition
    # the learning curves read the validation split (protocol pairs, drawn with seed 0); the
    # tables the evaluation split; the profile's eval_limit caps them as it caps the evaluation
    # sets (and the one-to-one rows' validation): at smoke, 200 pairs scored at every step cost
    # about 20 s a point, which made the trained any-to-any rows the smoke book's slowest
    val_pairs = None
    if cfg.val_split != cfg.eval_split and not identity:
        val_index = (planned_index(cfg, cfg.val_split) if planned
                     else scene_index(root, cfg.val_split))
        n_val = VAL_PAIRS if cfg.eval_limit is None else min(VAL_PAIRS, cfg.eval_limit)
        val_pairs = evaluation_set(root, cfg.val_split, val_index, size,
                                   vidit.PROTOCOL_2DSCENE, n_val, cfg.val_split, [], planned)

    # training pairs and budget
    budget = None
    train_index = train_rule = None
    train_sets: dict[int, Any] = {}
    if not identity:
        default_pairs = "all" if loss_setting == "A" else "protocol"
        train_pairs = train_pairs or default_pairs
        train_rule = vidit.any_pair if train_pairs == "all" else vidit.PROTOCOL_2DSCENE
        budget = budget_for(cfg, loss_setting, steps)
        train_index = planned_index(cfg, "train") if planned else scene_index(root, "train")
        train_devs: list[str] = []
        for seed in (cfg.seeds[:1] if plan_only else cfg.seeds):
            train_sets[seed] = training_set(root, train_index, train_rule, size,
                                            budget.n_wanted, seed, train_devs, planned)
        devs += list(dict.fromkeys(train_devs))
        budget = finish_budget(budget, loss_setting, len(next(iter(train_sets.values()))),
                               read_at)
        if train_pairs != default_pairs:
            devs.append(f"Training pairs: {train_pairs!r} instead of the code's "
                        f"{default_pairs!r} for loss setting {loss_setting}.")

    # what is missing on this machine (a plan only looks on disk: it never downloads)
    lpips_reason = _lpips_missing(look_only=plan_only)
    row = AnyToAnyPlan(cfg, identity, size, budget, disc, amp_on, n_eval, eval_sets, eval_defs,
                       eval_index, planned, train_index, train_rule, train_sets, parameters,
                       devs, notes, lpips_reason, amp_requested=amp_requested,
                       val_pairs=val_pairs, data_plan=data_plan, table=table,
                       label=label or "", model=model, model_kwargs=dict(model_kwargs or {}),
                       loss_setting=loss_setting, lr=lr, envmap_recipe=envmap_recipe,
                       lpips_form=lpips_form, train_pairs=None if identity else train_pairs,
                       eval_subsets=eval_subsets, extra_tables=extra_tables)
    if loss_setting == "A" and budget is not None:
        row.temperature_head = resolve_temperature_head(temperature_head, budget.paper)
    elif temperature_head is not None:
        resolve_temperature_head(temperature_head, False)  # still reject a typo
    row.deviations += row_deviations(row, model=model, setting=loss_setting,
                                     envmap_recipe=envmap_recipe, lpips_form=lpips_form,
                                     eval_subsets=eval_subsets, extra_tables=extra_tables,
                                     train_pairs=train_pairs, read_at=read_at)
    row.notes += row_notes(row, setting=loss_setting, lr=lr, table=table)
    return row


def _lpips_missing(look_only: bool) -> str | None:
    """Why LPIPS (metric and model C's loss) is unavailable here, on one line; None if it is
    available. ``look_only``: search the disk only (no download attempt, nothing loaded)."""
    from relight_lib.library import weights

    if look_only:
        if weights.find_weights("alexnet") is not None:
            return None
        dirs = ", ".join(str(d) for d in weights.search_dirs())
        files = " or ".join(weights.REGISTRY["alexnet"].files)
        return (f"no {files} in {dirs} (an online machine would try torchvision's download "
                "at run time)")
    lp = metrics.lpips_metric(device="cpu")
    return None if lp.available else " ".join(lp.reason.split())
