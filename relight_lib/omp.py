"""OpenMP settings of the processes the suite starts.

The OpenMP runtime reads its environment once, when it starts (when torch is imported), so
these are set before: at the top of the ``relight`` command and in the environment the
papermill kernels of ``relight reproduce`` inherit. A variable the user has set is left alone.

``OMP_WAIT_POLICY=PASSIVE``: an OpenMP thread that waits for work sleeps instead of spinning.
On our 2-core machine, shared with other processes, spinning threads take the cores the other
thread of the same step needs; ``relight bench --costs`` measures the two policies
(``results/bench/<machine>-training-omp.csv``).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: Variables set in the processes the suite starts, unless already set.
DEFAULTS: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}


def apply_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set each of :data:`DEFAULTS` that ``environ`` (default ``os.environ``) lacks; returns
    the ones set. An explicit setting, even an empty one, is kept."""
    env = os.environ if environ is None else environ
    added = {k: v for k, v in DEFAULTS.items() if k not in env}
    env.update(added)
    return added
