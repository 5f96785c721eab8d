"""The delay mechanisms on numba_parallel: the serial Numba ones (``synbench.impls.numba.
delays``), registered for this backend.

Their loops stay on one thread: a spike ring and a spike queue add each arriving event
into a slot that other events of the step may share, and the input ring into a row of
post neurons in spike order, so a split over threads would have to keep that order per
slot (as the strategies' kernels do) to give the same numbers.
"""

from __future__ import annotations

from ...core import delays, registry
from ..numba.delays import input_ring, prepare, spike_queue, spike_ring
from . import BACKEND

for _name, _deliver in (("spike_ring", spike_ring), ("input_ring", input_ring),
                        ("spike_queue", spike_queue)):
    registry.register_delays(_name, BACKEND, prepare=prepare, deliver=_deliver,
                             **delays.host_buffers(_name))
