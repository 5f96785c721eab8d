"""procedural on JAX: no synapse stored, each spiking row regenerated (GeNN's procedural
connectivity), state per post neuron, event-driven with a bound.

The hashing helpers are ``synbench.core.connect.generated``'s arithmetic on uint32
arrays, which wrap modulo 2**32 as that arithmetic does (no x64 needed), elementwise
over any shape, so the targets are those of ``RowGenerator.targets`` exactly.
"""

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...core.connect import generated
from . import make_data, post_is_state, register
from ._events import deliver_in_blocks, times_amplitude

_M0, _M1 = (np.uint32(m) for m in generated.MIX_MULTIPLIERS)
_COUNT_STREAM = np.uint32(generated.COUNT_STREAM)
_OFFSETS = tuple(np.uint32((r * generated.GOLDEN) & generated.MASK32)
                 for r in range(generated.ROUNDS))


def prepare(conn, weight, dtype, max_spikes=None):
    """The generator's keys and count table as device arrays, its sizes as static facts
    (``max_count``, the largest row count, bounds a block's grid of k), and the weight."""
    gen = conn.generator
    table = np.zeros(0, np.uint32) if gen.count_table is None else gen.count_table
    max_count = int(gen.counts().max(initial=0))
    return make_data(conn, weight, dtype, {
        "keys": np.array([gen.key0, gen.key1], np.uint32),
        "count_table": np.asarray(table, np.uint32),
    }, max_spikes, skip_self=gen.skip_self, n_avail=gen.n_avail, half_bits=gen.half_bits,
        num=-1 if gen.num is None else int(gen.num), count_lo=int(gen.count_lo),
        max_count=max_count)


def mix(x):
    """``generated.mix`` on a uint32 array (products wrap modulo 2**32)."""
    x = x ^ (x >> 16)
    x = x * _M0
    x = x ^ (x >> 15)
    x = x * _M1
    return x ^ (x >> 15)


def row_keys(data, rows):
    """mix(mix(i ^ key0) ^ key1) of each row i (uint32)."""
    return mix(mix(rows.astype(jnp.uint32) ^ data.keys[0]) ^ data.keys[1])


def row_counts(data, keys):
    """Each row's synapse count (int32): ``num``, or count_lo + the entries of the count
    table <= u."""
    if data.num >= 0 or data.count_table.size == 0:
        return jnp.full(keys.shape, data.count_lo if data.num < 0 else data.num, jnp.int32)
    u = mix(keys ^ _COUNT_STREAM)
    return data.count_lo + jnp.searchsorted(data.count_table, u, side="right").astype(jnp.int32)


def feistel(x, round_keys, half_bits: int):
    """One pass of the 4-round Feistel network on 2 * half_bits bits (uint32 arrays)."""
    half = np.uint32((1 << half_bits) - 1)
    left, right = x >> half_bits, x & half
    for k in round_keys:
        left, right = right, left ^ (mix(right ^ k) & half)
    return (left << half_bits) | right


def targets(data, rows, ks):
    """The k-th target of each row (``rows`` and ``ks`` broadcast together; int32): the
    Feistel permutation of k walked (a ``while_loop``, masked) until every value is
    below n_avail, then moved past the row's own index without self-connections."""
    rows = rows.astype(jnp.uint32)
    keys = row_keys(data, rows)
    round_keys = [mix(keys + offset) for offset in _OFFSETS]
    n_avail = np.uint32(data.n_avail)
    x = feistel(ks.astype(jnp.uint32), round_keys, data.half_bits)

    def walk(x):
        return jnp.where(x >= n_avail, feistel(x, round_keys, data.half_bits), x)

    x = lax.while_loop(lambda x: jnp.any(x >= n_avail), walk, x)
    if data.skip_self:
        x = x + (x >= rows).astype(jnp.uint32)
    return x.astype(jnp.int32)


def add(data, g, ids, amplitudes=None):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post].

    A (K, C) grid of k (C = ``max_count``): each row's first count targets regenerated,
    the rest (and the padding rows) sent to the dropped index n_post, scatter-added.
    """
    if data.max_count == 0 or data.n_avail == 0:
        return g
    ks = lax.broadcasted_iota(jnp.int32, (ids.shape[0], data.max_count), 1)
    keys = row_keys(data, ids)
    counts = jnp.where(ids < data.n_pre, row_counts(data, keys), 0)
    post = jnp.where(ks < counts[:, None], targets(data, ids[:, None], ks), data.n_post)
    w = times_amplitude(data.weight, ids, amplitudes)
    return g.at[post].add(jnp.broadcast_to(w, post.shape).astype(g.dtype), mode="drop")


def deliver(data, g, events):
    """For each pre neuron with an event, regenerate its targets and add its weight to each.

    Needs no structure: the generator's keys [2] and count table (uint32), static sizes,
    ``max_spikes`` (K) and ``max_count`` (C, the largest row count); g [n_post]. The
    spiking ids are compacted K at a time. Cost per step: O(K * C * cycle walk) hashes
    per block (the walk runs until the slowest element of the block is done); nothing
    without spikes, no memory per synapse.
    """
    return deliver_in_blocks(add, data, g, events)


register("procedural", prepare=prepare, deliver=deliver, conductance=post_is_state,
         add_events=add)
