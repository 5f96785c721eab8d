"""The network over several devices: JAX's SPMD runtime (DESIGN section 8).

:class:`ShardedSimulation` runs the single-device runner's step (``runner.Simulation``)
under ``jax.shard_map`` on a one-axis device ``Mesh``:

- **Neurons** are cut into contiguous blocks of ``block`` neurons (a multiple of 32),
  one per device; the last block ends with padding neurons that never spike and
  receive nothing. 4000 neurons on 3 devices: blocks of 1344, 1344 and 1312.
- **Synapses** live with their post neuron: each device holds, for every projection,
  the synapses onto its own block (:func:`local_parts`), as a connectivity of
  n_pre x (block + sinks) that the strategy's own ``prepare`` turns into its usual data.
- **One collective per step**: each device packs its block's spikes into 32-bit words
  and ``lax.all_gather`` hands every device the whole network's words (n / 8 bytes);
  every device then delivers every pre spike onto its own post neurons with the
  strategy's kernels, exactly as one device does for the whole network.
- **The monitor** is kept per device: each records its own neurons' spikes.

Every device must run the same program on arrays of the same shapes, but a
device's share of a pre neuron's synapses varies. So each device's part is padded so
that every pre neuron has as many synapses on every device, the missing ones going to
"sink" posts past the block that nothing reads (each pre neuron's to distinct sinks,
so no pair repeats). Then the data of every strategy whose shapes follow (n_pre,
n_post, n_syn, fan-out) agree across devices: event-driven ``pre_slice``, ``pre2post``,
the library mat-vec ``csr``, per-synapse ``pre_ids``, the matrices... A strategy whose
data still differ (``post_slice`` pads to the largest fan-in) is refused, giving the
shapes. The padding costs a few % of the synapses (more when a device's share of a
fan-out is small): :meth:`ShardedSimulation.device_bytes` reports what each device holds.

Each post neuron receives the same events in the same order as on one device, so a
sharded run gives the single-device raster (tested on 1-4 host CPU devices and under
``jax.distributed`` with several processes).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ...core.connect import Connectivity
from ...core.errors import SynbenchError
from ...core.neurons import NEVER_SPIKED
from ...core.registry import as_weight
from ...core.synapses import VoltageJump
from . import precision, to_numpy
from ._events import compact_words, pack_words
from .runner import Simulation, _projections, default_monitor_width, fuse_projections, spikes_of

AXIS = "neurons"


def block_size(n: int, n_devices: int) -> int:
    """Neurons per device: n / D rounded up to whole 32-bit words of spikes."""
    return 32 * max(1, -(-n // (32 * n_devices)))


def device_mesh(devices) -> Mesh:
    """A one-axis mesh: ``devices`` an int (the first that many of ``jax.devices()``; with
    several processes, as many of each process's own) or a one-axis ``Mesh`` of the
    caller's."""
    if isinstance(devices, Mesh):
        if len(devices.axis_names) != 1:
            raise SynbenchError(f"the mesh must have one axis (the neurons are cut along it), "
                                f"not {devices.axis_names}")
        return Mesh(devices.devices.reshape(-1), (AXIS,))
    if isinstance(devices, bool) or not isinstance(devices, int | np.integer) or devices < 1:
        raise SynbenchError(f"devices must be a positive integer (or a jax Mesh), "
                            f"not {devices!r}")
    here = jax.devices()
    if devices > len(here):
        platform = here[0].platform
        raise SynbenchError(
            f"{devices} devices asked for, but JAX sees {len(here)} {platform} device"
            f"{'s' if len(here) > 1 else ''}; for {devices} host CPU devices set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} (and "
            f"JAX_PLATFORMS=cpu on a GPU machine) before JAX is imported, as "
            f"`synbench run --devices` does, or start several processes (README: "
            f"\"Beyond one device\")")
    processes = jax.process_count()
    if processes == 1:
        return Mesh(np.array(here[:int(devices)]), (AXIS,))
    if devices % processes:  # every process must take part in every collective
        raise SynbenchError(f"{devices} devices cannot be shared by {processes} processes: "
                            f"give a multiple of {processes}")
    share = devices // processes
    chosen = [[d for d in here if d.process_index == i][:share] for i in range(processes)]
    return Mesh(np.array([d for mine in chosen for d in mine]), (AXIS,))


def local_parts(projection, n_devices: int, block: int):
    """The synapses of ``projection`` onto each device's block, padded alike.

    Returns ``(parts, neuron_of)``: ``parts[d] = (conn, weight, g_init)`` for device d,
    with posts ``0 .. block - 1`` its neurons and ``block ..`` its sinks, canonical
    order; ``neuron_of[k]`` is the network neuron of the projection's conductance k.
    """
    p = projection
    neuron_of = np.full(p.conn.n_post, -1, np.int64)
    for c in p.channels:
        neuron_of[c.g_slice] = np.arange(c.post.start, c.post.stop)
    pre = p.conn.pre_ids.astype(np.int64)
    target = neuron_of[p.conn.post_ids]
    device, local_post = np.divmod(target, block)
    weight = np.asarray(as_weight(p.weight, p.conn.n_syn, np.float64))
    n_pre = p.conn.n_pre
    counts = np.bincount(device * n_pre + pre, minlength=n_devices * n_pre)
    counts = counts.reshape(n_devices, n_pre)
    missing = counts.max(axis=0) - counts  # sinks each pre neuron needs, per device
    n_sinks = int(missing.max(initial=0))
    parts = []
    for d in range(n_devices):
        mine = device == d
        pad_pre = np.repeat(np.arange(n_pre), missing[d])
        # The pre neuron's k-th missing synapse goes to sink k: no pair repeats.
        pad_post = block + np.arange(pad_pre.size) - np.repeat(np.cumsum(missing[d]) - missing[d],
                                                               missing[d])
        w = weight if weight.ndim == 0 else np.concatenate([weight[mine],
                                                            np.zeros(pad_pre.size)])
        conn = Connectivity(n_pre, block + n_sinks, np.concatenate([pre[mine], pad_pre]),
                            np.concatenate([local_post[mine], pad_post]),
                            multapses=p.conn.has_multapses)
        conn, w = conn.canonical(w)
        g_init = None
        if p.g_init is not None:
            g_init = np.zeros(block + n_sinks)
            here = neuron_of // block == d
            g_init[neuron_of[here] - d * block] = p.g_init[here]
        parts.append((conn, w, g_init))
    return parts, neuron_of


def stacked(trees, what: str):
    """One pytree of NumPy arrays with a leading device axis from one tree per device,
    or a clear error where the devices' trees differ in structure or shape."""
    flat = [jax.tree.flatten(tree) for tree in trees]
    leaves0, treedef = flat[0]
    for d, (leaves, other) in enumerate(flat[1:], 1):
        differ = [(np.shape(a), np.shape(b)) for a, b in zip(leaves0, leaves, strict=False)
                  if np.shape(a) != np.shape(b)]
        if other != treedef or differ:
            shapes = f" (an array of shape {differ[0][0]} on device 0, {differ[0][1]} on " \
                     f"device {d})" if differ else ""
            raise SynbenchError(
                f"{what} cannot be sharded: its data differ in shape from device to "
                f"device{shapes}, and one program runs them all; shard pre_slice, csr, "
                f"pre_ids or pre2post instead")
    columns = zip(*(leaves for leaves, _ in flat), strict=True)
    return jax.tree.unflatten(treedef, [np.stack([to_numpy(x) for x in column])
                                        for column in columns])


def on_mesh(tree, mesh: Mesh, spec: PartitionSpec):
    """``tree``'s NumPy leaves as global arrays on ``mesh`` (every process passes the
    same values; each puts only its own devices' pieces)."""
    sharding = NamedSharding(mesh, spec)

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index],
                                            dtype=x.dtype)

    return jax.tree.map(put, tree)


def to_host(x) -> np.ndarray:
    """A global array as one NumPy array, on every process."""
    if getattr(x, "is_fully_addressable", True):
        return to_numpy(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _local(tree):
    """This device's piece of a tree stacked by device (inside ``shard_map``)."""
    return jax.tree.map(lambda x: x[0], tree)


class ShardedSimulation(Simulation):
    """The runner protocol of ``synbench.run`` on the devices of a mesh (module doc).

    ``devices``: how many (the first of ``jax.devices()``), or a one-axis ``Mesh``.
    Every input and carried array holds one piece per device along a leading axis
    (sharded on the mesh); the step is the single-device runner's, on a device's
    piece, with the spikes of the whole network gathered once per step. One delay per
    projection is held as on one device (every device keeps the ring of the network's
    last spikes); per-synapse delays are not sharded yet (refused).
    """

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, delays=None, *,
                 devices=1, max_spikes=None, monitor_width=None, fuse=True, unroll=2):
        if delays is not None and delays.mechanism is not None:
            raise SynbenchError("per-synapse delays are not sharded yet (one delay per "
                                "projection is): run them on one device (no --devices)")
        if entry is not None and entry.strategy.connectivity:
            raise SynbenchError(
                f"{entry.strategy.name} computes its synapses from the "
                f"{entry.strategy.connectivity} connector instead of holding them, so "
                f"there is nothing to split over devices; shard pre_slice or csr instead")
        self.mesh = device_mesh(devices)
        self.n_devices = self.mesh.size
        self._setup(spec, entry, dt, dtype, chunk_steps, monitor_width, unroll)
        self.block = block_size(spec.n, self.n_devices)
        self.local_width = default_monitor_width(self.block)
        self.delays, self.deliver_delayed = delays, None
        kw = {} if max_spikes is None else {"max_spikes": max_spikes}
        projections = _projections(spec, conns, delays) if entry is not None else []
        lags = [p.delay for p in projections if p.delay]
        self.depth = max(lags) + 1 if lags else 0  # the ring of the last steps' spikes
        if fuse and projections:
            projections = fuse_projections(projections, spec.n)
        D, n_pad = self.n_devices, self.n_devices * self.block
        with precision(self.dtype):
            datas, weights, states, g_inits, self.neuron_of = [], [], [], [], []
            for p in projections:
                parts, neuron_of = local_parts(p, D, self.block)
                self.neuron_of.append(neuron_of)
                per_device = [(*self._prepared(conn, w, p.synapse, kw),
                               None if g_init is None else np.asarray(g_init, self.dtype))
                              for conn, w, g_init in parts]
                data, w_state, state, g_init = stacked(per_device, f"{entry.id} ({p.name})")
                datas.append(data)
                weights.append(w_state)
                states.append(state)
                g_inits.append(g_init)
            factors = self._dynamics(projections, dt)

            def by_device(values, dtype):  # (n,) -> (D, block), padded with the last value
                values = np.asarray(values, dtype)
                return np.pad(values, (0, n_pad - spec.n), mode="edge").reshape(D, self.block)

            jumps = any(p.synapse.voltage_jump for p in projections)
            zeros = np.zeros((D, self.block), self.dtype)
            split, whole = PartitionSpec(AXIS), PartitionSpec()
            self.inputs = (on_mesh(tuple(datas), self.mesh, split),
                           on_mesh(factors, self.mesh, whole),
                           on_mesh(tuple(weights), self.mesh, split),
                           tuple(None for _ in projections))
            self.carry = on_mesh({
                "vars": {k: by_device(v, self.dtype) for k, v in spec.initial.items()},
                "last_spike": np.full((D, self.block), NEVER_SPIKED, np.int32),
                "i_syn": zeros,
                "jump": zeros if jumps else None,
                "g": tuple(states),
                "g_init": tuple(g_inits),
                "step": np.zeros(D, np.int32),
                "delayed": tuple(None for _ in projections),
                # Each device keeps the whole network's spikes of the last steps.
                "history": jax.tree.map(lambda x: np.stack([x] * D),
                                        self._empty_history(np)),
            }, self.mesh, split)
        chunk = jax.shard_map(self._device_chunk, mesh=self.mesh,
                              in_specs=((split, whole, split, whole), split, whole, whole),
                              out_specs=(split, PartitionSpec(None, AXIS)), check_vma=False)
        self._chunk = jax.jit(chunk, donate_argnums=(1,))
        self._compiled = None
        self._reductions = {}

    def _device_chunk(self, inputs, carry, n_valid, source_schedule):
        """One device's chunk: the single-device chunk on its pieces (leading axis 1)."""
        datas, factors, weights, delay_datas = inputs
        carry, out = self._run_chunk((_local(datas), factors, _local(weights), delay_datas),
                                     _local(carry), n_valid, source_schedule)
        return jax.tree.map(lambda x: x[None], carry), jax.tree.map(lambda y: y[:, None], out)

    def _no_spikes(self):
        words = jnp.zeros(self.block // 32, jnp.uint32)
        return jnp.full(self.local_width, self.block, jnp.int32), jnp.int32(0), words

    def _neurons(self):
        """The network index of each of this device's neurons (inside ``shard_map``)."""
        return lax.axis_index(AXIS) * self.block + lax.iota(jnp.int32, self.block)

    def _exchange(self, spiked):
        """The step's one collective: every device's spike bits to every device; the
        monitor keeps this device's own."""
        words = pack_words(spiked & (self._neurons() < self.n))  # padding never spikes
        every_word = lax.all_gather(words, AXIS, tiled=True)
        every_spike = ((every_word[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1)
        every_spike = every_spike.astype(bool).reshape(-1)[:self.n]
        ids, count = compact_words(every_word, self.n, self.width)
        local_ids, local_count = compact_words(words, self.block, self.local_width)
        return every_spike, ids, count, (local_ids, local_count, words)

    def _act(self, channel, g, v, i_syn, jump):
        """A projection's conductance k acts on this device's neuron k, where it is in
        the channel's post range: added through a select, so that no multiply-add is
        contracted across it, which gives the sums of one device's scatter-add, to the
        bit."""
        neuron = self._neurons()
        inside = (neuron >= channel.post.start) & (neuron < channel.post.stop)
        g = g[:self.block]
        if isinstance(channel.output, VoltageJump):
            return i_syn, jump + jnp.where(inside, g, 0)
        return i_syn + jnp.where(inside, channel.output.current(g, v, jnp), 0), jump

    def _replicated(self, x):
        return on_mesh(x, self.mesh, PartitionSpec())

    def _spikes(self, ids, counts, words, size):
        """Every device's spikes of the chunk, merged: (step in chunk, neuron)."""
        ids, counts, words = to_host(ids), to_host(counts), to_host(words)
        steps, fired = [], []
        for d in range(self.n_devices):
            s, f = spikes_of(ids[:size, d], counts[:size, d], words[:size, d], size,
                             self.local_width, self.block)
            steps.append(s)
            fired.append(f + d * self.block)
        steps, fired = np.concatenate(steps), np.concatenate(fired)
        order = np.lexsort((fired, steps))
        return steps[order], fired[order]

    def finite(self) -> bool:
        every = [jnp.isfinite(v).all() for v in self.carry["vars"].values()]
        # Replicated on every device: this process reads its own copy.
        return all(bool(x.addressable_shards[0].data) for x in every)

    def _whole(self, x) -> np.ndarray:
        """A (D, block, ...) array of per-neuron values as the network's (n, ...)."""
        x = to_host(x)
        return x.reshape(-1, *x.shape[2:])[:self.n]

    def snapshot(self) -> dict[str, np.ndarray]:
        carry = self.carry
        out = {k: self._whole(v).copy() for k, v in carry["vars"].items()}
        out["i_syn"] = self._whole(carry["i_syn"]).copy()
        out["last_spike"] = self._whole(carry["last_spike"]).copy()
        for i, p in enumerate(self.projections):
            for v, variable in enumerate(p.synapse.variables):
                output = v == p.synapse.output_index
                g = self._whole(self._variable(i, None if output else v)[:, :self.block])
                on_neurons = np.zeros(self.n_devices * self.block)
                on_neurons[:self.n] = g
                for name, offset, size in p.parts:
                    neurons = self.neuron_of[i][offset:offset + size]
                    out[f"{'g' if output else variable}:{name}"] = on_neurons[neurons]
        return out

    def _variable(self, i, variable):
        """Projection ``i``'s conductance (or synapse ``variable``) on each device's posts."""
        if (i, variable) not in self._reductions:  # compiled once per run
            p = self.projections[i]

            def on_device(data, w, state, g_init):
                data, w, state, g_init = _local((data, w, state, g_init))
                return self._conductance(p, data, w, state, g_init, variable)[None]

            split = PartitionSpec(AXIS)
            self._reductions[i, variable] = jax.jit(jax.shard_map(
                on_device, mesh=self.mesh, in_specs=split, out_specs=split, check_vma=False))
        with precision(self.dtype):
            return self._reductions[i, variable](self.inputs[0][i], self.inputs[2][i],
                                                 self.carry["g"][i], self.carry["g_init"][i])

    def device_bytes(self) -> dict[str, int]:
        """Bytes each device holds: its synapses' structures and weights, their state,
        and its neurons (every array is split evenly, one piece per device)."""
        def per_device(tree):
            return sum(x.nbytes for x in jax.tree.leaves(tree)) // self.n_devices

        carry = self.carry
        return {"synapses": per_device((self.inputs[0], self.inputs[2])),
                "synaptic state": per_device((carry["g"], carry["g_init"])),
                "neurons": per_device((carry["vars"], carry["last_spike"], carry["i_syn"],
                                       carry["jump"]))}
