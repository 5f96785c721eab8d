"""Spikes under fixed shapes: compact the spiking indices, then process them in blocks.

The event-driven JAX kernels (pre2syn, pre2post, pre_slice) loop over the neurons that
spiked, but every array under ``jit`` has a shape known before any spike happens. So the
spiking indices are compacted into a buffer of static size ``max_spikes`` and handled in
blocks of static sizes until every spike is done: a burst larger than the buffer costs
more blocks, never a lost spike. The runner shares :func:`compact` and
:func:`in_blocks` with the kernels, so each step compacts the network's spikes once.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
from jax import lax


def pack_words(mask):
    """A bool vector as uint32 words, bit b of word w holding element 32 w + b."""
    n_words = -(-mask.shape[0] // 32)
    padded = jnp.pad(mask, (0, 32 * n_words - mask.shape[0]))
    return lax.bitcast_convert_type(
        jnp.packbits(padded, bitorder="little").reshape(n_words, 4), jnp.uint32)


def inclusive_sums(x):
    """Prefix sums of a small int vector (exact while the total is below 2**24).

    Small float matrix products (within blocks of 32, then across blocks): much
    cheaper on XLA's CPU backend than ``jnp.cumsum``, which costs ~5 ns per element.
    """
    n = x.shape[0]
    n_blocks = -(-n // 32)
    blocks = jnp.pad(x, (0, 32 * n_blocks - n)).reshape(n_blocks, 32).astype(jnp.float32)
    exact = functools.partial(jnp.matmul, precision=lax.Precision.HIGHEST)  # no TF32
    within = exact(blocks, jnp.triu(jnp.ones((32, 32), jnp.float32)))
    totals = within[:, -1]
    if n_blocks <= 128:
        before = exact(jnp.tril(jnp.ones((n_blocks, n_blocks), jnp.float32), -1), totals)
    else:  # a quadratic matrix would cost more than the scan it replaces
        before = jnp.cumsum(totals) - totals
    return (within + before[:, None]).reshape(-1)[:n].astype(jnp.int32)


def select_bit(words, k):
    """Position of the k-th (0-based) set bit of each uint32 word (branch-free)."""
    position = jnp.zeros(words.shape, jnp.int32)
    for width in (16, 8, 4, 2, 1):
        low = lax.population_count(words & jnp.uint32((1 << width) - 1)).astype(jnp.int32)
        high = k >= low
        k = jnp.where(high, k - low, k)
        words = jnp.where(high, words >> width, words)
        position = position + jnp.where(high, width, 0)
    return position


def compact(mask, size: int):
    """The indices where ``mask`` is True, in increasing order, in ``size`` slots.

    Returns ``(ids, count)``: ``ids`` [size] int32 holds the first ``min(count, size)``
    indices and then ``len(mask)``; ``count`` is the number of True entries (when it
    exceeds ``size`` the caller handles the rest). The same result as
    ``jnp.nonzero(mask, size=size, fill_value=len(mask))``, several times cheaper on
    CPU, where XLA's prefix sums cost ~5 ns per element: the mask is packed into 32-bit
    words, the non-zero words are compacted (a prefix sum over len(mask) / 32 words),
    and slot r finds its word by binary search and its bit by population counts.
    """
    return compact_words(pack_words(mask), mask.shape[0], size)


def compact_words(words, n: int, size: int):
    """:func:`compact` of the ``n`` bits packed in ``words``."""
    n_words = words.shape[0]
    if n == 0:
        return jnp.zeros(size, jnp.int32), jnp.int32(0)
    n_kept = min(size, n_words)  # no more non-zero words than spikes
    per_word = lax.population_count(words).astype(jnp.int32)
    nonzero = per_word > 0
    word_rank = inclusive_sums(nonzero.astype(jnp.int32)) - 1
    kept = jnp.full(n_kept, n_words, jnp.int32).at[jnp.where(nonzero, word_rank, n_kept)].set(
        lax.iota(jnp.int32, n_words), mode="drop")
    kept_words = words.at[kept].get(mode="fill", fill_value=0)
    kept_count = lax.population_count(kept_words).astype(jnp.int32)
    upto = jnp.cumsum(kept_count)
    slot_rank = lax.iota(jnp.int32, size)
    method = "compare_all" if size * n_kept <= 2048 else "scan_unrolled"
    slot = jnp.minimum(jnp.searchsorted(upto, slot_rank, side="right", method=method),
                       n_kept - 1)
    bit = select_bit(kept_words[slot], slot_rank - (upto[slot] - kept_count[slot]))
    ids = jnp.where(slot_rank < upto[-1], kept[slot] * 32 + bit, n)
    return ids, per_word.sum(dtype=jnp.int32)


def block_sizes(max_spikes: int) -> tuple[int, ...]:
    """Block sizes for ``max_spikes``: it, then quarters of it down to 4 (or itself)."""
    sizes = [max_spikes]
    while sizes[-1] >= 16:
        sizes.append(sizes[-1] // 4)
    return tuple(sizes)


def in_blocks(body, carry, take, count, sizes: tuple[int, ...]):
    """``carry = body(carry, take(done, size))`` until ``count`` ids are done.

    Blocks of the largest size while the remaining ids fill it, then of the next size,
    the smallest size also taking the rest: 71 spikes with sizes (188, 47, 11) run
    blocks of 47, 11, 11 and 11 (80 slots), so the padded work follows the spike count,
    not the bound. ``take(done, size)`` returns the ids ``done .. done + size - 1`` of
    the list, padded past ``count``. One ``while_loop`` per size, no ``cond``: XLA
    updates a loop's carry in place, while a conditional may copy it.
    """
    done = jnp.zeros((), count.dtype)
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1

        def more(state, size=size, last=last):
            left = count - state[0]
            return left > 0 if last else left >= size

        def block(state, size=size):
            done, carry = state
            return done + size, body(carry, take(done, size))

        done, carry = lax.while_loop(more, block, (done, carry))
    return carry


def for_each_spike_block(spikes, max_spikes: int, body, carry, first=0):
    """Run ``carry = body(carry, ids)`` over every spiking index from ``first`` on.

    ``ids`` lists spiking neurons in increasing order in a block of static size (from
    :func:`block_sizes`), filled up with ``len(spikes)`` (an out-of-range index every
    kernel ignores). No spike: no call. The spikes are compacted ``max_spikes`` at a
    time; a step with more runs further pages, so nothing is ever dropped.
    """
    n = spikes.shape[0]
    position = lax.iota(jnp.int32, n)
    sizes = block_sizes(max_spikes)

    def page(state):
        first, carry = state
        ids, count = compact(spikes & (position >= first), max_spikes)
        ids = jnp.concatenate([ids, jnp.full(max_spikes, n, jnp.int32)])
        in_page = jnp.minimum(count, max_spikes)

        def take(done, size):
            block = lax.dynamic_slice(ids, (done,), (size,))
            return jnp.where(lax.iota(jnp.int32, size) + done < in_page, block, n)

        carry = in_blocks(body, carry, take, in_page, sizes)
        # Only a burst of more than max_spikes reaches a second page.
        return jnp.where(count > max_spikes, ids[max_spikes - 1] + 1, n), carry

    start = (jnp.asarray(first, jnp.int32), carry)
    return lax.while_loop(lambda state: state[0] < n, page, start)[1]


def deliver_in_blocks(add, data, g, events):
    """``deliver`` of an event-driven strategy: its block adder over every event.

    ``add(data, g, ids, amplitudes)`` adds the events of a block of pre ids; bool
    ``events`` are spikes (``amplitudes`` None: each adds exactly its weights), float
    ones are amplitudes, the nonzero ones delivered.
    """
    if events.dtype == bool:
        spikes, amplitudes = events, None
    else:
        spikes, amplitudes = events != 0, events
    body = functools.partial(add, data, amplitudes=amplitudes)
    return for_each_spike_block(spikes, data.max_spikes, body, g)


def times_amplitude(w, ids, amplitudes):
    """The weights ``w`` of the block ``ids`` [K] (rows [K, F], or one scalar) as they
    are for spikes (``amplitudes`` None), else times each pre's amplitude (0 past n_pre)."""
    if amplitudes is None:
        return w
    return amplitudes.at[ids].get(mode="fill", fill_value=0)[:, None] * w
