"""Paper training recipes: what a table row's switches mean in models, losses and settings.

Each paper's notebooks pass their ``parameters`` cell to the recipe function, which returns the
keyword arguments of :func:`relight_lib.papers.onetoone.run_one_to_one` (model, loss terms, training
settings, augmentation, deviations). Keeping the mapping here means the notebooks of one paper
cannot drift apart, and it is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relight_lib.papers.ltnet.dehaze import ENSEMBLE_EPOCHS, PAPER_EPOCHS, POSTPROCESSES
from relight_lib.papers.profiles import COSINE, SMOKE_BUDGET

#: LTNet §4.1 (papers.md 3.6): Adam (0.9, 0.999), lr 1e-4, exponential decay. The decay rate is
#: not given; suite default (papers.md §10): reach 1e-6 at the end of the budget.
LTNET_TRAIN = {"lr": 1e-4, "betas": (0.9, 0.999), "schedule": "exponential", "final_lr": 1e-6}

#: LTNet's recipe at the short profiles (:func:`relight_lib.papers.profiles.short_budget`),
#: the same for every row. Measured on our 2-core CPU (64 px, batch 8, Table 2's I+D row, one
#: seed, undehazed PSNR on the 45 quick validation scenes; identity 13.3 dB, colour transform
#: 14.9):
#:
#: - With the paper's flips and rotations LTNet levels off low: 15.84 dB after 300 steps
#:   (15.82 over 3 seeds), 16.17 after 600, at a peak of 1e-3 or of 3e-4 alike, with all four
#:   inputs (15.73) or with L_C alone (15.70). Without them: 19.03 dB after 300 steps. The
#:   light of a VIDIT pair comes from a fixed side of the scene, so a flipped or rotated pair
#:   asks for shadows on another side of the image: the network first has to learn which way up
#:   the scene is, which a few hundred steps do not teach it. The quick profile therefore
#:   trains without augmentation (a listed deviation; no table of the paper varies it); the gpu
#:   and paper profiles keep the paper's.
#: - Adam at 1e-3 with a cosine: 20.20 dB after 300 steps and 20.26 after 600 with an L1 loss
#:   (no augmentation, an earlier 14-scene validation set). With the paper's loss (L_C + L_r)
#:   and all four inputs, 300 steps (3 seeds) ended at 19.09 dB dehazed, and one seed still
#:   gained 0.12 dB in its last fifth (the others 0.05 and 0.07); at 500 steps seed 0 still
#:   gained 0.11 (19.95 dB undehazed, seed 1 +0.05 at 20.16): 800 steps, as MSR-Net's rows,
#:   whose last fifths gained at most 0.07 dB there.
LTNET_SHORT_BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": SMOKE_BUDGET,
    "quick": {"steps": 800, "lr": 1e-3, "final_lr": 1e-5, "augment": None, **COSINE},
}

#: Table 6's loss settings (papers.md 3.5): A = L_C; B = L_C + 0.5 LPIPS; C = L_C + L_r;
#: D = L_C + 0.1 LPIPS + L_r (the final setting used by Tables 1-5).
LTNET_LOSS_SETTINGS = {
    "A": {"lpips": 0.0, "residual": False},
    "B": {"lpips": 0.5, "residual": False},
    "C": {"lpips": 0.0, "residual": True},
    "D": {"lpips": 0.1, "residual": True},
}

#: LTNet's own budget (§4.1): 300 epochs of VIDIT's training pairs, "2 instances stacking a
#: minibatch". ``run_one_to_one`` uses it at the ``paper`` profile (which has no step budget).
LTNET_PAPER_BUDGET = {"epochs": 300, "batch_size": 2}

LTNET_DEVIATIONS = [
    "RGB channel order (the official code works in BGR); no uint8 truncation of the inputs.",
    "Training budget, image size and data follow the profile (the paper: 300 epochs of VIDIT "
    "at 1024 px, batch 2; used as such at the paper profile).",
    "Exponential lr decay from 1e-4 to 1e-6 over the budget (the paper does not give the rate).",
    "The output is clamped to [0, 1] in training too, with a straight-through gradient (the "
    "official test code only clips at test time; the training code is not released).",
    "Loss = L_C + 0.1 LPIPS on the output + L_r on the residual (Table 6 setting D). Eq. 3 "
    "contradicts itself (L_train = L_p + L_r + L_rc, with L_rc = L_r + L_p); we read Table 3's "
    "L_o (L_rc in the text) as the reconstruction loss L_p = L_C + 0.1 LPIPS on the output, "
    "switchable apart from L_r.",
]

def ltnet_lpips_dropped(residual_loss: bool) -> str:
    """The deviation of a row whose 0.1 LPIPS term is optional (Tables 1-5): what it trains
    without the AlexNet weights (run.json then also lists the dropped term itself, from
    ``experiment.build_objective``).

    >>> ltnet_lpips_dropped(True).endswith("setting C (L_C + L_r) instead of D.")
    True
    """
    rest = "Table 6's setting C (L_C + L_r) instead of D" if residual_loss else \
        "L_C alone (Table 6's setting A) instead of L_C + 0.1 LPIPS"
    return ("Without the AlexNet weights of LPIPS the 0.1 LPIPS term is left out of the loss "
            f"(run.json lists it among the dropped terms): the row then trains {rest}.")


#: The snapshot ensemble (papers.md 3.8): checkpoints of epochs 90, 123, 124, 128 and 134 of the
#: paper's 300, as fractions of the budget (at the paper profile exactly those epochs; at a
#: shorter profile the same fractions of the shorter budget).
LTNET_SNAPSHOT_FRACTIONS = tuple(e / PAPER_EPOCHS for e in ENSEMBLE_EPOCHS)

#: ``ensemble`` values of :func:`ltnet_row`: the paper's plain mean, or the official ``fuse.py``
#: weights (epoch 128 counted twice).
LTNET_ENSEMBLES = {"paper": None, "code": (1.0, 1.0, 1.0, 2.0, 1.0)}

#: Post-process of every LTNet row by default: the authors' dehazing
#: (:data:`relight_lib.papers.ltnet.dehaze.DEHAZE_LTNET`). Table 5's "8,32" row equals Table 1's
#: "LTNet-dagger (with dehaze)" to the last digit, run time included, and Tables 2-6 share Table
#: 5's baseline: the paper's ablation numbers are dehazed.
LTNET_POSTPROCESS = "dehaze"


def ltnet_loss(residual_loss: bool = True, reconstruction_loss: bool = True,
               lpips_weight: float = 0.1, lpips_required: bool = False) -> list[dict[str, Any]]:
    """LTNet's loss terms (papers.md 3.4-3.5): the reconstruction loss L_p = L_C + w·LPIPS on
    the output, and the residual loss L_r = |d| + d² on the residual (prediction - input vs
    target - input).

    >>> [t["name"] for t in ltnet_loss()]
    ['charbonnier', 'lpips', 'residual']
    """
    if not (residual_loss or reconstruction_loss):
        raise ValueError("LTNet needs at least one of the residual and reconstruction losses")
    terms: list[dict[str, Any]] = []
    if reconstruction_loss:
        # ESTRNN's colour Charbonnier (the LTNet code base's loss), eps 1e-3
        terms.append({"name": "charbonnier", "weight": 1.0, "kwargs": {"colour": True}})
        if lpips_weight:
            terms.append({"name": "lpips", "weight": lpips_weight, "required": lpips_required})
    if residual_loss:
        terms.append({"name": "residual", "weight": 1.0, "on": "residual"})
    return terms


def ltnet_row(inputs: Sequence[str] = ("rgb", "depth", "inverse_depth", "normal"),
              global_residual: bool = True, residual_loss: bool = True,
              reconstruction_loss: bool = True, loss_setting: str | None = None,
              table5_label: str = "2,16", normal_recipe: str = "paper",
              ensemble: str | None = None,
              postprocess: str | None = LTNET_POSTPROCESS) -> dict[str, Any]:
    """The :func:`~relight_lib.papers.onetoone.run_one_to_one` arguments of one LTNet row.

    Args:
        inputs: Table 2's input set (RGB, depth, inverse depth, normal map).
        global_residual: Table 3's "s" (prediction = input + residual).
        residual_loss: Table 3's L_r.
        reconstruction_loss: Table 3's L_o / L_rc (L_C + 0.1 LPIPS on the output).
        loss_setting: Table 6's A | B | C | D; overrides the two loss switches. A row whose
            setting is defined by its LPIPS term (B, D) needs LPIPS: without AlexNet weights it is
            not run here; elsewhere (Tables 1-5) the LPIPS term is left out and listed as a
            deviation (the row then trains setting C).
        table5_label: Table 5's model size, read as (f1, nc) (the LTNet* default "2,16" is the
            row the paper prints as "4,16").
        normal_recipe: ``paper`` (Sobel on grey image and depth, z = 0.1) or ``code`` (the
            official test code's depth-only recipe).
        ensemble: None (the final weights), or a snapshot ensemble of five checkpoints
            (:data:`LTNET_SNAPSHOT_FRACTIONS`): ``'paper'`` (plain mean) or ``'code'`` (the
            official weights, :data:`LTNET_ENSEMBLES`).
        postprocess: a name of :data:`relight_lib.papers.ltnet.dehaze.POSTPROCESSES` or None. Default
            ``'dehaze'`` (the authors' constants) for every table: the paper's ablation rows are
            dehazed (:data:`LTNET_POSTPROCESS`); the network's own metrics are written beside
            as ``<metric>_no_postprocess``.

    Returns:
        The keyword arguments of ``run_one_to_one``, including ``postprocess``, ``paper_budget``
        (:data:`LTNET_PAPER_BUDGET`) and the row's ``deviations``.
    """
    from relight_lib.library.models.ltnet import TABLE5_CONFIGS

    if table5_label not in TABLE5_CONFIGS:
        raise ValueError(f"table5_label {table5_label!r} is not one of {sorted(TABLE5_CONFIGS)}")
    if postprocess is not None and postprocess not in POSTPROCESSES:
        raise ValueError(f"postprocess {postprocess!r} is not one of {sorted(POSTPROCESSES)} "
                         "or None")
    lpips_weight, lpips_required = 0.1, False
    if loss_setting is not None:
        if loss_setting not in LTNET_LOSS_SETTINGS:
            raise ValueError(f"loss_setting {loss_setting!r} is not one of "
                             f"{sorted(LTNET_LOSS_SETTINGS)}")
        s = LTNET_LOSS_SETTINGS[loss_setting]
        reconstruction_loss, residual_loss = True, s["residual"]
        lpips_weight, lpips_required = s["lpips"], s["lpips"] > 0
    if residual_loss and not global_residual:
        raise ValueError("the residual loss needs the global skip (it supervises the residual)")
    if ensemble is not None and ensemble not in LTNET_ENSEMBLES:
        raise ValueError(f"ensemble {ensemble!r} is not one of {sorted(LTNET_ENSEMBLES)} or None")
    size = TABLE5_CONFIGS[table5_label]
    kwargs = {"inputs": list(inputs), "global_residual": global_residual,
              "normal_recipe": normal_recipe, "nc": size.nc, "f1": size.f1}
    loss = ltnet_loss(residual_loss, reconstruction_loss, lpips_weight, lpips_required)
    devs = list(LTNET_DEVIATIONS)
    if any(t["name"] == "lpips" and not t["required"] for t in loss):
        devs.append(ltnet_lpips_dropped(residual_loss))
    if postprocess == "dehaze_he":
        devs.append("Dehazed with He et al.'s constants (omega 0.95, t0 0.1), not the authors' "
                    "(omega 0.9, t0 0.7) that produced the paper's dehazed numbers.")
    extra: dict[str, Any] = {}
    if ensemble is not None:
        extra = {"snapshots": list(LTNET_SNAPSHOT_FRACTIONS),
                 "snapshot_weights": LTNET_ENSEMBLES[ensemble]}
        devs.append("Snapshot ensemble of the weights at epochs 90, 123, 124, 128 and 134 of the "
                    "paper's 300 (fractions 0.30-0.45 of the budget): exactly those epochs at "
                    "the paper profile; at a shorter profile the snapshots sit at the same "
                    "fractions of the shorter budget. The paper does not say why these "
                    "snapshots were chosen.")
    return {
        **extra,
        "model": "ltnet",
        "model_kwargs": kwargs,
        "loss": loss,
        "train": dict(LTNET_TRAIN),
        "paper_budget": dict(LTNET_PAPER_BUDGET),
        "short_budgets": LTNET_SHORT_BUDGETS,
        "augment": "flip_rotate",
        "postprocess": postprocess,
        "deviations": devs,
    }
