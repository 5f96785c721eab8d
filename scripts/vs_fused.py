"""Time synbench's COBA run against the hand-fused single-core loop (the yardstick).

    python scripts/vs_fused.py --n 4000 --repeats 7
    python scripts/vs_fused.py --fused /path/to/coba_fused.py --strategy csr

The yardstick is ``limit/coba_fused.py`` in the project's shared folder (not part of
synbench): COBA as one hand-written Numba loop that prints its own run time as JSON. Each
side runs in a fresh process, alternately, and reports its run alone (compilation apart);
the ratio quoted is synbench's median over the yardstick's.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_FUSED = HERE.parents[1] / "shared" / "limit" / "coba_fused.py"


def fused_run(path, n, duration):
    done = subprocess.run([sys.executable, str(path), str(n), str(duration)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {path} exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["run_s"]


def synbench_run(n, duration, strategy, backend):
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "run.json"
        done = subprocess.run([sys.executable, "-m", "synbench", "run", "--n", str(n),
                               "--duration", str(duration), "--strategy", strategy,
                               "--backend", backend, "--no-progress", "--json", str(out)],
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"error: synbench run exited with {done.returncode}: "
                     f"{done.stderr.strip()[-300:]}")
        return json.loads(out.read_text())["wall_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--duration", type=float, default=1000.0, help="ms (default 1000)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--strategy", default="pre_slice")
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--fused", type=pathlib.Path, default=DEFAULT_FUSED,
                        help=f"the yardstick's script (default {DEFAULT_FUSED})")
    args = parser.parse_args()
    if not args.fused.is_file():
        sys.exit(f"error: no yardstick at {args.fused}; pass --fused PATH/coba_fused.py")
    fused_run(args.fused, args.n, 10.0)  # compiled once, so the first pair is like the rest
    pairs = [(fused_run(args.fused, args.n, args.duration),
              synbench_run(args.n, args.duration, args.strategy, args.backend))
             for _ in range(args.repeats)]
    fused, ours = (statistics.median(side) for side in zip(*pairs, strict=True))
    print(f"n={args.n}, {args.duration:g} ms: yardstick {fused:.4f} s, {args.strategy} "
          f"({args.backend}) {ours:.4f} s: {ours / fused:.2f}x the yardstick "
          f"(medians of {args.repeats} alternated pairs)")


if __name__ == "__main__":
    main()
