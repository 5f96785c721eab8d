"""Time per step of a sharded COBA run on D devices, and what the collective costs.

    python scripts/sharded_steps.py --n 64000 --devices 1 2 4 --repeats 3
    python scripts/sharded_steps.py --platform cpu --devices 1 2 4 8 16   # host devices

For each D, alternated over ``--repeats`` rounds in one process (medians reported), and
for the unsharded one-device runner (D "none") as the baseline:
- ``step``: the whole network (``run(..., backend="jax", devices=D)``), per step;
- ``neurons``: the neurons alone on D devices (no synapses, so no exchange either: XLA
  drops the collective nothing reads);
- ``gather``: the step's one collective alone: an ``all_gather`` of each device's
  packed spike words (n / 8 bytes in all) in a ``lax.scan`` of as many steps, on the
  same mesh;
- ``held``: the bytes each device holds.
Host CPU devices share the machine's cores, so on a CPU they show the cost structure,
not a speed-up. ``--json FILE`` writes the rows. Under ``scripts/launch_local.py``
(which adds ``--processes``, ``--process-id`` and ``--coordinator``) the devices are
those of every process, the collective goes between processes, and process 0 reports:

    python scripts/launch_local.py --processes 2 -- \
        python scripts/sharded_steps.py --n 64000 --devices 2 4
"""

import argparse
import json
import os
import statistics
import sys
import time


def gather_alone(mesh_devices, n, n_steps):
    """Seconds per step of the collective alone, in a scan as the runner does it."""
    import jax
    import numpy as np
    from jax import lax
    from jax.sharding import PartitionSpec

    from synbench.impls.jax.sharded import AXIS, block_size, device_mesh, on_mesh

    mesh = device_mesh(mesh_devices)
    words = block_size(n, mesh.size) // 32

    def on_device(local):
        def body(w, _):
            every = lax.all_gather(w, AXIS, tiled=True)
            return w ^ every[:words], None  # depends on the gather: not optimised away

        return lax.scan(body, local[0], None, length=n_steps)[0][None]

    chunk = jax.jit(jax.shard_map(on_device, mesh=mesh, in_specs=PartitionSpec(AXIS),
                                  out_specs=PartitionSpec(AXIS), check_vma=False))
    start = on_mesh(np.arange(mesh.size * words, dtype=np.uint32).reshape(mesh.size, words),
                    mesh, PartitionSpec(AXIS))
    jax.block_until_ready(chunk(start))  # compile
    began = time.perf_counter()
    jax.block_until_ready(chunk(start))
    return (time.perf_counter() - began) / n_steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64000, help="neurons (default 64000)")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=100.0, help="ms (default 100)")
    parser.add_argument("--strategy", default="pre_slice", help="(default pre_slice)")
    parser.add_argument("--repeats", type=int, default=3, help="(default 3)")
    parser.add_argument("--platform", choices=["cpu", "gpu"], default=None,
                        help="JAX's platform (default: JAX's choice); cpu: host devices")
    parser.add_argument("--json", metavar="FILE", help="write the rows here")
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--coordinator", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.platform is not None:
        os.environ["JAX_PLATFORMS"] = {"cpu": "cpu", "gpu": "cuda"}[args.platform]
    from synbench import coba, distributed, run

    if any(d % args.processes for d in args.devices):
        parser.error(f"each device count must be a multiple of the {args.processes} processes")
    distributed.host_devices(max(args.devices) // args.processes)
    if args.processes > 1:
        distributed.initialize(args.coordinator, args.processes, args.process_id)
    spec = coba(args.n)
    conns = spec.connectivity()
    # The unsharded runner as the baseline (one process only: it runs on one device).
    layouts = [*([None] if args.processes == 1 else []), *args.devices]
    times = {(what, d): [] for d in layouts for what in ("step", "neurons", "gather")}
    held = {}
    n_steps = round(args.duration / 0.1)
    for round_ in range(args.repeats):
        for d in layouts:
            for what, strategy in (("step", args.strategy), ("neurons", None)):
                result = run(spec, strategy, "jax", duration=args.duration, conns=conns,
                             devices=d)
                times[what, d].append(result.wall_s / n_steps)
                if strategy is not None:
                    held[d] = result.device_bytes
            if d is not None:
                times["gather", d].append(gather_alone(d, args.n, n_steps))
        print(f"round {round_ + 1}/{args.repeats} done", file=sys.stderr)
    if args.process_id != 0:
        return 0
    rows = []
    over = f", {args.processes} processes" if args.processes > 1 else ""
    print(f"COBA n={args.n}, {args.strategy}, {args.duration:g} ms{over}, medians of "
          f"{args.repeats} alternated rounds, seconds per step")
    print(f"{'devices':>7} {'step ms':>9} {'neurons ms':>10} {'gather ms':>9} "
          f"{'gather/step':>11} {'synapses MiB/device':>19}")
    for d in layouts:
        step, neurons = (statistics.median(times[w, d]) for w in ("step", "neurons"))
        gather = statistics.median(times["gather", d]) if d is not None else 0.0
        rows.append({"devices": d, "step_s": step, "neurons_s": neurons, "gather_s": gather,
                     "device_bytes": held[d]})
        print(f"{d or 'none':>7} {step * 1e3:>9.3f} {neurons * 1e3:>10.3f} "
              f"{gather * 1e3:>9.3f} {gather / step:>11.0%} "
              f"{held[d]['synapses'] / 2**20:>19.3g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "strategy": args.strategy, "processes": args.processes,
                       "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
