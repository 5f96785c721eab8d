"""procedural on Numba: no synapse stored, each spiking row regenerated (GeNN's procedural
connectivity), state per post neuron.

The hashing helpers below are ``synbench.core.connect.generated``'s arithmetic line by
line, on uint64 scalars masked to 32 bits after every product and sum (Numba computes
uint32 products in 64 bits), so the targets are those of ``RowGenerator.targets``
exactly. They are small ``@njit`` functions a user can call from their own code.
"""

from collections import namedtuple

import numpy as np

from ...core.connect import generated
from . import SIZES, jit, post_is_state, register, sizes, spiking, weights

ProceduralData = namedtuple("ProceduralData", SIZES + (
    "weight", "key0", "key1", "skip_self", "n_avail", "half_bits", "num", "count_lo",
    "count_table"))

# generated.py's constants, written out: Numba's disk cache of these functions is keyed
# on this file alone, so a change there must fail here (the assertion) rather than load
# kernels compiled with the old values.
_MASK = np.uint64(0xFFFFFFFF)
_M0, _M1 = np.uint64(0x21F0AAAD), np.uint64(0x735A2D97)
_COUNT_STREAM = np.uint64(0x68E31DA4)
_GOLDEN = 0x9E3779B9
assert (int(_MASK), (int(_M0), int(_M1)), int(_COUNT_STREAM), _GOLDEN, 4) == (
    generated.MASK32, generated.MIX_MULTIPLIERS, generated.COUNT_STREAM, generated.GOLDEN,
    generated.ROUNDS), "synbench.core.connect.generated changed: update these constants"
# round r's offset r * GOLDEN (modulo 2**32 once added to the row key)
_R1, _R2, _R3 = (np.uint64((r * _GOLDEN) & 0xFFFFFFFF) for r in (1, 2, 3))
_S15, _S16 = np.uint64(15), np.uint64(16)


def prepare(conn, weight, dtype):
    """The generator's parameters (keys, sizes, count table) and the one weight."""
    gen = conn.generator
    table = np.zeros(0, np.uint64) if gen.count_table is None else gen.count_table
    return ProceduralData(
        *sizes(conn, dtype), weights(conn, weight, dtype), np.uint64(gen.key0),
        np.uint64(gen.key1), gen.skip_self, np.uint64(gen.n_avail), np.uint64(gen.half_bits),
        -1 if gen.num is None else int(gen.num), int(gen.count_lo),
        np.ascontiguousarray(table, dtype=np.uint64))


@jit
def mix(x):
    """``generated.mix`` of one uint64 holding a 32-bit value."""
    x = x ^ (x >> _S16)
    x = (x * _M0) & _MASK
    x = x ^ (x >> _S15)
    x = (x * _M1) & _MASK
    return x ^ (x >> _S15)


@jit
def row_key(data, i):
    """Row i's key: mix(mix(i ^ key0) ^ key1)."""
    return mix(mix(np.uint64(i) ^ data.key0) ^ data.key1)


@jit
def row_count(data, key):
    """Row's synapse count: ``num``, or count_lo + the entries of the table <= u (a
    binary search of the table)."""
    if data.num >= 0:
        return data.num
    u = mix(key ^ _COUNT_STREAM)
    lo, hi = 0, data.count_table.size
    while lo < hi:  # the first entry > u
        mid = (lo + hi) // 2
        if data.count_table[mid] <= u:
            lo = mid + 1
        else:
            hi = mid
    return data.count_lo + lo


@jit
def round_keys(key):
    """The Feistel round keys of a row: mix((key + r * GOLDEN) mod 2**32), r = 0..3."""
    return (mix(key), mix((key + _R1) & _MASK), mix((key + _R2) & _MASK),
            mix((key + _R3) & _MASK))


@jit
def feistel(x, keys, half_bits):
    """One pass of the 4-round Feistel network on 2 * half_bits bits."""
    half = (np.uint64(1) << half_bits) - np.uint64(1)
    left, right = x >> half_bits, x & half
    for k in keys:
        left, right = right, left ^ (mix(right ^ np.uint64(k)) & half)
    return (left << half_bits) | right


@jit
def target(data, keys, i, k):
    """The k-th target of row i (whose round keys are ``keys``): the Feistel permutation
    of k walked until it falls below n_avail, then moved past i without self-connections."""
    x = feistel(np.uint64(k), keys, data.half_bits)
    while x >= data.n_avail:
        x = feistel(x, keys, data.half_bits)
    t = np.int64(x)
    if data.skip_self and t >= i:
        t += 1
    return t


@jit
def deliver(data, g, events):
    """Each pre neuron with an event regenerates its targets and adds its weight to each.

    Needs no structure: the generator's keys, sizes and count table (a few hundred
    values). Cost per step: O(count * cycle walk) hashes per spike: 7 mixes per row (its
    key, count and round keys), then 4 per Feistel pass per synapse, with on average
    2**(2 half_bits) / n_avail passes (1 to 4: ``generated.expected_rounds``); no memory
    per synapse. Serial (two spikers may share a target).
    """
    for i in spiking(events):
        a = g.dtype.type(events[i]) * data.weight[0]
        key = row_key(data, i)
        keys = round_keys(key)
        for k in range(row_count(data, key)):
            g[target(data, keys, i, k)] += a
    return g


register("procedural", prepare=prepare, deliver=deliver, conductance=post_is_state)
