import time, numpy as np, numba
from synbench import coba
spec = coba(4000, seed=0); conns = spec.connectivity()
ne = 3000
def arr(name):
    ps, pi = conns[name].require("pre_slice", "post_ids")
    return np.ascontiguousarray(ps), np.ascontiguousarray(pi)
(ee_s, ee_i), (ei_s, ei_i), (ie_s, ie_i), (ii_s, ii_i) = map(arr, ["E2E", "E2I", "I2E", "I2I"])
de, di = np.exp(-0.1 / 5), np.exp(-0.1 / 10)
c = np.expm1(-0.1 / 20.0)
@numba.njit
def sim(nsteps, v, last, ge, gi, spk, ee_s, ee_i, ei_s, ei_i, ie_s, ie_i, ii_s, ii_i):
    n = v.size
    count = 0
    isyn = np.zeros(n)
    for t in range(nsteps):
        for i in range(n):
            ref = t - last[i] <= 50
            vi = v[i] - (-40.0 + isyn[i] - v[i]) * c
            s = not ref and vi >= -50.0
            v[i] = v[i] if ref else (-60.0 if s else vi)
            last[i] = t if s else last[i]
            spk[i] = s
        for i in range(n):
            ge[i] *= de
            gi[i] *= di
        for i in range(n):
            if spk[i]:
                count += 1
                if i < ne:
                    for k in range(ee_s[i, 0], ee_s[i, 1]): ge[ee_i[k]] += 0.6
                    for k in range(ei_s[i, 0], ei_s[i, 1]): ge[ne + ei_i[k]] += 0.6
                else:
                    for k in range(ie_s[i - ne, 0], ie_s[i - ne, 1]): gi[ie_i[k]] += 6.7
                    for k in range(ii_s[i - ne, 0], ii_s[i - ne, 1]): gi[ne + ii_i[k]] += 6.7
        for i in range(n):
            isyn[i] = ge[i] * (0.0 - v[i]) + gi[i] * (-80.0 - v[i])
    return count
def fresh():
    return (spec.initial["v"].copy(), np.full(4000, -10**6, np.int32), np.zeros(4000), np.zeros(4000), np.zeros(4000, bool))
sim(1, *fresh(), ee_s, ee_i, ei_s, ei_i, ie_s, ie_i, ii_s, ii_i)
for _ in range(5):
    st = fresh()
    t0 = time.perf_counter(); cnt = sim(10000, *st, ee_s, ee_i, ei_s, ei_i, ie_s, ie_i, ii_s, ii_i); el = time.perf_counter() - t0
    print("hand fused 1 s bio: %.1f ms, rate %.1f Hz" % (el * 1e3, cnt / 4000))
