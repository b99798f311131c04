"""What a row's run shows while its notebook trains in a papermill kernel.

The kernel's :func:`relight_lib.library.train.fit` keeps its position in a small JSON file
(:class:`relight_lib.library.train.ProgressStatus`) named by ``$RELIGHT_PROGRESS``, which
:class:`RowWatch` sets for the kernel and reads from a thread every half second:

* on a terminal, one line redrawn in place, e.g.
  ``msrnet/table2/dmshn_mse  seed 0  train  step 120/800  elapsed 1m02s  ETA 5m40s  val PSNR
  18.42 dB``; once the training of a seed is done, ``evaluating`` replaces the ETA (the
  evaluation, the timing and the figures follow the training);
* everywhere (terminal or log file), one line per finished seed, when its ``run.json``
  appears: ``msrnet/table2/dmshn_mse  seed 0 done in 1m52s (800 steps, last val PSNR
  18.42 dB)``.

The ETA is the training's alone: steps left times this training's seconds per step so far
(validation points included), so it says nothing of the evaluation after it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from relight_lib.library.train import PROGRESS_ENV, read_progress

#: Seconds between two reads of the status (and two redraws of the line).
POLL_S = 0.5


def format_duration(seconds: float | None) -> str:
    """A duration for a progress line.

    >>> [format_duration(s) for s in (0, 9.6, 62, 3599, 3725, None)]
    ['0s', '10s', '1m02s', '59m59s', '1h02m', '?']
    """
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def eta_seconds(status: dict[str, Any], now: float | None = None) -> float | None:
    """Seconds left in the training the status describes: steps left times this ``fit``
    call's seconds per step so far, less the time since the status was written (``now`` and
    the status's ``time``, Unix seconds; the estimate counts down between two writes, never
    below 0); None before the first step.

    >>> eta_seconds({"step": 150, "total": 800, "fit_start_step": 100, "fit_elapsed_s": 25.0})
    325.0
    >>> eta_seconds({"step": 150, "total": 800, "fit_start_step": 100, "fit_elapsed_s": 25.0,
    ...              "time": 1000.0}, now=1010.0)
    315.0
    >>> eta_seconds({"step": 100, "total": 800, "fit_start_step": 100, "fit_elapsed_s": 0.0})
    """
    try:
        step, total = int(status["step"]), int(status["total"])
        done = step - int(status.get("fit_start_step", 0))
        elapsed = float(status["fit_elapsed_s"])
    except (KeyError, TypeError, ValueError):
        return None
    if done <= 0 or elapsed <= 0:
        return None
    left = max(0, total - step) * elapsed / done
    if now is not None and isinstance(status.get("time"), (int, float)):
        left = max(0.0, left - max(0.0, now - float(status["time"])))
    return left


def _psnr(value: Any) -> str | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return f"{v:.2f} dB" if v == v else None


def format_line(row: str, status: dict[str, Any] | None, elapsed: float,
                now: float | None = None, seeds_done: int = 0) -> str:
    """The one-line progress of row ``row``: seed, stage, step / total, the seed's elapsed
    time, the training's ETA and the last validation PSNR. ``elapsed`` counts from the start
    of the seed (the row's start for its first); ``now`` (Unix seconds) counts the ETA down
    from the status's time (:func:`eta_seconds`). ``seeds_done``: how many seeds have their
    results written, when the status's own seed is one of them (its status is over: the next
    seed prepares, or the notebook's last cells run); 0 otherwise.

    >>> format_line("msrnet/table2/dmshn_mse", {"seed": 0, "stage": "train", "step": 150,
    ...     "total": 800, "fit_start_step": 100, "fit_elapsed_s": 25.0, "val_psnr": 18.421,
    ...     "phase": "train"}, 62)
    'msrnet/table2/dmshn_mse  seed 0  train  step 150/800  elapsed 1m02s  ETA 5m25s  val PSNR 18.42 dB'
    >>> format_line("a/b/c", None, 3)
    'a/b/c  running, no training status yet  elapsed 3s'
    >>> format_line("a/b/c", {"seed": 0, "step": 4, "total": 4}, 3, seeds_done=1)
    "a/b/c  1 seed(s) done  elapsed 3s  (next seed, or the notebook's last cells)"
    """
    if not status:
        # the kernel starts, imports, loads the data; or a loop that writes no status
        return f"{row}  running, no training status yet  elapsed {format_duration(elapsed)}"
    if seeds_done:
        return (f"{row}  {seeds_done} seed(s) done  elapsed {format_duration(elapsed)}  "
                "(next seed, or the notebook's last cells)")
    step, total = status.get("step"), status.get("total")
    parts = [row, f"seed {status.get('seed', '?')}", str(status.get("stage") or "train"),
             f"step {step if step is not None else '?'}/{total if total is not None else '?'}",
             f"elapsed {format_duration(elapsed)}"]
    finished = (status.get("phase") == "trained" and step is not None and total is not None
                and step >= total)
    parts.append("evaluating" if finished
                 else f"ETA {format_duration(eta_seconds(status, now))}")
    psnr = _psnr(status.get("val_psnr"))
    if psnr:
        parts.append(f"val PSNR {psnr}")
    return "  ".join(parts)


def format_seed_done(row: str, seed: Any, seconds: float, status: dict[str, Any] | None) -> str:
    """The line printed once a seed's results are written.

    >>> format_seed_done("a/b/c", 1, 112.4, {"seed": 1, "total": 800, "val_psnr": 18.4})
    'a/b/c  seed 1 done in 1m52s (800 steps, last val PSNR 18.40 dB)'
    >>> format_seed_done("a/b/c", 0, 5, None)
    'a/b/c  seed 0 done in 5s'
    """
    line = f"{row}  seed {seed} done in {format_duration(seconds)}"
    if status and str(status.get("seed")) == str(seed):
        extra = [f"{status['total']} steps"] if status.get("total") is not None else []
        psnr = _psnr(status.get("val_psnr"))
        if psnr:
            extra.append(f"last val PSNR {psnr}")
        if extra:
            line += f" ({', '.join(extra)})"
    return line


def fit_width(line: str, row: str, width: int) -> str:
    """``line`` cut to ``width`` characters: the row's name (its start) is shortened first,
    keeping its end (the variant), so that the numbers stay visible.

    >>> fit_width("msrnet/table2/dmshn_mse  seed 0  step 3/6", "msrnet/table2/dmshn_mse", 30)
    '...dmshn_mse  seed 0  step 3/6'
    >>> fit_width("a/b/c  seed 0  step 3/6  elapsed 1s", "a/b/c", 12)
    'a/b/c  seed '
    """
    if len(line) <= width:
        return line
    if line.startswith(row):
        rest = line[len(row):]
        keep = width - len(rest) - 3
        if keep >= 8:
            return "..." + row[-keep:] + rest
    return line[:max(10, width)]


def _seed_of(run_json: Path) -> str:
    return run_json.parent.name.split("=", 1)[-1]


class RowWatch:
    """Shows the progress of one row's run while the ``with`` block runs its notebook.

    Args:
        row: The row's name (``paper/table/variant``).
        result_dir: The row's results folder: a new ``seed=*/run.json`` there is a finished
            seed.
        stream: Where the lines go (default: standard output).
        live: Redraw one line in place (default: when ``stream`` is a terminal). Without it
            only the finished seeds' lines are printed.
        status_env: Set ``$RELIGHT_PROGRESS`` for the kernel started inside the block. Rows
            run in parallel threads share this process's environment, so they watch their
            results folder only (``status_env=False``).
    """

    def __init__(self, row: str, result_dir: Path, stream: TextIO | None = None,
                 live: bool | None = None, status_env: bool = True) -> None:
        self.row, self.result_dir = row, Path(result_dir)
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.live = bool(isatty()) if live is None else live
        self.status_env = status_env
        self.status_path: Path | None = None
        self._tmpdir: str | None = None
        self._seen: dict[Path, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._width = 0
        self._shown = ""
        self._done: set[str] = set()
        self._status: dict[str, Any] | None = None
        self._t0 = self._seed_t0 = time.monotonic()
        self._old_env: str | None = None

    # -- what the watcher does on each poll ---------------------------------------------------

    def _runs(self) -> dict[Path, float]:
        out = {}
        for rj in self.result_dir.glob("seed=*/run.json"):
            try:
                out[rj] = rj.stat().st_mtime
            except OSError:
                continue
        return out

    def poll(self, now: float | None = None) -> list[str]:
        """Read the status and the results folder once; print a line per newly finished seed
        (and redraw the live line). Returns the finished seeds' lines."""
        with self._lock:  # the thread and the block's end may poll at once
            return self._poll(time.monotonic() if now is None else now)

    def _poll(self, now: float) -> list[str]:
        if self.status_path is not None:
            got = read_progress(self.status_path)
            if got is not None:
                self._status = got
        done = []
        for rj, mtime in sorted(self._runs().items()):
            if self._seen.get(rj) == mtime:
                continue
            self._seen[rj] = mtime
            done.append(format_seed_done(self.row, _seed_of(rj), now - self._seed_t0,
                                         self._status))
            self._seed_t0 = now
            self._done.add(_seed_of(rj))
        for line in done:
            self._print(line)
        if self.live:
            over = bool(self._status) and str(self._status.get("seed")) in self._done
            self._draw(format_line(self.row, self._status, now - self._seed_t0, time.time(),
                                   len(self._done) if over else 0))
        return done

    def _draw(self, line: str) -> None:
        line = fit_width(line, self.row, shutil.get_terminal_size((100, 24)).columns - 1)
        if line == self._shown:
            return
        self._shown = line
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def clear(self) -> None:
        """Wipe the live line (before other output)."""
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
            self._shown = ""

    def _print(self, line: str) -> None:
        self.clear()
        self.stream.write(line + "\n")
        self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
            except Exception:  # a display glitch must never stop the row
                pass

    # -- the block -----------------------------------------------------------------------------

    def __enter__(self) -> RowWatch:
        # the seeds written before this run (a --force rerun overwrites them) are not news
        self._seen = self._runs()
        if self.status_env:
            self._tmpdir = tempfile.mkdtemp(prefix="relight-progress-")
            self.status_path = Path(self._tmpdir) / "status.json"
            self._old_env = os.environ.get(PROGRESS_ENV)
            os.environ[PROGRESS_ENV] = str(self.status_path)
        self._t0 = self._seed_t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=f"progress {self.row}",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.poll()  # a seed that finished since the last poll still gets its line
        finally:
            self.clear()
            if self.status_env:
                if self._old_env is None:
                    os.environ.pop(PROGRESS_ENV, None)
                else:
                    os.environ[PROGRESS_ENV] = self._old_env
                if self._tmpdir is not None:
                    shutil.rmtree(self._tmpdir, ignore_errors=True)
