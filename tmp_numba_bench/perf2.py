import sys, time
import numpy as np
from synbench import coba, registry
from synbench.impls import numba_backend as nb
n = int(sys.argv[1]); strats = sys.argv[2].split(",")
spec = coba(n, seed=0); conns = spec.connectivity()
for s in strats:
    entry = None if s == "none" else registry.get(s, "numba")
    sim = nb.Simulation(spec, entry, conns, 0.1, "float64", 1000)
    t0 = time.perf_counter(); sim.compile(); c = time.perf_counter() - t0
    times = []
    for k in range(10):
        t0 = time.perf_counter(); sim.advance(1000); times.append(time.perf_counter() - t0)
    times = np.array(times) * 1e3
    print(f"{s:12s} per 100 ms bio: min {times.min():6.2f} median {np.median(times):6.2f} ms; compile {c:.2f}s")
