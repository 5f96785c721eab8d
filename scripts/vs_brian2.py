"""Time a synbench kernel against Brian 2's C++ standalone mode on the same COBA network.

    python scripts/vs_brian2.py --n 4000 64000 256000 --repeats 5
    NUMBA_NUM_THREADS=16 python scripts/vs_brian2.py --n 256000 --threads 1 2 4 8 16

needs Brian 2 in its own virtual environment (see scripts/brian2_coba.py; point
``--brian-python`` or $BRIAN_PYTHON at its interpreter). For each n it builds and compiles
Brian's network once, then alternates Brian's binary with ``synbench run`` in fresh
processes, so each side gets its own peak memory (the maximum resident set size of that
process, from wait4) and neither warms the other's caches. Both sides report their run
alone: Brian's own timing of its simulation loop, synbench's ``wall_s`` (compile apart).
The ratio quoted is the median over the alternated pairs of Brian run / synbench run.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def run_measured(cmd, **kwargs):
    """Run cmd to completion; return (stdout, peak resident memory of the process in MB).

    Linux carries the forking process's high-water mark through exec into the child's
    maximum resident size, so this driver imports nothing heavy (only the standard
    library): its own ~20 MB is then the floor of every figure it reports.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kwargs)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"error: {' '.join(map(str, cmd))} exited with {proc.returncode}")
    return out, usage.ru_maxrss / 1024  # ru_maxrss is in kB on Linux


def brian_build(brian_python, n, duration, workdir, method, delay="0", threads=1):
    cmd = [brian_python, str(HERE / "brian2_coba.py"), "--n", str(n),
           "--duration", str(duration), "--workdir", workdir, "--method", method,
           "--delay", delay, "--threads", str(threads)]
    out, _ = run_measured(cmd, stderr=subprocess.DEVNULL)
    return json.loads(out.strip().splitlines()[-1])


def brian_run(binary):
    workdir = pathlib.Path(binary).parent
    _, peak_mb = run_measured([binary, "--results_dir", "results/"], cwd=workdir)
    run_s = float((workdir / "results" / "last_run_info.txt").read_text().split()[0])
    return run_s, peak_mb


def synbench_run(n, duration, strategy, backend, json_path, delay="0", threads=None):
    cmd = [sys.executable, "-m", "synbench", "run", "--n", str(n), "--duration", str(duration),
           "--strategy", strategy, "--backend", backend, "--no-progress", "--json", json_path,
           "--delay", delay, *(["--threads", str(threads)] if threads else [])]
    _, peak_mb = run_measured(cmd)
    return json.loads(pathlib.Path(json_path).read_text()), peak_mb


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[4000])
    parser.add_argument("--duration", type=float, default=1000.0, help="ms (default 1000)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--strategy", default="pre_slice")
    parser.add_argument("--backend", default=None,
                        help="(default numba; numba_parallel with --threads)")
    parser.add_argument("--brian-python",
                        default=os.environ.get("BRIAN_PYTHON", "/opt/brian_venv/bin/python"))
    parser.add_argument("--brian-method", default="exponential_euler",
                        help="Brian's state updater (see scripts/brian2_coba.py)")
    parser.add_argument("--delay", default="0", metavar="MS|LOW:HIGH",
                        help="the same delays on both sides: ms, or LOW:HIGH per synapse")
    parser.add_argument("--threads", type=int, nargs="+", default=None, metavar="N",
                        help="thread counts: Brian 2 with OpenMP on N threads against "
                             "synbench's numba_parallel --threads N (needs NUMBA_NUM_THREADS "
                             ">= the largest N)")
    parser.add_argument("--json", help="write every measurement here")
    args = parser.parse_args()
    if args.backend is None:
        args.backend = "numba" if args.threads is None else "numba_parallel"
    if args.threads is not None and args.backend != "numba_parallel":
        sys.exit("error: --threads compares against numba_parallel; leave --backend out")
    if not pathlib.Path(args.brian_python).exists():
        sys.exit(f"error: no Brian 2 interpreter at {args.brian_python}; create one with "
                 "'python3 -m venv /opt/brian_venv && /opt/brian_venv/bin/pip install brian2 "
                 "\"numpy<2.4\"' or pass --brian-python")
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, threads in [(n, t) for n in args.n for t in args.threads or [None]]:
            built = brian_build(args.brian_python, n, args.duration,
                                f"{tmp}/brian_{n}_{threads}", args.brian_method, args.delay,
                                threads or 1)
            pairs = []
            for _ in range(args.repeats):
                brian_s, brian_mb = brian_run(built["binary"])
                ours, ours_mb = synbench_run(n, args.duration, args.strategy, args.backend,
                                             f"{tmp}/synbench_{n}.json", args.delay, threads)
                pairs.append({"brian_s": brian_s, "brian_peak_mb": brian_mb,
                              "synbench_s": ours["wall_s"], "synbench_peak_mb": ours_mb})
            record = {"n": n, "duration_ms": args.duration, "brian_method": args.brian_method,
                      "delay": args.delay, "threads": threads,
                      "strategy": args.strategy, "backend": args.backend,
                      "brian_rates_hz": built["rates_hz"], "synbench_rates_hz": ours["rates_hz"],
                      "brian_n_syn": built["n_syn"], "pairs": pairs,
                      "median_ratio": statistics.median(p["brian_s"] / p["synbench_s"]
                                                        for p in pairs)}
            records.append(record)
            print(summary_line(record), flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(records, indent=2))


def summary_line(record):
    pairs = record["pairs"]

    def median(key):
        return statistics.median(p[key] for p in pairs)

    rates = "/".join(f"{v:.1f}" for v in record["synbench_rates_hz"].values())
    brian_rates = "/".join(f"{v:.1f}" for v in record["brian_rates_hz"].values())
    threads = f", {record['threads']} threads" if record.get("threads") else ""
    return (f"n={record['n']}{threads}: {record['strategy']} ({record['backend']}) "
            f"{median('synbench_s'):.3f} s, peak {median('synbench_peak_mb'):.0f} MB, "
            f"rates E/I {rates} Hz | Brian 2 standalone ({record['brian_method']}) "
            f"{median('brian_s'):.3f} s, "
            f"peak {median('brian_peak_mb'):.0f} MB, rates {brian_rates} Hz | "
            f"Brian / synbench = {record['median_ratio']:.2f}x (median of {len(pairs)})")


if __name__ == "__main__":
    main()
