"""Budget, learning rate and batch size changed by hand (``relight try ROW --set lr=...``).

A one-to-one row's recipe (the keyword arguments of
:func:`relight_lib.papers.onetoone.run_one_to_one` that a paper's ``*_row`` function returns)
gives its learning rate and batch size in up to three places: ``train`` (the paper's recipe),
``short_budgets`` (the paper's own recipe at the smoke and quick profiles, which replaces
``train``'s schedule there) and ``paper_budget`` (the paper profile's batch). A change made
in one place only would be silently undone by another at some profile, so
:func:`with_training_overrides` makes it in every place: the row then trains with the changed
value at every profile, and the settings recorded in ``run.json`` and the profile's deviation
sentence say so.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: TrainConfig's own learning rate, for a recipe whose ``train`` gives none.
_DEFAULT_LR = 1e-4


def _positive(name: str, value: Any, kind: type) -> Any:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
          and (kind is float or float(value).is_integer()))
    if not ok:
        what = "a positive whole number" if kind is int else "a positive number"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return kind(value)


def _scale_lr(settings: dict[str, Any], lr: float) -> None:
    """Set ``lr`` in one settings dict; a ``final_lr`` scales with it, so the curve keeps its
    shape (a fixed end rate could otherwise lie above the new start)."""
    old = float(settings.get("lr", _DEFAULT_LR))
    settings["lr"] = lr
    if settings.get("final_lr") is not None:
        # 12 significant digits: no float noise (1.4999999999999999e-05) in the records
        settings["final_lr"] = float(f"{float(settings['final_lr']) * lr / old:.12g}")


def with_training_overrides(row: Mapping[str, Any], *, steps: int | None = None,
                            lr: float | None = None, batch_size: int | None = None
                            ) -> dict[str, Any]:
    """A copy of the recipe ``row`` with its budget, learning rate and batch size changed.

    Args:
        row: Keyword arguments of ``run_one_to_one`` (``train``, ``short_budgets``,
            ``paper_budget``, ...); not modified.
        steps: Optimiser steps at every profile (``run_one_to_one``'s ``steps``: it replaces
            the profile's budget and the paper's epochs). None: unchanged.
        lr: Initial learning rate, in ``train`` and in every short budget; each ``final_lr``
            is scaled by the same factor (the schedule keeps its shape). None: unchanged.
        batch_size: Batch size in ``train``, in every short budget and in ``paper_budget``
            (an epoch budget then means more or fewer steps). None: unchanged.

    >>> row = {"train": {"lr": 2e-3, "final_lr": 5e-5}, "paper_budget": {"epochs": 10,
    ...        "batch_size": 2}, "short_budgets": {"quick": {"steps": 800, "lr": 3e-4,
    ...        "final_lr": 3e-6, "batch_size": 8}}}
    >>> new = with_training_overrides(row, lr=6e-4, batch_size=4, steps=100)
    >>> new["train"], new["paper_budget"], new["steps"]
    ({'lr': 0.0006, 'final_lr': 1.5e-05, 'batch_size': 4}, {'epochs': 10, 'batch_size': 4}, 100)
    >>> new["short_budgets"]["quick"]["lr"], new["short_budgets"]["quick"]["final_lr"]
    (0.0006, 6e-06)
    >>> with_training_overrides(row) == row
    True

    Raises:
        ValueError: a value that is not a positive number (steps and batch size: whole).
    """
    out = {k: copy.deepcopy(v) for k, v in row.items()}
    if steps is not None:
        out["steps"] = _positive("steps", steps, int)
    if lr is None and batch_size is None:
        return out
    lr = _positive("lr", lr, float) if lr is not None else None
    batch_size = _positive("batch_size", batch_size, int) if batch_size is not None else None
    if out.get("train") is None:
        out["train"] = {}
    places = [out["train"], *(out.get("short_budgets") or {}).values()]
    for settings in places:
        if lr is not None:
            _scale_lr(settings, lr)
        if batch_size is not None:
            settings["batch_size"] = batch_size
    if batch_size is not None and out.get("paper_budget"):
        out["paper_budget"]["batch_size"] = batch_size
    return out
