"""The ``relight`` command.

Sub-commands: ``render`` (SynVIDIT), ``check-data`` (any VIDIT-format folder),
``contact-sheet`` (a figure for the book), ``bench-render`` (render speed, written to
``results/bench/``), ``reproduce`` (papermill runs of the table rows), ``book`` (the Jupyter Book) and
``predict`` (relight your own image); ``try`` (one table row with changed parameters, into
``_build/exercises/``); ``bench`` (speed, FLOPs and memory of every model,
and of training; written to ``results/bench/<device>.csv``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from relight_lib import omp

# before anything imports torch: the OpenMP runtime reads its settings once, when it starts
omp.apply_defaults()

DEFAULT_DATA_DIR = Path("data/synvidit")


def _add_render(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render a SynVIDIT set (VIDIT layout) with Mitsuba 3",
        description="Render SynVIDIT, either the sets a profile reads (--preset smoke, quick, "
        "gpu) into DATA_DIR/<set>, or a custom set into OUT. At quick and gpu each seed draws "
        "its own sets (DATA_DIR/<profile>-s<k>-{track1,any2any}, one per seed of the profile "
        "or of --seeds); --scene-seed fixed renders the single draw every seed shared before "
        "(DATA_DIR/<profile>-{track1,any2any}). Each set to render is announced first with its "
        "scene seed and an estimated time. Interrupted renders resume: scenes whose files match "
        "manifest.json are skipped.",
    )
    p.add_argument("out", nargs="?", type=Path, help="output folder (custom set)")
    p.add_argument("--preset", choices=["smoke", "quick", "gpu"],
                   help="named set(s), written under --data-dir")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help=f"where presets go (default {DEFAULT_DATA_DIR})")
    p.add_argument("--scene-seed", choices=["per_seed", "fixed"], default=None,
                   help="with --preset: each seed's own sets or the single fixed draw "
                   "(default: the profile's; smoke is fixed)")
    p.add_argument("--seeds", default=None,
                   help="with --preset and per-seed data: comma-separated seeds (default: the "
                   "profile's)")
    p.add_argument("--dry-run", action="store_true",
                   help="say which sets would be rendered (and how long it would take); render "
                   "nothing")
    p.add_argument("--scenes", type=int, default=8, help="number of scenes (default 8)")
    p.add_argument("--size", type=int, default=64, help="image side in px (default 64)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--conditions", default="all",
                   help="'all', named sets 'track1', 'mbnet', or tags like 6500_N, comma-separated")
    p.add_argument("--spp", type=int, default=16, help="samples per pixel (default 16)")
    p.add_argument("--bounces", type=int, default=0,
                   help="indirect bounces (default 0: direct light, black shadows)")
    p.add_argument("--families", default=None,
                   help="comma-separated scene families (default: all four)")
    p.add_argument("--variant", default="scalar_rgb",
                   help="Mitsuba variant: scalar_rgb (CPU, default), cuda_rgb, or auto")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: number of CPU cores)")
    p.add_argument("--force", action="store_true",
                   help="re-render a folder that holds a set with other parameters")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _cmd_render(args) -> int:
    import dataclasses
    import os

    from relight_lib.library.data import synvidit
    from relight_lib.library.data.layout import parse_conditions
    from relight_lib.library.data.scenes import FAMILIES

    if args.preset and args.out:
        raise SystemExit("relight render: give either OUT or --preset, not both")
    if (args.scene_seed or args.seeds) and not args.preset:
        raise SystemExit("relight render: --scene-seed and --seeds go with --preset")
    if args.preset:
        from relight_lib.papers import profiles

        try:
            seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else None
        except ValueError:
            raise SystemExit(f"relight render: --seeds {args.seeds!r}: expected comma-separated "
                             "integers, e.g. 0,1,2") from None
        try:
            prof = profiles.resolve(args.preset, scene_seed=args.scene_seed, seeds=seeds)
        except ValueError as e:
            raise SystemExit(f"relight render: {e}") from None
        jobs_sets = [(args.data_dir / Path(root).name, cfg)
                     for root, cfg in profiles.data_sets(prof).items()]
    elif args.out:
        families = tuple(f.strip() for f in args.families.split(",")) if args.families else FAMILIES
        cfg = synvidit.RenderConfig(
            n_scenes=args.scenes, size=args.size, seed=args.seed, spp=args.spp,
            bounces=args.bounces, families=families,
            conditions=tuple(c.tag for c in parse_conditions(args.conditions)))
        jobs_sets = [(args.out, cfg)]
    else:
        raise SystemExit("relight render: give an output folder or --preset (see --help)")
    if args.dry_run:
        from relight_lib.papers.profiles import set_state

        for root, cfg in jobs_sets:
            est = synvidit.estimate_render_seconds(cfg)
            print(f"{root}: {set_state(root, cfg)}; {cfg.n_scenes} scenes "
                  f"({' / '.join(str(n) for n in cfg.split_counts().values())} train / "
                  f"validation / test), scene seed {cfg.seed}, {cfg.size} px, "
                  f"{len(cfg.conditions)} conditions"
                  + (f"; about {est['seconds'] / 60:.1f} min to render ({est['measured']})"
                     if est else "; render time not measured at this size"))
        return 0
    variant = synvidit.resolve_variant(args.variant)
    jobs = args.jobs or os.cpu_count() or 1
    if variant.startswith("cuda"):
        jobs = 1  # one process drives the GPU
    for root, cfg in jobs_sets:
        print(f"{root}: rendering {cfg.n_scenes} scenes (scene seed {cfg.seed}, {cfg.size} px, "
              f"{len(cfg.conditions)} conditions; finished scenes are kept)")
        cfg = dataclasses.replace(cfg, variant=variant)  # the preset's own config stays as it is
        s = synvidit.render_dataset(root, cfg, jobs=jobs, progress=not args.no_progress,
                                    force=args.force)
        print(f"{root}: {s.rendered} scenes rendered, {s.skipped} already complete; "
              f"{s.images} images in {s.seconds:.1f} s"
              + (f" ({s.images_per_second:.1f} images/s)" if s.images else "")
              + f"; {s.bytes / 1e6:.1f} MB on disk ({variant}, {jobs} job(s))")
    return 0


def _add_check(sub) -> None:
    p = sub.add_parser("check-data", help="check a VIDIT-format folder (SynVIDIT or real VIDIT)",
                       description="Find the VIDIT packagings under ROOT (any-to-any flat "
                       "folders, NTIRE 2021 Track 1 input/target folders, Track 2 validation/test "
                       "input/ + guide/ pair folders) and report missing or extra files, scene, "
                       "condition and pair counts, wrong image sizes, unreadable PNGs and bad "
                       "depth files, each with its file name. Exit status 1 when there are "
                       "problems.")
    p.add_argument("root", type=Path)
    p.add_argument("--decode", action="store_true",
                   help="fully decode every PNG (slower) instead of checking its checksums")


def _cmd_check(args) -> int:
    from relight_lib.library.data.check import check_data, format_report

    report = check_data(args.root, decode=args.decode)
    print(format_report(report))
    return 0 if report.ok else 1


def _add_sheet(sub) -> None:
    p = sub.add_parser("contact-sheet",
                       help="PNG of one scene under the 8 directions and the 5 temperatures",
                       description="Render one SynVIDIT scene (seed, index) under 8 directions "
                       "at 6500 K and 5 temperatures at E, and save the sheet as a PNG.")
    p.add_argument("out", type=Path, help="output PNG")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0, help="scene index")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--spp", type=int, default=16)
    p.add_argument("--variant", default="scalar_rgb")


def _cmd_sheet(args) -> int:
    from relight_lib.library.data import synvidit

    out = synvidit.render_contact_sheet(args.out, seed=args.seed, index=args.index,
                                        size=args.size, spp=args.spp,
                                        variant=synvidit.resolve_variant(args.variant),
                                     conditions=args.conditions)
    print(out)
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser("bench-render", help="measure SynVIDIT render speed; write a CSV",
                       description="Render a few scenes (all 40 conditions, or --conditions) at "
                       "each size and append images per second and seconds per scene to a CSV "
                       "(results/bench/ by default; the render-cost estimates read it).")
    p.add_argument("--sizes", default="64,128,256")
    p.add_argument("--scenes", type=int, default=2, help="scenes per size (default 2)")
    p.add_argument("--spp", default="8,16,32", help="spp per size, comma-separated")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--variant", default="scalar_rgb")
    p.add_argument("--conditions", default="all",
                   help="'all' (default), 'track1,mbnet' (the Track-1 sets' four conditions), "
                   "or tags, comma-separated")
    p.add_argument("--out", type=Path, default=Path("results/bench/synvidit_render.csv"))


def _cmd_bench(args) -> int:
    import os

    from relight_lib.library.data import synvidit

    sizes = [int(s) for s in args.sizes.split(",")]
    spps = [int(s) for s in args.spp.split(",")]
    if len(spps) == 1:
        spps = spps * len(sizes)
    if len(spps) != len(sizes):
        raise SystemExit("--spp needs one value or one per size")
    rows = synvidit.benchmark_render(sizes, spps, n_scenes=args.scenes,
                                     jobs=args.jobs or os.cpu_count() or 1,
                                     variant=synvidit.resolve_variant(args.variant),
                                     conditions=args.conditions)
    synvidit.append_csv(args.out, rows)
    for r in rows:
        print(f"{r['size']:>5} px  spp {r['spp']:>3}  {r['images']} images  "
              f"{r['seconds']:.1f} s  {r['images_per_second']:.2f} images/s")
    print(f"appended to {args.out}")
    return 0


def _add_bench_models(sub) -> None:
    p = sub.add_parser(
        "bench", help="measure every model's FLOPs, latency, memory and training speed",
        description="For every registered model: parameters, FLOPs per image, inference "
        "latency (median after warm-up) and peak memory at each size, in fp32 and, on a GPU, "
        "bf16 + channels_last with and without torch.compile (with the bf16-vs-fp32 PSNR); "
        "training step time, images/s and data-wait share at a profile's size. Writes a long "
        "CSV to results/bench/<device>.csv (atomically). A model that fails gets an error row "
        "and the others go on. On a 2-core CPU the default setting takes about ten minutes; "
        "--quick takes one or two.")
    p.add_argument("--models", nargs="+", help="registered model names (default: all)")
    p.add_argument("--sizes", nargs="+", type=int, help="image sides in px (default 256 1024)")
    p.add_argument("--repeats", type=int, help="timed runs per latency, median kept (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    p.add_argument("--time-budget", type=float, default=60.0,
                   help="seconds of timed runs per latency: fewer repeats (at least 1) when one "
                   "run is long, e.g. a large model at 1024 px on a CPU (default 60; 0: none)")
    p.add_argument("--train-steps", type=int,
                   help="timed training steps per model, 0 to skip (default 3)")
    p.add_argument("--train-profile",
                   help="profile whose data, size and batch training uses "
                   "(default: quick on a CPU, gpu on a GPU)")
    p.add_argument("--workers", type=int, help="training loader workers (default: 0 on a CPU, "
                   "up to 8 on a GPU)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs (GPU)")
    p.add_argument("--quick", action="store_true",
                   help="small setting: 256 px only, 2 repeats, 2 training steps on the smoke "
                   "profile; written to <device>-quick.csv")
    p.add_argument("--suite-times", type=Path,
                   help="JSON with measured 'make test' / 'make book' seconds to add as rows, "
                   'e.g. {"make_test_s": 800, "make_book_s": {"quick": 95}}')
    p.add_argument("--setting", help="label written to every row and shown as the section of the "
                   "Performance page (default: full, or quick with --quick); e.g. 'compile' for "
                   "a second run that adds torch.compile timings")
    p.add_argument("--out", type=Path, help="CSV path (default results/bench/<device-slug>.csv)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--training-flops", action="store_true",
                   help="instead: training efficiency of the paper models at the quick recipe "
                   "(GFLOP per step, s/step, the machine's measured peak, top operators, "
                   "levers); writes results/bench/<machine>-training-*.csv (a few minutes)")
    p.add_argument("--plateau-calibration", action="store_true",
                   help="instead: how often the plateau test calls a converged (flat, noisy) "
                   "validation curve not converged, by simulation; writes "
                   "results/bench/plateau-calibration.csv (about a minute)")
    p.add_argument("--costs", action="store_true",
                   help="instead: what the cost table reads: the OpenMP wait policy (default "
                   "vs PASSIVE, fresh processes, LTNet* and DMSHN) and 20 training steps of "
                   "DMSHN at the quick recipe; writes results/bench/<machine>-training-omp.csv "
                   "and -training-steps.csv (about 15 minutes on 2 cores)")


def _cmd_bench_models(args) -> int:
    from relight_lib import bench
    from relight_lib.library.models import list_models

    unknown = sorted(set(args.models or ()) - set(list_models()))
    if unknown:
        raise KeyError(f"unknown model(s) {unknown}; registered: {list_models()}")
    if args.plateau_calibration:
        from relight_lib import bench_plateau

        print(f"wrote {bench_plateau.run()}")
        return 0
    if args.costs:
        from relight_lib import bench_flops

        paths = bench_flops.run_costs(steps=args.train_steps or 20)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
        return 0
    if args.training_flops:
        from relight_lib import bench_flops

        paths = bench_flops.run(args.models or bench_flops.MODELS,
                                steps=args.train_steps or 2)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
        return 0
    base = bench.QUICK if args.quick else {}
    cfg = bench.BenchConfig(
        models=args.models,
        sizes=tuple(args.sizes or base.get("sizes", (256, 1024))),
        repeats=args.repeats or base.get("repeats", 3),
        warmup=args.warmup,
        train_steps=(args.train_steps if args.train_steps is not None
                     else base.get("train_steps", 3)),
        train_profile=args.train_profile or base.get("train_profile"),
        device=args.device, compile=not args.no_compile, workers=args.workers,
        budget_s=args.time_budget or None,
        suite_times=str(args.suite_times) if args.suite_times else None,
        setting=args.setting or base.get("setting", "full"))
    path, rows = bench.run(cfg, args.out, progress=not args.no_progress)
    for r in rows:
        if r["section"] == "inference" and r["measure"] == "latency_s" and r["value"] != "":
            print(f"{r['model']:>22} {r['size']:>5} px {r['precision']:>16}  "
                  f"{r['value']:.4f} s")
        elif r["measure"] in ("error", "step_s") or "error:" in str(r["note"]):
            if r["value"] == "" or r["measure"] == "error":
                print(f"{r['model']:>22} {r['measure']}: {r['note']}")
    print(f"wrote {path}")
    return 0


def _add_bench_train(sub) -> None:
    p = sub.add_parser(
        "bench-train", help="training throughput: data streamed from disk vs held in memory",
        description="Seconds per step and images per second of training each model through "
        "the engine (fit, L1 loss) on the profile's rendered data, streamed from disk and "
        "decoded once into memory, in one run; writes results/bench/<device>-training-path.csv.")
    p.add_argument("--models", nargs="+", help="registered model names (default: the papers')")
    p.add_argument("--profile", default="quick", help="profile whose data, size and batch to "
                   "use (default quick; its SynVIDIT set must be rendered)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per path (default 10)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--out", type=Path, help="CSV path")


def _cmd_bench_train(args) -> int:
    from relight_lib import bench
    from relight_lib.library.utils import pick_device
    from relight_lib.papers import profiles

    prof = profiles.resolve(args.profile)
    device = pick_device(args.device)
    models = args.models or ["ltnet", "dmshn", "stacked_dmshn", "mbnet"]
    rows = []
    for name in models:
        got = bench.bench_data_path(name, prof, device, steps=args.steps)
        rows += got
        for r in got:
            if r["measure"].startswith(("step_s", "speedup")) or r["measure"] == "error":
                print(f"{name:>16} {r['measure']:>17} {r['precision']:>7} {r['value']!s:>10} "
                      f"{r['unit']}")
    out = args.out or Path("results/bench") / f"{bench.device_slug(device)}-training-path.csv"
    path = bench.write_csv(out, rows, bench.run_context(device, "training-path", prof.name))
    print(f"wrote {path}")
    return 0


def _add_reproduce(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="run the notebooks' table rows with papermill (skips up-to-date rows)",
        description="Run one papermill job per table row (notebooks/<paper>/runs.yaml) into "
        "results/<profile>/. A row whose cache key matches its committed result is skipped "
        "unless --force. Failing rows do not stop the others; exit status 1 if any failed.")
    p.add_argument("--profile", default="quick", help="smoke | quick | gpu | paper")
    p.add_argument("--paper")
    p.add_argument("--table")
    p.add_argument("--variant")
    p.add_argument("--jobs", type=int, default=1, help="rows run in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="rerun rows even when up to date")
    p.add_argument("--list", action="store_true", help="list the rows and their state only")
    p.add_argument("--dry-run", action="store_true",
                   help="print each row's plan (model, sizes, budget, lr drops, losses, "
                   "evaluation, post-process, deviations) without training; exit status 1 "
                   "naming every row that cannot be planned")
    p.add_argument("--data-root", type=Path,
                   help="real VIDIT folder for every row (the paper profile also reads "
                   "$RELIGHT_VIDIT)")
    p.add_argument("--plan-json", type=Path,
                   help="with --dry-run: also write the plans to this JSON file")


def _cmd_reproduce(args) -> int:
    from relight_lib.papers import profiles
    from relight_lib.harness import book, reproduce

    if args.profile not in profiles.PROFILES:
        raise KeyError(f"unknown profile {args.profile!r}; choose from "
                       f"{', '.join(profiles.list_profiles())}")
    if args.dry_run:
        plans, failures = reproduce.plan_rows(
            args.profile, args.paper, args.table, args.variant,
            data_root=str(args.data_root) if args.data_root else None)
        if args.plan_json:
            import json

            args.plan_json.write_text(json.dumps({"profile": args.profile, "plans": plans,
                                                  "failures": failures}, indent=1))
        print(f"planned {len(plans)} row(s) at the {args.profile} profile"
              + (f"; {len(failures)} cannot be planned: {', '.join(sorted(failures))}"
                 if failures else ""))
        return 1 if failures else 0
    if args.list:
        data_root = str(args.data_root) if args.data_root else None
        states = reproduce.row_states(args.profile, args.paper, args.table, args.variant,
                                      data_root=data_root)
        for r, state in states:
            print(f"{r.name}  [{state}]  ({r.notebook}, parameters {r.params_at(args.profile)})")
        print(reproduce.state_counts([state for _, state in states]))
        return 0
    outcomes = reproduce.reproduce(args.profile, args.paper, args.table, args.variant,
                                   jobs=args.jobs, force=args.force,
                                   data_root=str(args.data_root) if args.data_root else None)
    print(reproduce.summary(outcomes))
    if args.profile == book.DEFAULT_PROFILE and any(o.status == "ran" for o in outcomes) \
            and book.refresh_committed_toc():
        # a row run for the first time has a new run page, which the committed TOC must list
        print("_toc.yml updated: it lists the new run page(s)")
    from relight_lib.harness import claims

    print(f"{claims.write_claims_csv(args.profile)} written: the verdicts of every claim")
    _refresh_readme(args.profile)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _refresh_readme(profile: str) -> None:
    """Rewrite the README's generated blocks (where the numbers stand, ...) from the committed
    results, like ``_toc.yml``: only for the book's profile, whose results are committed."""
    from relight_lib.harness import book, readme

    if profile == book.DEFAULT_PROFILE and readme.refresh_readme():
        print(f"{readme.README} updated: its generated blocks follow the results")


def _add_try(sub) -> None:
    p = sub.add_parser(
        "try", help="run one table row with changed parameters (outside results/) and compare",
        description="Run one row of notebooks/<paper>/runs.yaml with its parameters changed by "
        "--set, into _build/exercises/<profile>/ (never results/), as the variant "
        "<variant>__<name>, then print each metric of the committed row next to the new run's "
        "(means over seeds) and the difference. A run with the same name, changes and code is "
        "cached; --force reruns it.",
        epilog="examples: relight try msrnet/table2/dmshn_cl --set stage1_fraction=0.25; "
        "relight try msrnet/table2/dmshn_cl --set steps=400 --set lr=1e-3 --set batch_size=4; "
        "relight try msrnet/table2/dmshn_cl --params")
    p.add_argument("row", help="PAPER/TABLE/VARIANT, e.g. msrnet/table2/dmshn_cl "
                   "(relight reproduce --list shows the rows)")
    p.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                   help="change one notebook parameter; VALUE is a YAML literal (0.25, true, "
                   "null, [rgb, depth], text); repeatable")
    p.add_argument("--profile", default="quick", help="smoke | quick | gpu | paper "
                   "(default quick)")
    p.add_argument("--name", help="name of this try (default: a slug of the changes)")
    p.add_argument("--results-root", type=Path, default=Path("_build/exercises"),
                   help="where the try goes (default _build/exercises)")
    p.add_argument("--force", action="store_true", help="rerun even when an identical try "
                   "is up to date")
    p.add_argument("--params", action="store_true",
                   help="list every parameter --set accepts for this row, with the value the "
                   "run would use and where it comes from; run nothing")


def _cmd_try(args) -> int:
    from relight_lib.harness import reproduce

    if args.params:
        committed, _ = reproduce.try_row_for(args.row, {}, args.name)
        print(reproduce.format_parameters(committed, reproduce.parse_set(args.changes),
                                          profile=args.profile))
        return 0
    res = reproduce.try_row(*reproduce.parse_row_spec(args.row),
                            reproduce.parse_set(args.changes), profile=args.profile,
                            name=args.name, results_root=args.results_root, force=args.force)
    o = res.outcome
    if o.status == "failed":
        print(f"relight try: {res.tried.name} failed after {o.seconds:.0f} s:\n{o.error}",
              file=sys.stderr)
        if o.failed_notebook:
            print(f"the executed notebook (with the error) is at {o.failed_notebook}",
                  file=sys.stderr)
        return 1
    print(f"{res.tried.name}: " + (f"ran in {o.seconds:.0f} s" if o.status == "ran" else
                                   "up to date (an identical earlier try; --force reruns it)"))
    print(res.report())
    return 0


def _add_book(sub) -> None:
    p = sub.add_parser("book", help="build the Jupyter Book for a profile",
                       description="Check the TOC and glue keys, then run jupyter-book build "
                       "-W into _build/<profile>/_build/html.")
    p.add_argument("--profile", default="quick")
    p.add_argument("--toc-only", action="store_true",
                   help="only (re)write the committed _toc.yml (quick profile)")


def _cmd_book(args) -> int:
    from relight_lib.harness import book

    if args.toc_only:
        Path("_toc.yml").write_text(book.toc_text(book.make_toc(args.profile), args.profile))
        print("_toc.yml")
        return 0
    from relight_lib.harness import claims

    print(f"{claims.write_claims_csv(args.profile)} written: the verdicts of every claim")
    _refresh_readme(args.profile)
    try:
        html = book.build(args.profile)
    except RuntimeError as e:
        print(f"relight book: {e}", file=sys.stderr)
        return 1
    print(f"book built: open {html.resolve() / 'index.html'}")
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="relight your own image with a trained checkpoint",
                       description="Relight IN.png with a trained model and write OUT.png. "
                       "Sides the model cannot take are padded and cropped back; large images "
                       "are processed in overlapping tiles when they do not fit in memory.")
    p.add_argument("--model", help="registered model name (default: the one in the checkpoint)")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--image", required=True, type=Path)
    p.add_argument("--depth", type=Path, help="depth map (.npy as in VIDIT, or a grey PNG)")
    p.add_argument("--guide", type=Path, help="guide image (any-to-any models)")
    p.add_argument("--guide-depth", type=Path, help="depth of the guide image")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--tile", default="auto",
                   help="tile side in px, or 'auto' (whole image, tiles only on out-of-memory)")
    p.add_argument("--overlap", type=int, default=32, help="tile overlap in px (default 32)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")


def _cmd_predict(args) -> int:
    from relight_lib.library.infer import predict_file
    from relight_lib.library.utils import pick_device

    tile = args.tile if args.tile == "auto" else int(args.tile)
    # check the output before minutes of inference, not after
    folder = args.out.parent if str(args.out.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"--out {args.out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"--out {args.out}: the folder {folder} is not writable")
    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give a file name (OUT.png)")
    print(predict_file(args.model, args.checkpoint, args.image, args.out, depth=args.depth,
                       guide=args.guide, guide_depth=args.guide_depth, tile=tile,
                       overlap=args.overlap, device=str(pick_device(args.device))))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from relight_lib import __version__

    parser = argparse.ArgumentParser(prog="relight",
                                     description="VIDIT relighting replication suite")
    parser.add_argument("--version", action="version", version=f"relight_lib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    _add_check(sub)
    _add_sheet(sub)
    _add_bench(sub)
    _add_bench_models(sub)
    _add_bench_train(sub)
    _add_reproduce(sub)
    _add_try(sub)
    _add_book(sub)
    _add_predict(sub)
    return parser


COMMANDS = {
    "render": _cmd_render,
    "check-data": _cmd_check,
    "contact-sheet": _cmd_sheet,
    "bench-render": _cmd_bench,
    "bench": _cmd_bench_models,
    "bench-train": _cmd_bench_train,
    "reproduce": _cmd_reproduce,
    "try": _cmd_try,
    "book": _cmd_book,
    "predict": _cmd_predict,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from relight_lib.library.data.imageio import DataError
    from relight_lib.library.data.synvidit import RenderError

    try:
        return COMMANDS[args.command](args)
    except (RenderError, DataError, ValueError, KeyError, OSError) as e:
        # KeyError's str() quotes its message; say it as written
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"relight {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = {"render": "finished scenes are kept, rerun to resume",
                "bench": "the rows measured so far are written, with a row saying so",
                "reproduce": "finished rows are kept, rerun to resume"}
        print(f"relight {args.command}: interrupted"
              + (f"; {kept[args.command]}" if args.command in kept else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
