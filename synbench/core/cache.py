"""Where synbench keeps what it writes at run time (``fastest`` results, Numba's compiled
kernels): one user cache directory, never inside the installed package."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$SYNBENCH_CACHE_DIR, else $XDG_CACHE_HOME/synbench, else ~/.cache/synbench.

    Read on every call, so a changed environment variable takes effect at once.
    """
    override = os.environ.get("SYNBENCH_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "synbench"
