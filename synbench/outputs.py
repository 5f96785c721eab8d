"""Result files: checked before a run starts, then written whole or not at all.

A run may take minutes, so every output path is tried *before* it: a temporary file is
actually created in the target folder (``os.access`` says yes to root on a read-only
filesystem, and knows nothing of special filesystems such as ``/proc``). A result is
written to a temporary file beside its target and renamed over it only once complete,
with the permissions a normally created file would get.
"""

from __future__ import annotations

import os
import tempfile

from .core.errors import SynbenchError

PLOT_FORMATS = ("png", "pdf", "svg")


def plot_format(path: str) -> str:
    """The image format named by ``path``'s extension, or a SynbenchError."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise SynbenchError(f"cannot write a plot to {path}: name it with one of the "
                            f"extensions {', '.join('.' + f for f in PLOT_FORMATS)}")
    return ext


def check_outputs(plot: str | None = None, json: str | None = None) -> None:
    """Refuse, before any work, output paths that could not be written afterwards."""
    if plot is not None:
        plot_format(plot)
    paths = [p for p in (plot, json) if p is not None]
    if len(paths) == 2 and os.path.realpath(paths[0]) == os.path.realpath(paths[1]):
        raise SynbenchError(f"--plot and --json name the same file {plot}; the second would "
                            "replace the first: give two different paths")
    for path in paths:
        check_writable(path)


def check_writable(path: str) -> None:
    """Create (and remove) a temporary file where ``path`` will be written."""
    if os.path.isdir(path):
        raise SynbenchError(f"cannot write {path}: it is a directory; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):
        raise SynbenchError(f"cannot write {path}: it exists and is not a regular file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise SynbenchError(f"cannot write {path}: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".synbench-check-")
        os.close(fd)
        os.remove(tmp)
    except OSError as err:
        raise SynbenchError(f"cannot write {path}: {err.strerror or err} in {directory}") \
            from None


def write_atomic(path: str, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    A failure leaves ``path`` as it was. The file gets the mode ``open`` would give it
    (0666 less the umask), not ``mkstemp``'s private 0600.
    """
    directory = os.path.dirname(os.path.abspath(path))
    base, ext = os.path.splitext(os.path.basename(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}-", suffix=ext)
        os.close(fd)
    except OSError as err:
        raise SynbenchError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        raise SynbenchError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    write_atomic(path, write)


def write_spikes(path: str, result) -> None:
    """The raster of a ``RunResult`` as .npz: ``spike_steps``, ``spike_ids``, ``dt``, ``n``."""
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, spike_steps=result.spike_steps, spike_ids=result.spike_ids,
                     dt=result.dt, n=result.n)

    write_atomic(path, write)


def save_figure(fig, path: str, dpi: int) -> None:
    """Save a matplotlib figure in the format its extension names, atomically."""
    fmt = plot_format(path)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask
