"""Several devices and several processes: JAX's distributed runtime, set up for synbench.

A sharded run (``run(..., backend="jax", devices=D)``, DESIGN section 8) needs D
devices. On one machine without several accelerators these are host CPU devices,
which XLA creates only when asked before JAX starts its CPU backend
(:func:`host_devices`). Across processes, on one host or several, every process calls
:func:`initialize` first (JAX's ``jax.distributed``: a coordinator, gloo collectives
between CPU processes, NCCL between GPUs), then runs the same program: the devices of
every process form one mesh. ``scripts/launch_local.py`` starts P local processes.

Nothing here imports JAX until it is called (importing synbench never imports JAX).
"""

from __future__ import annotations

import os
import re
import sys

from .core.errors import SynbenchError

_HOST_DEVICES = "--xla_force_host_platform_device_count"


def host_devices(count: int) -> None:
    """Ask XLA for ``count`` host CPU devices (at least; an existing larger count stays).

    Effective only before JAX starts its CPU backend (its first array or device query);
    later, a run asking for more devices than there are says how to get them.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    found = re.search(rf"{_HOST_DEVICES}=(\d+)", flags)
    if found is not None and int(found.group(1)) >= count:
        return
    flags = re.sub(rf"\s*{_HOST_DEVICES}=\d+", "", flags)
    os.environ["XLA_FLAGS"] = f"{flags} {_HOST_DEVICES}={int(count)}".strip()


def check_processes(coordinator: str | None, processes: int, process_id: int | None) -> None:
    """Refuse an inconsistent process setup with one clear line."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise SynbenchError(f"processes must be a positive integer, not {processes!r}")
    if processes == 1:
        return
    if coordinator is None or not re.fullmatch(r"[^:\s]+:\d+", coordinator):
        raise SynbenchError(f"{processes} processes need a coordinator HOST:PORT that every "
                            f"process reaches (the host of process 0), not {coordinator!r}")
    if isinstance(process_id, bool) or not isinstance(process_id, int) \
            or not 0 <= process_id < processes:
        raise SynbenchError(f"process id must be one of 0 .. {processes - 1} (each process "
                            f"its own), not {process_id!r}")


def initialize(coordinator: str, processes: int, process_id: int, timeout_s: int = 60) -> None:
    """Join ``processes`` processes into one JAX runtime (call before anything uses JAX).

    Process 0 runs the coordinator at ``coordinator`` (HOST:PORT); every process then
    sees the devices of all as ``jax.devices()``, and every collective spans them.
    Between CPU processes the collectives go through gloo. A process that is missing
    after ``timeout_s`` seconds makes the others stop.
    """
    check_processes(coordinator, processes, process_id)
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=processes,
                               process_id=process_id, initialization_timeout=timeout_s)


def process_index() -> int:
    """This process's index in the JAX runtime: 0 unless several processes run."""
    if "jax" not in sys.modules:
        return 0
    import jax

    return jax.process_index()
