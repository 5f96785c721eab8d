"""Build synbench's COBA network in Brian 2's C++ standalone mode (run with Brian's Python).

Brian 2 is not a synbench dependency: it pins numpy < 2.4, so it lives in its own
virtual environment and this script imports synbench from the repository next to it:

    python3 -m venv /opt/brian_venv && /opt/brian_venv/bin/pip install brian2 "numpy<2.4"
    /opt/brian_venv/bin/python scripts/brian2_coba.py --n 4000 --workdir /tmp/brian_coba_4000

The network is synbench's own spec: the same groups, parameters, initial V and the very
same synapses (pre_ids/post_ids of every projection). Brian integrates g(E - v) inside
exponential_euler and spikes on v > V_th, where synbench holds I_syn over a step and
spikes on V >= V_th, so rates agree closely but rasters do not match spike for spike.
Brian's exponential Euler therefore takes an exp per neuron and step for v, ge and gi
(about two thirds of its run time at n = 4000, by Brian's own profiling), work that
synbench's update does not do; ``--method euler`` gives Brian's cheapest update instead.

``--threads N`` builds Brian with OpenMP on N threads (its ``openmp_threads``), to set
against synbench's numba_parallel backend on as many (``scripts/vs_brian2.py --threads``).

``--delay`` gives both sides the same transmission delays (``coba(n, delay=...)``: one
number of ms, or LOW:HIGH for random per-synapse delays drawn from the network seed):
each Brian ``Synapses`` gets the spec's delay of every synapse (:func:`synapse_table`).

Prints one JSON line: Brian's own timing of the simulation loop (``run_s``, without code
generation and compilation), rates per group, and the path of the compiled binary.
``scripts/vs_brian2.py`` drives this script and alternates the binary with synbench.
"""

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from synbench.core.networks import coba  # noqa: E402

DT_MS = 0.1  # DESIGN section 3


def synapse_table(spec, conns, dt=DT_MS):
    """Per projection: (name, i, j, delay_ms) as Brian's ``Synapses`` takes them: the
    population indices of every synapse's pre and post neuron, and its delay in ms (one
    number, or one per synapse), from the spec alone (no Brian import)."""
    table = []
    for proj in spec.projections:
        conn = conns[proj.name]
        steps = proj.delay_steps(conn, dt)
        table.append((proj.name,
                      conn.pre_ids.astype(np.int64) + spec.group(proj.pre).start,
                      conn.post_ids.astype(np.int64) + spec.group(proj.post).start,
                      np.asarray(steps, np.float64) * dt))
    return table


def build(n, duration_ms, workdir, method="exponential_euler", delay=0.0, threads=1):
    from brian2 import (
        Network,
        NeuronGroup,
        SpikeMonitor,
        Synapses,
        defaultclock,
        device,
        ms,
        mV,
        prefs,
        set_device,
    )

    spec = coba(n, delay=delay)
    p = spec.params
    conns = spec.connectivity()
    set_device("cpp_standalone", directory=workdir, build_on_run=False)
    # One thread: no OpenMP at all (like synbench's numba backend); more: OpenMP with
    # that many (like numba_parallel --threads N).
    prefs.devices.cpp_standalone.openmp_threads = 0 if threads == 1 else threads
    defaultclock.dt = DT_MS * ms
    exc = next(proj for proj in spec.projections if proj.pre == "E")
    inh = next(proj for proj in spec.projections if proj.pre == "I")
    eqs = f"""
    dv/dt = ({p.el}*mV - v + {p.i_bg}*mV + ge*({exc.e_rev}*mV - v) + gi*({inh.e_rev}*mV - v))
        / ({p.tau}*ms) : volt (unless refractory)
    dge/dt = -ge / ({exc.synapse.tau}*ms) : 1
    dgi/dt = -gi / ({inh.synapse.tau}*ms) : 1
    """
    neurons = NeuronGroup(spec.n, eqs, threshold=f"v > {p.v_th}*mV",
                          reset=f"v = {p.v_reset}*mV", refractory=p.t_ref * ms,
                          method=method)
    neurons.v = np.asarray(spec.initial["v"]) * mV
    # Brian's magic network does not see objects held in a list, so the Network is explicit.
    net = Network(neurons)
    for proj, (name, i, j, delay_ms) in zip(spec.projections, synapse_table(spec, conns),
                                            strict=True):
        target = "ge" if proj.pre == "E" else "gi"  # one tau and E_rev per pre group (COBA)
        syn = Synapses(neurons, neurons, on_pre=f"{target} += {proj.weight}", name=name)
        syn.connect(i=i, j=j)
        syn.delay = delay_ms * ms  # one number, or one per synapse in connect's order
        net.add(syn)
    monitor = SpikeMonitor(neurons)
    net.add(monitor)
    net.run(duration_ms * ms)
    device.build(directory=workdir, compile=True, run=True)
    counts = np.bincount(np.asarray(monitor.i), minlength=spec.n)
    seconds = duration_ms / 1000.0
    rates = {g.name: float(counts[g.start:g.stop].mean() / seconds) for g in spec.groups}
    return {"n": n, "duration_ms": duration_ms, "threads": threads,
            "run_s": device._last_run_time,
            "rates_hz": rates, "n_syn": int(sum(len(s) for s in net.objects if
                                                isinstance(s, Synapses))),
            "binary": str(pathlib.Path(workdir, "main").resolve())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--duration", type=float, default=1000.0, help="ms of biology")
    parser.add_argument("--workdir", required=True, help="where Brian writes the C++ project")
    parser.add_argument("--method", default="exponential_euler",
                        help="Brian's state updater (default exponential_euler; euler is "
                             "cheaper: no exp per neuron and step)")
    parser.add_argument("--delay", default="0", metavar="MS|LOW:HIGH",
                        help="synbench's coba(delay=...): ms, or LOW:HIGH per synapse")
    parser.add_argument("--threads", type=int, default=1,
                        help="OpenMP threads (default 1: built without OpenMP)")
    args = parser.parse_args()
    low, _, high = args.delay.partition(":")
    delay = (float(low), float(high)) if high else float(low)
    print(json.dumps(build(args.n, args.duration, args.workdir, args.method, delay,
                           args.threads)))
