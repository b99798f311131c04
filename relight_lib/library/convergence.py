"""Are the weights a row scores converged? The plateau test every trained row passes or is marked.

The test (issue: convergence of what is evaluated; ``spec/evidence.md`` section 5) judges the
weights a row *scores* -- the final weights, each member of a snapshot ensemble, or the checkpoint
a table reads -- on the validation curve that training records (the engine's ``val_every``, at
least :data:`MIN_EVALS` points), separately for every judged metric (:data:`METRICS`: validation
PSNR for every row, and model A's colour-temperature loss L_c where the curve records it; L_c is
lower-is-better, so every difference below is taken in the "better" direction). A claim on a
metric the curve also records (SSIM) is judged on that metric's own curve as well
(:func:`claim_columns`): weights whose PSNR has stopped can still be gaining SSIM, and an SSIM
claim read there compares unfinished trainings.

**Tolerance from the noise.** After the learning-rate schedule has decayed (the validation points
after the last step whose rate exceeds :data:`DECAYED` of its peak; the last fifth when the rate
never decays; at least :data:`MIN_NOISE_POINTS` points; the final point left out, so that a
final dip does not widen its own tolerance), consecutive validation points differ only by what
the last small updates (and BatchNorm statistics) do to the weights. ``sd`` is the standard
deviation of those differences and ``tol = max(floor, TOL_SDS * sd)`` (``floor``: 0.05
dB for PSNR). A curve whose jitter (2 sd) exceeds ``max_tol`` (0.3 dB for PSNR) is *not
converged*: where to stop would change the score by more than the smaller ablation effects the
papers report (0.1-1 dB), whatever the tolerance says.

**Levels, not points.** The test compares the curve's *level* at two steps, the mean of
:data:`SMOOTH` validation points ending there, never single points. Judged on single points
with ``2 * sd`` from 2-4 differences (the first version), a training that had stopped improving
was called not converged for one seed in four or five (mostly because the best of twenty noisy
points stands above the last one by chance), so a five-seed row rarely passed;
``relight bench --plateau-calibration`` measures this on simulated flat curves, and
:data:`TOL_SDS` is set from it.

**The final weights** (``T`` = last step, validated by the engine): with ``final`` their own
validation value at ``T`` (what the table scores), ``best`` the best level of the run (the best
mean of :data:`SMOOTH` consecutive points), and the gain of the last fifth measured between two
levels (the mean of the final point and the ones just before it, minus the mean of the curve at
``(1 - TAIL) * T`` and one and two validation intervals earlier, linearly interpolated), the
weights converged on a metric when

1. ``best - final <= tol``: the scored weights are not worse than what the run reached (the old
   test compared the last fifth's *best*, so ``mbnet/extra_data`` passed with a best of 15.64 dB
   at step 340 while its scored final model validates at 15.18), and
2. the last fifth's gain ``<= tol``: the curve's level rose no more than the noise (still
   climbing fails).

**A snapshot-ensemble member** taken at step ``s < T`` cannot be "converged" in the sense of
the final weights: a snapshot ensemble averages weights from before the end by design (LTNet
section 3.4: epochs 90-134 of 300), and whether that helps is what the ensemble's claim tests.
What the test asks of a member is that it is what the curve says it is: its own validation value
(which the runner records for every member) lies within ``tol`` of the curve at ``s`` (linearly
interpolated between the validation points around it), so it is not a spike or a dip of the
weights at that step, and the training it comes from converged (the final weights' test above).
Here ``tol`` is the larger of the final weights' and the curve's own jitter around ``s``
(:func:`local_tolerance`: :data:`TOL_SDS` sd of the consecutive differences of the
:data:`LOCAL_POINTS` validation points nearest ``s``; their mean difference, the local trend,
taken out), the latter at most the metric's ``max_tol`` (a window across a bend of the curve
counts the bend as jitter). Members are taken before the schedule has fully decayed (LTNet's
at 0.13-0.25 of the peak rate), where the curve jumps more than after the decay: judged
against the decayed stretch's noise alone, a member that sat on the curve as closely as its
neighbouring points do failed (an SSIM member of ``ltnet_small_ensemble`` 0.0038 from the
curve, whose points there differ by up to 0.007, against the 0.002 floor).
A member whose value was not recorded (runs from before) *cannot tell*. How much the curve still
gained over the fifth of the steps before ``s`` and how far the member is below the best are
reported with it, not judged; the runner records the ensemble's validation value beside the
final model's. What the test cannot say: that members on a steep stretch of the curve average to
the same ensemble at another budget -- the budget check (one seed at twice the budget) is the
evidence for that.

**A read checkpoint** (models B and C's Table 1 weights, read at 8/20 and 6/20 of the budget)
replaces the final weights, so it is judged as the final weights of a run stopped at its step
(its gain over the fifth of the steps before it at most ``tol``), lies within ``tol`` of the
curve if its value was recorded, and must be at most ``tol`` below the best of the whole run:
if the rest of the budget reaches more than the noise above it, the scored weights are those of
an unfinished training.

A row whose scored weights fail is *not converged*: its tables mark it and its claims get no
verdict. Too few points, a member before the first validation point, or a judged metric missing
from the curve (model A's L_c on curves recorded before it was validated) is *can't tell*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["DECAYED", "LOCAL_POINTS", "METRICS", "MIN_EVALS", "TAIL", "Check", "Convergence",
           "MetricSpec", "claim_columns", "from_history", "judge_final", "judge_member",
           "local_tolerance", "noise_tolerance", "plateau_test"]

#: Share of the training at the end (or before a member's step) whose gain is tested.
TAIL = 0.2
#: The schedule has decayed once the rate stays at or below this share of its peak (LTNet's
#: paper schedule reaches 0.25 of its start at epoch 90 of 300, where its snapshots begin).
DECAYED = 0.25
#: Fewest validation points for a verdict.
MIN_EVALS = 5
#: Fewest points the noise is estimated from (2 differences), taken from before the decay
#: when the decayed stretch is shorter (short curves only: the quick profile's 20 points under
#: a cosine leave 6 decayed points before the final one).
MIN_NOISE_POINTS = 3
#: The curve's level at a step is the mean of this many consecutive validation points (the
#: final weights': the last ones), so one noisy point neither fails nor passes a training.
SMOOTH = 3
#: Validation points whose jitter judges a member on the curve (:func:`local_tolerance`), the
#: nearest its step. Chosen with ``relight bench --plateau-calibration`` (members on a curve
#: that still climbs, the member's own value as noisy as a validation point): with 5 points
#: (4 differences) the spread is so poorly estimated that about 1 training in 20 had a member
#: called off the curve, with 9 about 1 in 50, near the final weights' rate; the share of real
#: dips caught hardly changed (a dip of 4 noise sd: 47 % with 5 points, 42 % with 9).
LOCAL_POINTS = 9
#: ``tol = max(floor, TOL_SDS * sd)``. Chosen with ``relight bench --plateau-calibration``
#: (simulated trainings that have stopped improving: a flat curve plus noise): at 3 sd a few
#: percent of such seeds are called not converged where single points and 2 sd called a
#: quarter of them, and a steady climb of 0.3 dB over the last fifth is still caught about
#: nine times in ten at the noise of our quick curves. 2.5 sd caught slightly more climbs but
#: also twice the false alarms.
TOL_SDS = 3.0


@dataclass(frozen=True)
class MetricSpec:
    """A validation metric the test judges.

    Attributes:
        column: its column in a training history (``val_psnr``).
        label: how tables name it.
        higher_is_better: False for losses (L_c).
        floor: the smallest tolerance (the metric's units).
        max_tol: a curve whose noise tolerance exceeds this is not converged.
        unit: for messages (``" dB"`` or ``""``).
        scores: the results metric (``metrics.csv``) this column validates, whose claims it
            judges (:func:`claim_columns`); None for a training loss.
        row: judged for the row's own verdict (the tables' "converged"); False: judged only
            for the claims on ``scores``.
    """

    column: str
    label: str
    higher_is_better: bool
    floor: float
    max_tol: float
    unit: str = ""
    scores: str | None = None
    row: bool = True


#: The judged metrics, by history column. PSNR: 0.05 dB floor (below what any claim turns on);
#: 0.3 dB cap (the papers' smaller ablation steps). L_c (model A's colour-temperature loss on
#: validation, lower is better; chance is about 0.5 on the report's scale): floor 0.01, cap
#: 0.05, a tenth of chance. SSIM, judged for SSIM claims only: floor 0.002 (the papers' SSIM
#: claims turn on 0.007-0.1, one on 0.0017); cap 0.01 (their smaller SSIM steps, 0.014-0.03).
#: :data:`TOL_SDS` is in units of the curve's own noise, so its calibration holds for SSIM too;
#: on the quick DMSHN curves 3 sd of SSIM is 0.001-0.014, above the floor on most seeds.
METRICS: dict[str, MetricSpec] = {
    "val_psnr": MetricSpec("val_psnr", "PSNR", True, 0.05, 0.3, " dB", scores="psnr"),
    "val_lc": MetricSpec("val_lc", "L_c", False, 0.01, 0.05),
    "val_ssim": MetricSpec("val_ssim", "SSIM", True, 0.002, 0.01, scores="ssim", row=False),
}


def claim_columns(metric: str) -> tuple[str, ...]:
    """The validation columns whose plateau a claim on ``metric`` (a ``metrics.csv`` name)
    needs: the column that validates it (:attr:`MetricSpec.scores`), or ``()`` when no curve
    records it (LPIPS, model A's score, L_c read as a claim), where the row's own verdict
    decides.

    >>> claim_columns("ssim"), claim_columns("psnr"), claim_columns("lpips")
    (('val_ssim',), ('val_psnr',), ())
    """
    return tuple(c for c, spec in METRICS.items() if spec.scores == metric)


@dataclass(frozen=True)
class Check:
    """One judged weight (``what``: ``"final"``, ``"member 240"``, ``"read 120"``) on one metric.

    ``value`` is its validation value, ``start`` the curve's level a fifth of its step earlier,
    ``best`` the best level of the run (at ``best_step``), ``gain`` the level at ``step`` minus
    ``start`` and ``drop`` ``best`` minus ``value`` (0 when ``value`` is above it; levels: means
    of :data:`SMOOTH` points, module docstring; both in the better direction, so positive
    means "still improving" / "worse than the best"), ``tol`` the tolerance and ``sd`` the noise
    it came from. ``ok`` is None when the test cannot tell.
    """

    what: str
    metric: str
    step: int | None
    ok: bool | None
    value: float | None = None
    start: float | None = None
    best: float | None = None
    best_step: int | None = None
    gain: float | None = None
    drop: float | None = None
    tol: float | None = None
    sd: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Convergence:
    """The plateau test of one training (every scored weight, every judged metric).

    ``converged`` is False when a check fails, else None when one cannot tell, else True;
    ``reason`` is the deciding check's sentence. ``best``, ``best_step``, ``final``, ``tail_gain``
    (= ``gain`` of the final weights) and ``final_drop`` (= ``drop``) are the PSNR check's of the
    final (or read) weights, for the tables.
    """

    converged: bool | None
    reason: str
    n_evals: int
    checks: list[Check] = field(default_factory=list)
    best: float | None = None
    best_step: int | None = None
    final: float | None = None
    tail_gain: float | None = None
    final_drop: float | None = None
    tol: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _points(steps: Sequence[int], values: Sequence[float | None]) -> list[tuple[int, float]]:
    return sorted((int(s), float(v)) for s, v in zip(steps, values)
                  if v is not None and math.isfinite(float(v)))


def _interp(pts: Sequence[tuple[int, float]], step: float) -> float | None:
    """The curve at ``step`` (linear between the bracketing points); None outside it."""
    if not pts or step < pts[0][0] or step > pts[-1][0]:
        return None
    for (s0, v0), (s1, v1) in zip(pts, pts[1:]):
        if s0 <= step <= s1:
            return v0 if s1 == s0 else v0 + (v1 - v0) * (step - s0) / (s1 - s0)
    return pts[-1][1]


def noise_tolerance(steps: Sequence[int], values: Sequence[float | None],
                    lr: Mapping[int, float] | None = None, spec: MetricSpec = METRICS["val_psnr"],
                    tail: float = TAIL) -> tuple[float, float | None, int]:
    """``(tol, sd, n)``: the tolerance ``max(spec.floor, TOL_SDS * sd)`` with ``sd`` the standard
    deviation of the differences between consecutive validation points after the schedule has
    decayed (``lr``: step -> rate; the points after the last step whose rate exceeds
    :data:`DECAYED` of the peak), or of the last fifth when the rate never decays or ``lr`` is
    not known, or of the last :data:`MIN_NOISE_POINTS` points when those are fewer; the final
    point is never used (a final dip must not widen its own tolerance). ``n``: the points
    used; ``sd`` is None (and ``tol`` the floor) with fewer than 3.

    >>> steps = [100, 200, 300, 400, 500]
    >>> round(noise_tolerance(steps, [10.0, 10.0, 10.1, 10.0, 10.1])[0], 3)  # 3 sd of (.1, -.1)
    0.424
    >>> noise_tolerance(steps, [10.0] * 5)  # flat: the floor
    (0.05, 0.0, 3)
    """
    pts = _points(steps, values)
    if not pts:
        return spec.floor, None, 0
    last = pts[-1][0]
    cut = (1 - tail) * last
    if lr:
        peak = max(lr.values())
        above = [s for s, r in lr.items() if r > DECAYED * peak]
        if above and max(above) < last:
            cut = min(cut, max(above))
    # the last point is left out: a final dip or spike is what the test judges, and it must
    # not widen its own tolerance
    before = pts[:-1]
    stretch = [v for s, v in before if s > cut]
    if len(stretch) < MIN_NOISE_POINTS:
        stretch = [v for _, v in before[-MIN_NOISE_POINTS:]]
    if len(stretch) < 3:
        return spec.floor, None, len(stretch)
    sd = _diff_sd(stretch)
    return round(max(spec.floor, TOL_SDS * sd), 10), sd, len(stretch)


def _diff_sd(values: Sequence[float]) -> float:
    """The standard deviation of the consecutive differences of ``values`` (at least 3), their
    mean (the trend) taken out."""
    diffs = [b - a for a, b in zip(values, values[1:])]
    mean = sum(diffs) / len(diffs)
    return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))


def local_tolerance(steps: Sequence[int], values: Sequence[float | None], step: float,
                    spec: MetricSpec = METRICS["val_psnr"]) -> tuple[float, float | None]:
    """``(tol, sd)`` of the curve around ``step``: ``max(spec.floor, TOL_SDS * sd)`` with ``sd``
    the standard deviation of the consecutive differences of the :data:`LOCAL_POINTS`
    validation points nearest ``step`` (their mean, the local trend, is taken out). The jitter
    a member's own value is judged against (module docstring); ``sd`` None (and the floor) with
    fewer than 3 points.

    >>> steps = [100, 200, 300, 400, 500, 600, 700]
    >>> local_tolerance(steps, [1, 2, 3, 4, 5, 6, 7], 400)  # a steady climb has no jitter
    (0.05, 0.0)
    >>> round(local_tolerance(steps, [10, 10.2, 10, 10.2, 10, 10.2, 10], 600)[0], 3)  # 3 sd
    0.657
    """
    pts = _points(steps, values)
    near = sorted(sorted(pts, key=lambda p: (abs(p[0] - step), p[0]))[:LOCAL_POINTS])
    if len(near) < 3:
        return spec.floor, None
    sd = _diff_sd([v for _, v in near])
    return round(max(spec.floor, TOL_SDS * sd), 10), sd


def _fmt(x: float, spec: MetricSpec, extra: int = 0) -> str:
    return f"{x:.{2 + extra}f}{spec.unit}" if spec.unit else f"{x:.{3 + extra}g}"


def _fmt_over(x: float, tol: float, spec: MetricSpec) -> tuple[str, str]:
    """``x`` and ``tol`` for a sentence saying ``x`` exceeds ``tol``, with as many more digits
    (up to 3) as they need to print differently: "0.087 dB (> tol 0.086 dB)", not
    "0.09 dB (> tol 0.09 dB)".

    >>> _fmt_over(0.0874, 0.0855, METRICS["val_psnr"])
    ('0.087 dB', '0.086 dB')
    >>> _fmt_over(2.0, 0.05, METRICS["val_psnr"])
    ('2.00 dB', '0.05 dB')
    """
    for extra in range(4):
        a, b = _fmt(x, spec, extra), _fmt(tol, spec, extra)
        if a != b:
            break
    return a, b


def _too_noisy(check: Check, spec: MetricSpec) -> Check:
    """``check`` failed when the curve's jitter, 2 sd of its consecutive differences, exceeds
    ``spec.max_tol`` (its numbers kept). The jitter, not ``tol``: how much the score depends
    on where training stopped does not change with how the tolerance is set."""
    if check.sd is None or 2 * check.sd <= spec.max_tol or check.ok is None:
        return check
    return replace(check, ok=False, reason=(
        f"{check.what} weights, {spec.label}: the curve still jumps after the decay (2 sd of "
        f"consecutive points = {' > '.join(_fmt_over(2 * check.sd, spec.max_tol, spec))}), so "
        "the score depends on where training stopped"))


def judge_final(steps: Sequence[int], values: Sequence[float | None],
                spec: MetricSpec = METRICS["val_psnr"], tol: float | None = None,
                sd: float | None = None, tail: float = TAIL) -> Check:
    """The final weights (the last point of the curve) on one metric (module docstring).

    >>> steps = range(100, 1100, 100)
    >>> judge_final(steps, [18, 19.5, 19.9, 19.95, 19.96, 20, 20, 20, 20, 20], tol=0.05).ok
    True
    >>> judge_final(steps, [15, 16, 17, 18, 19, 20, 21, 22, 23, 24], tol=0.05).reason
    'final weights, PSNR: still improving: the last fifth gained 2.00 dB (> tol 0.05 dB)'
    """
    pts = _points(steps, values)
    if len(pts) < MIN_EVALS:
        return Check("final", spec.column, None, None, reason=(
            f"{spec.label}: too few validation points to tell ({len(pts)} < {MIN_EVALS})"))
    if tol is None:
        tol, sd, _ = noise_tolerance([s for s, _ in pts], [v for _, v in pts], None, spec, tail)
    check = _judge_at(pts, pts[-1][0], pts[-1][1], "final", spec, tol, sd, tail, near_best=True)
    return _too_noisy(check, spec)


def judge_member(steps: Sequence[int], values: Sequence[float | None], step: int,
                 spec: MetricSpec = METRICS["val_psnr"], tol: float | None = None,
                 sd: float | None = None, value: float | None = None, what: str = "member",
                 read: bool = False, tail: float = TAIL) -> Check:
    """Weights taken at ``step`` before the end (module docstring); ``value``: their own
    validation value where the run measured it.

    A snapshot (``read=False``) passes when ``value`` lies within the larger of ``tol`` and
    the curve's jitter around ``step`` (:func:`local_tolerance`, at most ``spec.max_tol``) of
    the curve at ``step``; without ``value`` the test cannot tell. Its gain over the fifth of
    its steps before it and its distance to the best are reported (``gain``, ``drop``), not
    judged. A read checkpoint's own value is held to the same distance from the curve.
    A read checkpoint (``read=True``) replaces the final weights: judged as the final weights
    of a run stopped at ``step`` (gain at most ``tol``), and at most ``tol`` below the best of
    the whole run, with ``value`` (or the curve at ``step``).

    >>> steps = range(100, 1100, 100)
    >>> v = [15, 17, 18, 18.5, 18.9, 19.2, 19.5, 19.7, 19.9, 20]
    >>> judge_member(steps, v, 500, tol=0.1, value=18.95).ok  # on the curve, mid-climb
    True
    >>> round(judge_member(steps, v, 500, tol=0.1, value=18.95).gain, 2)  # reported only
    0.65
    >>> judge_member(steps, v, 500, tol=0.1, value=18.5).reason[18:]
    'its validation value 18.50 dB is 0.40 dB from the curve there (> tol 0.30 dB)'
    >>> judge_member(steps, v, 500, tol=0.1, read=True).reason
    'read 500 weights, PSNR: 0.97 dB worse than the best (step 900; > tol 0.10 dB)'
    """
    pts = _points(steps, values)
    label = f"{'read' if read else what} {step}"
    if len(pts) < MIN_EVALS:
        return Check(label, spec.column, step, None, reason=(
            f"{label}, {spec.label}: too few validation points to tell"))
    if tol is None:
        tol, sd, _ = noise_tolerance([s for s, _ in pts], [v for _, v in pts], None, spec, tail)
    curve = _interp(pts, step)
    if curve is None:
        return Check(label, spec.column, step, None, tol=tol, sd=sd, reason=(
            f"{label}, {spec.label}: before the first validation point (step {pts[0][0]})"))
    recorded = value is not None and math.isfinite(value)
    full = _judge_at(pts, step, value if recorded else curve, label, spec, tol, sd, tail,
                     near_best=read)
    # on the curve: judged against the jitter where the member sits, which before the decay
    # exceeds the decayed stretch's (module docstring); capped at max_tol, because a window
    # across a bend of the curve widens the local spread, and a member further than max_tol
    # from the curve is off it whatever the jitter
    local = local_tolerance([s for s, _ in pts], [v for _, v in pts], step, spec)[0]
    on_tol = max(tol, min(local, spec.max_tol))
    if recorded and abs(value - curve) > on_tol:
        shown, limit = _fmt_over(abs(value - curve), on_tol, spec)
        return replace(full, ok=False, reason=(
            f"{label}, {spec.label}: its validation value {_fmt(value, spec)} is "
            f"{shown} from the curve there (> tol {limit})"))
    if read:
        return _too_noisy(full, spec)
    info = "" if full.gain is None else (
        f" (the curve gained {_fmt(full.gain, spec)} over the fifth of its steps before it; "
        f"{_fmt(full.drop, spec)} below the best)")
    if not recorded:
        return replace(full, ok=None, reason=(
            f"{label}, {spec.label}: not validated in this run, so it cannot be told from the "
            f"curve around it{info}"))
    return replace(full, ok=True, reason=(
        f"{label}, {spec.label}: within tol {_fmt(on_tol, spec)} of the curve there{info}"))


def _judge_at(pts, step, value, label, spec, tol, sd, tail, near_best) -> Check:
    sign = 1.0 if spec.higher_is_better else -1.0
    best_step, best = _best_level(pts, sign)
    start = _level_around(pts, (1 - tail) * step)
    if start is None:
        return Check(label, spec.column, step, None, value=value, best=best, best_step=best_step,
                     tol=tol, sd=sd, reason=(f"{label}, {spec.label}: no validation point a fifth "
                                             "of its steps earlier"))
    # the trend compares levels; the drop compares the scored weights themselves (their value
    # is what the table reads) with the best level the run held, not its luckiest point
    # (a final point above the best level is no drop: 0)
    gain = sign * (_level_before(pts, step, value) - start)
    drop = max(0.0, sign * (best - value))
    common = dict(value=value, start=start, best=best, best_step=best_step, gain=gain, drop=drop,
                  tol=tol, sd=sd)
    before = "the last fifth" if label == "final" else "the last fifth before it"
    if near_best and drop > tol:
        shown, limit = _fmt_over(drop, tol, spec)
        return Check(label, spec.column, step, False, **common, reason=(
            f"{label} weights, {spec.label}: {shown} worse than the best "
            f"(step {best_step}; > tol {limit})"))
    if gain > tol:
        head = f"{label} weights" if label == "final" else label
        shown, limit = _fmt_over(gain, tol, spec)
        return Check(label, spec.column, step, False, **common, reason=(
            f"{head}, {spec.label}: still improving: {before} gained "
            f"{shown} (> tol {limit})"))
    return Check(label, spec.column, step, True, **common, reason=(
        f"{label}, {spec.label}: plateau ({before} {'+' if gain >= 0 else ''}{_fmt(gain, spec)}, "
        f"{_fmt(drop, spec)} below the best; tol {_fmt(tol, spec)})"))


def _level_before(pts, step: int, value: float) -> float:
    """The scored weights' level: the mean of ``value`` and the validation points just before
    ``step`` (:data:`SMOOTH` in all; fewer where the curve has fewer)."""
    earlier = [v for s, v in pts if s < step][-(SMOOTH - 1):] if SMOOTH > 1 else []
    return (value + sum(earlier)) / (1 + len(earlier))


def _level_around(pts, step: float) -> float | None:
    """The curve's level at ``step``, measured as the scored weights' is
    (:func:`_level_before`): the mean of the curve at ``step`` and at the :data:`SMOOTH` - 1
    steps one validation interval before it (linearly interpolated, kept inside the curve), so
    that a steady climb's gain is not shrunk by comparing a lagging mean with a centred one;
    None when ``step`` is outside the curve."""
    if _interp(pts, step) is None:
        return None
    gap = (pts[-1][0] - pts[0][0]) / max(1, len(pts) - 1)
    at = [_interp(pts, max(step - i * gap, pts[0][0])) for i in range(SMOOTH)]
    return sum(a for a in at if a is not None) / len(at)


def _best_level(pts, sign: float) -> tuple[int, float]:
    """``(step, level)`` of the best mean of :data:`SMOOTH` consecutive validation points (the
    step: the middle one's). The best single point of a noisy plateau stands above its level
    by chance (the more points, the further), which failed trainings that had stopped."""
    k = min(SMOOTH, len(pts))
    runs = [(pts[i + k // 2][0], sum(v for _, v in pts[i:i + k]) / k)
            for i in range(len(pts) - k + 1)]
    return max(runs, key=lambda r: sign * r[1])


def _combine(checks: Sequence[Check], n_evals: int, headline: Check | None) -> Convergence:
    flags = [c.ok for c in checks]
    verdict = False if False in flags else (None if None in flags or not checks else True)
    decider = next((c for c in checks if c.ok is verdict), None)
    reason = decider.reason if decider else "no judged metric on the validation curve"
    if verdict is True:
        reason = headline.reason if headline else reason
    h = headline or Check("", "", None, None)
    return Convergence(verdict, reason, n_evals, list(checks), h.best, h.best_step, h.value,
                       h.gain, h.drop, h.tol)


def plateau_test(steps: Sequence[int], values: Sequence[float | None],
                 spec: MetricSpec = METRICS["val_psnr"], tail: float = TAIL) -> Convergence:
    """The test of the final weights on one curve, its tolerance from the curve's own last
    fifth (no schedule known). See :func:`from_history` for a whole training."""
    check = judge_final(steps, values, spec, tail=tail)
    return _combine([check], len(_points(steps, values)), check)


def from_history(history: Sequence[Mapping[str, Any]], *, members: Sequence[int] = (),
                 member_values: Mapping[int, Mapping[str, float]] | None = None,
                 read_step: int | None = None,
                 metrics: Sequence[str] | None = None) -> Convergence:
    """The test of a training from its history (one dict per step: ``step``, ``lr``, and the
    validation columns of :data:`METRICS` at the validated steps).

    Args:
        history: the training history (``history.csv`` rows).
        members: the snapshot steps of an ensemble (steps at the end are the final weights).
        member_values: step -> {column: validation value} of members the run evaluated.
        read_step: the checkpoint the table reads instead of the final weights.
        metrics: columns to judge; default: the row's own, ``val_psnr`` and every other
            column of :data:`METRICS` with ``row`` set that the history records. A requested
            column the history lacks is "can't tell".
    """
    lr = {int(h["step"]): float(h["lr"]) for h in history
          if h.get("lr") is not None and math.isfinite(float(h["lr"]))}
    columns = list(metrics) if metrics is not None else ["val_psnr"] + [
        c for c, spec in METRICS.items()
        if c != "val_psnr" and spec.row and any(_finite(h.get(c)) for h in history)]
    checks: list[Check] = []
    headline: Check | None = None
    n_evals = 0
    last = max((int(h["step"]) for h in history), default=0)
    for col in columns:
        spec = METRICS[col]
        rows = [h for h in history if _finite(h.get(col))]
        steps, vals = [int(h["step"]) for h in rows], [float(h[col]) for h in rows]
        n_evals = max(n_evals, len(rows))
        if not rows:
            checks.append(Check("final", col, None, None, reason=(
                f"{spec.label} is not on the validation curve (recorded before it was)")))
            continue
        tol, sd, _ = noise_tolerance(steps, vals, lr, spec)
        if read_step is not None and read_step < last:
            main = judge_member(steps, vals, read_step, spec, tol, sd, read=True,
                                value=_member_value(member_values, read_step, col))
        else:
            main = judge_final(steps, vals, spec, tol, sd)
        checks.append(main)
        if col == "val_psnr":
            headline = main
        for s in sorted(set(int(m) for m in members)):
            if s < last and s != read_step:
                checks.append(judge_member(steps, vals, s, spec, tol, sd,
                                           value=_member_value(member_values, s, col)))
    if headline is None and checks:
        headline = checks[0]
    return _combine(checks, n_evals, headline)


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _member_value(values: Mapping[int, Mapping[str, float]] | None, step: int,
                  col: str) -> float | None:
    if not values:
        return None
    got = values.get(step) or values.get(str(step)) or {}  # type: ignore[call-overload]
    v = got.get(col)
    return float(v) if _finite(v) else None
