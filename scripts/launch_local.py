"""Start P local processes of one synbench command as one JAX runtime (jax.distributed).

    python scripts/launch_local.py --processes 2 -- synbench run --backend jax --devices 4

Each process runs the command with ``--processes P --process-id I --coordinator
127.0.0.1:PORT`` added (a free port): the network is split over the devices of all the
processes (here ``--devices 4``: two host CPU devices each), and they exchange each
step's spikes through JAX's collectives (gloo between CPU processes). Process 0's output
is shown; another's only when it fails. When one process fails the others are stopped
(they would wait for it), and all of them after ``--timeout`` seconds. The exit status
is the first failure's, 124 on the timeout, else 0.

On several hosts, run the same command on each with its own ``--process-id`` and the
first host's address as ``--coordinator`` (e.g. under SLURM, ``--process-id
$SLURM_PROCID``); nothing else changes.
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet(text: str) -> str:
    """Output without gloo's connection lines."""
    return "".join(line for line in text.splitlines(keepends=True) if "[Gloo]" not in line)


def launch(command: list[str], processes: int, timeout_s: float) -> int:
    if command[:1] == ["synbench"]:  # this interpreter's synbench, on PATH or not
        command = [sys.executable, "-m", "synbench", *command[1:]]
    port = free_port()
    running = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(processes):
            out = open(f"{tmp}/{i}.out", "w+")
            err = open(f"{tmp}/{i}.err", "w+")
            extra = ["--processes", str(processes), "--process-id", str(i),
                     "--coordinator", f"127.0.0.1:{port}"]
            running.append((subprocess.Popen(command + extra, stdout=out, stderr=err), out, err))
        deadline = time.monotonic() + timeout_s
        status = None
        while status is None:
            codes = [proc.poll() for proc, _, _ in running]
            failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                status, culprit = codes[failed[0]], failed[0]
            elif all(code == 0 for code in codes):
                status, culprit = 0, None
            elif time.monotonic() > deadline:
                status, culprit = 124, None
            else:
                time.sleep(0.1)
        for proc, _, _ in running:  # the others would wait for the failed one
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        outputs = []
        for _, out, err in running:
            out.seek(0)
            err.seek(0)
            outputs.append((quiet(out.read()), quiet(err.read())))
            out.close()
            err.close()
    sys.stdout.write(outputs[0][0])
    if status == 0:
        sys.stderr.write(outputs[0][1])
    elif status == 124:
        print(f"launch_local: stopped all {processes} processes after {timeout_s:g} s",
              file=sys.stderr)
    else:
        print(f"launch_local: process {culprit} exited with {status}:", file=sys.stderr)
        sys.stderr.write(outputs[culprit][1])
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="(default 2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after --: the synbench command every process runs")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --, e.g. -- synbench run --backend jax --devices 4")
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, not {args.processes}")
    return launch(command, args.processes, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
