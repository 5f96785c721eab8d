"""``synbench list | run | compare | autotune``: the command line.

A user mistake prints one line (``synbench: error: ...``) and exits with status 2,
without a traceback; output files are written only when the run succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings

from .core import registry
from .core.delays import MECHANISMS
from .core.errors import SynbenchError, SynbenchWarning
from .core.networks import NETWORKS, network
from .core.synapses import MODELS, exactness, model_name


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise SynbenchError(f"{message} (see `{self.prog} --help`)")


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:  # an empty list must not silently mean "all"
        raise argparse.ArgumentTypeError("is empty: name at least one, or leave the option out")
    return items


def _entry_id(text: str) -> tuple[str, str]:
    strategy, dash, backend = text.rpartition("-")
    if not dash or not strategy or not backend:
        raise argparse.ArgumentTypeError(f"{text!r} is not STRATEGY-BACKEND, e.g. pre_slice-numba")
    return strategy, backend


def _add_network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", default="coba", choices=sorted(NETWORKS), help="(default coba)")
    p.add_argument("--n", type=int, default=4000, help="number of neurons (default 4000)")
    p.add_argument("--p", type=float, default=None,
                   help="connection probability (default 0.02 at n=4000, else 80/n)")
    p.add_argument("--seed", type=int, default=0, help="network seed (default 0)")
    p.add_argument("--duration", type=float, default=100.0, help="ms (default 100)")
    p.add_argument("--dt", type=float, default=0.1, help="ms (default 0.1)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--method", default="exp_euler", choices=["exp_euler", "euler", "rk2", "rk4"])
    p.add_argument("--synapse", default="exponential", choices=list(MODELS),
                   help="synapse model of COBA's projections (default exponential)")
    p.add_argument("--counter-based", action="store_true",
                   help="draw each neuron's synapses from (seed, neuron) alone, so that the "
                        "procedural strategy can regenerate them (other synapses than the "
                        "default's, with the same statistics)")
    p.add_argument("--allow-inexact", action="store_true",
                   help="run strategies that cannot hold the synapse model exactly too "
                        "(NMDA summed per post neuron), labelled inexact: for teaching")
    p.add_argument("--delay", type=_delay, default=0.0, metavar="MS|LOW:HIGH",
                   help="transmission delay of every synapse in ms, or LOW:HIGH for random "
                        "per-synapse delays over the whole steps of [LOW, HIGH] (default 0)")
    p.add_argument("--delay-mechanism", default=None, choices=list(MECHANISMS),
                   help="how per-synapse delays are held (default: each strategy's own; "
                        "naming one puts a one-number --delay through it too)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_threads_arg(p)


def _add_threads_arg(p) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads of the multi-threaded backend numba_parallel (default: "
                        "NUMBA_NUM_THREADS, every core); its results are the same for any N")


def _add_devices_arg(p) -> None:
    p.add_argument("--devices", type=int, default=None, metavar="D",
                   help="split the network over D devices (jax backend; D host CPU devices "
                        "where there are no accelerators); the raster is that of one device")


def _setup_devices(args) -> None:
    """Host devices for --devices, and the distributed runtime for --processes, before
    JAX starts."""
    from . import distributed

    processes = getattr(args, "processes", 1)
    distributed.check_processes(getattr(args, "coordinator", None), processes,
                                getattr(args, "process_id", None))
    if args.devices is not None:
        if args.devices < 1 or args.devices % processes:
            raise SynbenchError(f"--devices must be a positive multiple of --processes "
                                f"({processes}), one share per process, not {args.devices}")
        distributed.host_devices(args.devices // processes)
    if processes > 1:
        if args.backend != "jax":  # run's --backend
            raise SynbenchError("--processes runs JAX's distributed runtime: use --backend jax")
        distributed.initialize(args.coordinator, processes, args.process_id)
        global _DISTRIBUTED
        _DISTRIBUTED = True
        if args.devices is None:
            args.devices = processes


#: Whether this process joined a JAX runtime of several (its errors must not wait for
#: the others at exit).
_DISTRIBUTED = False


def _delay(text: str):
    low, colon, high = text.partition(":")
    try:
        return (float(low), float(high)) if colon else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of ms or LOW:HIGH in ms, not {text!r}") from None


def _spec(args):
    synapse = {} if args.synapse == "exponential" else {"synapse": args.synapse}
    if synapse and args.network != "coba":
        raise SynbenchError(f"--synapse chooses COBA's synapse model; {args.network} has its "
                            "own (leave --synapse out, or use --network coba)")
    delay = {} if args.delay == 0.0 else {"delay": args.delay}
    return network(args.network, args.n, args.seed, p=args.p, method=args.method,
                   counter_based=args.counter_based, **synapse, **delay)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="every (strategy, backend) and whether it runs here")
    p.add_argument("--synapse", default=None, choices=list(MODELS),
                   help="only the strategies that hold this synapse model exactly")

    p = sub.add_parser("run", help="run one strategy on one backend")
    _add_network_args(p)
    p.add_argument("--strategy", default="pre_slice", help="(default pre_slice)")
    p.add_argument("--backend", default="numba", help="(default numba)")
    p.add_argument("--plot", metavar="IMAGE", help="write the spike raster here (.png, .pdf, .svg)")
    p.add_argument("--json", metavar="FILE", help="write the result summary here")
    p.add_argument("--spikes", metavar="FILE.npz",
                   help="write the spike raster here (spike_steps, spike_ids, dt, n)")
    _add_devices_arg(p)
    p.add_argument("--processes", type=int, default=1, metavar="P",
                   help="run as one of P processes of one JAX runtime (jax.distributed; "
                        "scripts/launch_local.py starts P local ones); default 1")
    p.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="this process's index, 0 .. P-1 (with --processes)")
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="where process 0 coordinates the others (with --processes)")

    p = sub.add_parser("compare", help="run many strategies, cross-check, table and chart")
    _add_network_args(p)
    p.add_argument("--strategies", type=_csv, default=None,
                   help="comma-separated (default: all)")
    p.add_argument("--backends", type=_csv, default=None, help="comma-separated (default: all)")
    p.add_argument("--reference", type=_entry_id, default=("dense", "numpy"),
                   metavar="STRATEGY-BACKEND",
                   help="check every raster against this entry, run in float64 (default "
                        "dense-numpy; pre_slice-numba is much faster on long runs)")
    p.add_argument("--all-matrix", action="store_true",
                   help="with no --strategies or --backends, run the strategies with a "
                        "matrix of state (minutes each) on every backend, not only the "
                        "reference's")
    plot = p.add_mutually_exclusive_group()
    plot.add_argument("--plot", metavar="IMAGE",
                      help="write the log-scale bar chart here (.png, .pdf, .svg; default "
                           "synbench-compare-NETWORK-nN.png in the current folder)")
    plot.add_argument("--no-plot", action="store_true", help="write no bar chart")
    p.add_argument("--json", metavar="FILE", help="write every row here")
    _add_devices_arg(p)

    p = sub.add_parser("autotune", help="time every strategy of a backend on a connectivity, "
                                        "print the ranking and how to import the winner")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--p", type=float, help="FixedProb(p, seed=0) between --n-pre and --n-post")
    source.add_argument("--conn", metavar="FILE.npz",
                        help="a connectivity written by Connectivity.save")
    p.add_argument("--n-pre", type=int, default=None, help="pre neurons (with --p)")
    p.add_argument("--n-post", type=int, default=None,
                   help="post neurons (with --p; default: --n-pre)")
    p.add_argument("--backend", default="numba", help="(default numba)")
    p.add_argument("--rate", type=_floats, default=None, metavar="HZ[,HZ...]",
                   help="expected firing rate(s) of the pre neurons (default: sweep 1,10,50)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--budget", type=float, default=10.0,
                   help="seconds for the whole tuning, compilation included (default 10)")
    p.add_argument("--synapse", default=None, choices=list(MODELS),
                   help="only the strategies that hold this synapse model exactly")
    p.add_argument("--counter-based", action="store_true",
                   help="with --p: draw each neuron's synapses from (seed, neuron) alone, so "
                        "that the procedural strategy is timed too")
    p.add_argument("--delay", type=_delay, default=None, metavar="MS|LOW:HIGH",
                   help="transmission delay of every synapse in ms (recorded: one delay "
                        "changes no ranking), or LOW:HIGH for random per-synapse delays over "
                        "the whole steps of [LOW, HIGH] (seed 0), timed through each "
                        "strategy's delay mechanism (default: the delays a --conn file "
                        "carries, else none)")
    p.add_argument("--dt", type=float, default=0.1,
                   help="ms: the step the delays are whole multiples of (default 0.1)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the cache of earlier results")
    _add_threads_arg(p)
    return parser


def cmd_list(args) -> None:
    reasons = registry.available()
    every = [MODELS[name]() for name in MODELS]
    print(f"{'strategy':<16} {'backend':<14} {'state':<8} {'event':<6} {'exact for':<16} "
          f"{'delays':<12} needs / status")
    for entry in registry.entries(available_only=False):
        inexact = [model_name(m) for m in every if exactness(entry.state, m) is not None]
        if args.synapse in inexact:
            continue
        only = entry.strategy.connectivity
        needs = (", ".join(entry.needs) or "no structure") + (f"; {only} only" if only else "")
        status = (needs if entry.is_available
                  else f"unavailable: {entry.unavailable or reasons[entry.backend]}")
        exact_for = "all but " + ", ".join(inexact) if inexact else "every model"
        delays = _delay_mechanism(entry)
        print(f"{entry.name:<16} {entry.backend:<14} {entry.state:<8} "
              f"{'yes' if entry.event_driven else 'no':<6} {exact_for:<16} {delays:<12} "
              f"{status}")
    for backend, reason in reasons.items():
        if reason is not None:
            print(f"{'*':<16} {backend:<14} unavailable: {reason}")
    print("delays: how per-synapse delays are held (--delay LOW:HIGH; --delay-mechanism "
          "chooses another); 'one only': one delay per projection")
    if args.synapse is not None:
        print(f"(only the strategies exact for {args.synapse} synapses; `synbench list` "
              "shows all)")


def _delay_mechanism(entry) -> str:
    """The mechanism that holds the entry's per-synapse delays, or 'one only'."""
    try:
        return registry.delay_entry(entry.name, entry.backend).mechanism
    except SynbenchError:
        return "one only"


def cmd_run(args) -> None:
    from . import distributed
    from .outputs import check_outputs, check_writable, write_spikes, write_text
    from .run import run

    check_outputs(plot=args.plot, json=args.json)
    if args.spikes is not None:
        check_writable(args.spikes)
    spec = _spec(args)
    _setup_devices(args)
    first = not _DISTRIBUTED or distributed.process_index() == 0
    result = run(spec, args.strategy, args.backend, duration=args.duration, dt=args.dt,
                 dtype=args.dtype, progress=first and not args.no_progress,
                 allow_inexact=args.allow_inexact, delay_mechanism=args.delay_mechanism,
                 threads=args.threads, devices=args.devices)
    if not first:  # process 0 reports for all
        return
    rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in result.rates.items())
    print(f"{spec.describe()}: {result.label}, {args.dtype}, {result.duration_ms:g} ms")
    print(f"rates: {rates}; {result.spike_ids.size} spikes, {result.events} synaptic events")
    print(f"run {result.wall_s:.3f} s ({result.realtime_factor:.3g}x real time), "
          f"compile {result.compile_s:.2f} s")
    if result.device_bytes and result.devices is not None:
        held = ", ".join(f"{k} {v / 2**20:.3g}" for k, v in result.device_bytes.items())
        print(f"held per device ({result.devices} device{'s' if result.devices > 1 else ''}), "
              f"MiB: {held}")
    if args.spikes:
        write_spikes(args.spikes, result)
        print(f"raster written to {args.spikes}")
    if args.json:
        import json

        write_text(args.json, json.dumps(result.summary(), indent=2))
        print(f"summary written to {args.json}")
    if args.plot:
        result.plot_raster(args.plot)
        print(f"raster written to {args.plot}")


def cmd_compare(args) -> None:
    from .compare import compare
    from .outputs import check_outputs

    spec = _spec(args)
    _setup_devices(args)
    plot = None if args.no_plot else (args.plot or f"synbench-compare-{spec.name}-n{spec.n}.png")
    check_outputs(plot=plot, json=args.json)
    comparison = compare(spec, args.strategies, args.backends, duration=args.duration,
                         dt=args.dt, dtype=args.dtype, progress=not args.no_progress,
                         log=lambda msg: print(msg, file=sys.stderr), reference=args.reference,
                         all_matrix=args.all_matrix, allow_inexact=args.allow_inexact,
                         delay_mechanism=args.delay_mechanism, threads=args.threads,
                         devices=args.devices)
    print(comparison.header())
    print(comparison.table())
    if args.json:
        comparison.save_json(args.json)
        print(f"json written to {args.json}")
    if plot:
        comparison.plot(plot)
        print(f"bar chart written to {plot}")


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of Hz or a comma-separated list, not {text!r}") from None


def cmd_autotune(args) -> None:
    from .core.connect import Connectivity, FixedProb
    from .core.delays import UniformDelay
    from .fastest import fastest

    if args.conn is not None:
        if args.n_pre is not None or args.n_post is not None:
            raise SynbenchError("--n-pre and --n-post come from the file with --conn; "
                                "leave them out")
        if args.counter_based:
            raise SynbenchError("--counter-based builds the connectivity of --p; a file given "
                                "with --conn holds its synapses as they are")
        conn = Connectivity.load(args.conn)
    else:
        if args.n_pre is None:
            raise SynbenchError("--p needs --n-pre (and --n-post, which defaults to --n-pre)")
        n_post = args.n_pre if args.n_post is None else args.n_post
        conn = FixedProb(args.p, seed=0, counter_based=args.counter_based).build(args.n_pre,
                                                                                  n_post)
    delay = UniformDelay(*args.delay, seed=0) if isinstance(args.delay, tuple) else args.delay
    result = fastest(conn, backend=args.backend, rate_hz=args.rate, dtype=args.dtype,
                     budget_s=args.budget, cache=not args.no_cache, synapse=args.synapse,
                     log=lambda line: print(line, file=sys.stderr), delay=delay, dt=args.dt,
                     threads=args.threads)
    print(result)


COMMANDS = {"list": cmd_list, "run": cmd_run, "compare": cmd_compare, "autotune": cmd_autotune}


@contextlib.contextmanager
def _jax_compilation_cache():
    """JAX's persistent compilation cache in synbench's cache directory while a command
    runs (unless the user set one), so a second run compiles nothing for JAX either.

    Through the environment, read when JAX is imported: the command's own JAX, not the
    process's (a JAX already imported, as in a test calling ``main``, is left alone).
    """
    from .core.cache import cache_dir

    names = {"JAX_COMPILATION_CACHE_DIR": str(cache_dir() / "jax"),
             "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}  # ours take 0.3-3 s
    added = [] if "jax" in sys.modules else [k for k in names if k not in os.environ]
    os.environ.update({k: names[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def main(argv: list[str] | None = None) -> int:
    with warnings.catch_warnings(), _jax_compilation_cache():
        default = warnings.showwarning

        def show(message, category, *args, **kwargs):  # ours on one line, without a source line
            if issubclass(category, SynbenchWarning):
                print(f"synbench: warning: {message}", file=sys.stderr)
            else:
                default(message, category, *args, **kwargs)

        warnings.showwarning = show
        try:
            args = build_parser().parse_args(argv)
            COMMANDS[args.command](args)
        except SynbenchError as err:
            print(f"synbench: error: {err}", file=sys.stderr)
            if _DISTRIBUTED:  # exiting normally would wait for the other processes
                sys.stderr.flush()
                os._exit(2)
            return 2
        except KeyboardInterrupt:
            print("synbench: interrupted", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
