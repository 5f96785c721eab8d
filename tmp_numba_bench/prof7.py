import sys, time, numpy as np, numba
from synbench import coba, registry, run
from synbench.impls import numba_backend as nb
spec = coba(4000, seed=0); conns = spec.connectivity()
entry = registry.get(sys.argv[1] if len(sys.argv) > 1 else "pre_slice", "numba")
r = run(spec, "pre_slice", "numba", duration=100.0, conns=conns)
S = np.zeros((1000, 4000), bool); S[r.spike_steps, r.spike_ids] = True
sim = nb.Simulation(spec, entry, conns, 0.1, "float64", 1000)

@numba.njit
def kernels(S, step, conductance, projs, v, i_syn, mode):
    for t in range(S.shape[0]):
        spikes = S[t]
        for p in range(len(projs)):
            if mode == 0:
                nb._project(spikes, v, i_syn, projs[p], step, conductance)
            elif mode == 1:
                data, state, out, g_init, (pre_start, pre_stop, post_start, post_stop), decay, e_rev = projs[p]
                step(data, state, spikes[pre_start:pre_stop], decay)
            elif mode == 2:
                data, state, out, g_init, (pre_start, pre_stop, post_start, post_stop), decay, e_rev = projs[p]
                g = conductance(data, state, out)
                nb._add_current(i_syn[post_start:post_stop], g, g_init, decay, e_rev, v[post_start:post_stop])
            elif mode == 3:
                data, state, out, g_init, (pre_start, pre_stop, post_start, post_stop), decay, e_rev = projs[p]
                for i in nb.spiking(spikes[pre_start:pre_stop]):
                    i_syn[0] += 1e-300
            elif mode == 4:
                data, state, out, g_init, (pre_start, pre_stop, post_start, post_stop), decay, e_rev = projs[p]
                for j in range(state.size):
                    state[j] *= decay

v = sim.vars["v"]; i_syn = sim.i_syn
for mode in (0, 1, 2, 3, 4, 0):
    kernels(S[:1], entry.step, entry.conductance, sim.projections, v, i_syn, mode)
    ts = []
    for _ in range(15):
        t0 = time.perf_counter(); kernels(S, entry.step, entry.conductance, sim.projections, v, i_syn, mode); ts.append(time.perf_counter() - t0)
    print("mode", mode, "min %.2f med %.2f ms" % (min(ts) * 1e3, np.median(ts) * 1e3))
