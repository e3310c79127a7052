"""Running benchmark programs: one attempt of one case on one runtime, and the whole suite.

A plain workload is one process: `<bench> <workload> <args>` prints one line
`RESULT <workload> <metric>=<value> ...` and exits 0; exit 3 means "not supported"; exit 4 means
"this machine cannot run it" (a limit it may not raise; the program says why on stderr); any
other exit, a timeout or a missing/garbled RESULT line is a failure. The server workloads start
the runtime's server (which prints `LISTENING host:port`), check one answer by hand, load it
(goro's echo client, or wrk), then stop it with SIGTERM. conn100k runs goro_conn100k, which
starts the runtime's echo server itself, holds 100,000 connections open to it and reports the
server's memory.
"""
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import spec


class Unsupported(Exception):
    """The runtime has no program for this case (exit 3, or not built)."""


class Failure(Exception):
    """The program failed: wrong exit status, timeout, bad output, wrong answer."""


@dataclass
class Cell:
    """Everything measured for one case on one runtime."""
    samples: list = field(default_factory=list)    # one {metric: value} per successful run
    failures: list = field(default_factory=list)   # one message per failed run
    note: str = ""                                 # why unsupported
    unsupported: bool = False
    timed_out: bool = False

    @property
    def status(self):
        if self.failures:
            return "failed"
        if self.unsupported:
            return "unsupported"
        return "ok" if self.samples else "not run"

    def to_json(self):
        return {"status": self.status, "samples": self.samples, "failures": self.failures,
                "note": self.note}

    @classmethod
    def from_json(cls, d):
        return cls(samples=d["samples"], failures=d["failures"], note=d.get("note", ""),
                   unsupported=d["status"] == "unsupported")


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

def bench_env():
    """The environment without the variables that tune a runtime (spec.SCRUBBED_ENV_PREFIXES)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(spec.SCRUBBED_ENV_PREFIXES)}


def program(build_dir, command):
    """argv for a program given as 'path-in-build-dir [args...]'. If it is not built: Unsupported
    for spec.PENDING_PROGRAMS, Failure for the others."""
    argv = command.split() if isinstance(command, str) else list(command)
    path = Path(build_dir) / argv[0]
    if not path.is_file():
        if argv[0] in spec.PENDING_PROGRAMS:
            raise Unsupported(f"not built ({path})")
        raise Failure(f"{path} is missing (build first: tools/bench without --no-build)")
    return [str(path)] + argv[1:]


def tail(text, lines=8):
    text = (text or "").strip()
    return "\n".join(text.splitlines()[-lines:])


def describe_exit(rc):
    """'exit 1', 'killed by SIGSEGV', or 'exit 139 (killed by SIGSEGV)' through the launcher."""
    def name(sig):
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"signal {sig}"
    if rc < 0:
        return f"killed by {name(-rc)}"
    if rc > 128:
        return f"exit {rc} (killed by {name(rc - 128)})"
    return f"exit {rc}"


def failure(what, argv, stderr=""):
    return Failure(f"{what}: {' '.join(argv)}" + (f"\n{tail(stderr)}" if tail(stderr) else ""))


# A process's peak RSS (getrusage ru_maxrss, which idle_mem and sleep report) starts at the RSS
# of the process that exec'd it: Linux keeps the larger of the two across execve. Started
# straight from this Python process, every program would report at least Python's RSS (25 MB
# and more). A small shell forks the program instead (it does not exec in place for a command
# followed by another one), so the floor is the shell's RSS, about 1 MB.
LAUNCHER = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]


def run_program(argv, timeout):
    """Runs argv to completion; returns stdout. Raises Unsupported on exit 3, Failure otherwise."""
    proc = subprocess.Popen(LAUNCHER + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=bench_env(),
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise failure(f"timed out after {timeout} s", argv, err) from None
    except BaseException:   # Ctrl-C: leave nothing running
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode == 3:
        raise Unsupported("not supported (exit 3)")
    if proc.returncode == 4:
        raise Unsupported(tail(err, 1).rstrip(".") or "this machine cannot run it (exit 4)")
    if proc.returncode != 0:
        raise failure(describe_exit(proc.returncode), argv, err)
    return out


def parse_result(stdout, workload, metrics, labels=()):
    """The {metric: value} of the single `RESULT <workload> k=v ...` line; Failure if absent,
    repeated, for another workload, or missing one of `metrics`. Words whose key is in `labels`
    (e.g. server=goro) are not numbers and are skipped."""
    lines = [l.split() for l in stdout.splitlines() if l.startswith("RESULT ")]
    if len(lines) != 1:
        raise Failure(f"expected one RESULT line, got {len(lines)}:\n{tail(stdout)}")
    words = lines[0]
    if len(words) < 2 or words[1] != workload:
        raise Failure(f"RESULT line is not for {workload}: {' '.join(words)}")
    values = {}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if key in labels:
            continue
        try:
            values[key] = float(value)
        except ValueError:
            raise Failure(f"bad value in RESULT line: {word}") from None
    missing = [m for m in metrics if m not in values]
    if missing:
        raise Failure(f"RESULT line lacks {', '.join(missing)}: {' '.join(words)}")
    return values


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------

def first_line(proc, out, timeout):
    """The first line the process writes to the file `out`, or None if it exits or times out
    first. (A file, not a pipe: a server that goes on printing can never block on it.)"""
    deadline = time.monotonic() + timeout
    while True:
        out.seek(0)
        text = out.read().decode(errors="replace")
        if "\n" in text:
            return text.splitlines()[0]
        if proc.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.01)


@contextmanager
def server(argv):
    """Starts a server, yields the host:port it prints as `LISTENING host:port`, then SIGTERMs it.
    Unsupported if it exits 3 at start; Failure if it fails to start, dies during the load,
    or does not exit cleanly (0 or by SIGTERM) within spec.SERVER_STOP_S of SIGTERM."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=bench_env(), start_new_session=True)

        def stderr_tail():
            err.seek(0)
            return tail(err.read().decode(errors="replace"))

        try:
            line = first_line(proc, out, spec.SERVER_START_S)
            if line is None or not line.startswith("LISTENING "):
                if proc.poll() is None:
                    raise failure(f"no LISTENING line within {spec.SERVER_START_S} s (got {line!r})",
                                  argv, stderr_tail())
                if proc.returncode == 3:
                    raise Unsupported("not supported (exit 3)")
                raise failure(f"{describe_exit(proc.returncode)} at start", argv, stderr_tail())
            yield line.split()[1]
            if proc.poll() is not None:
                raise failure(f"server died during the load ({describe_exit(proc.returncode)})",
                              argv, stderr_tail())
        finally:
            problem = stop(proc)
        if problem:   # only reached when nothing else went wrong first
            raise failure(f"server {problem}", argv, stderr_tail())


def stop(proc):
    """SIGTERMs a running server and reaps it; a message if it did not exit cleanly in time."""
    if proc.poll() is not None:
        return None
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=spec.SERVER_STOP_S)
        problem = None
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        problem = f"still running {spec.SERVER_STOP_S} s after SIGTERM"
    if problem is None and proc.returncode not in (0, -signal.SIGTERM):
        problem = f"{describe_exit(proc.returncode)} after SIGTERM"
    return problem


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def check_echo(addr):
    """Sends one 64-byte message and checks that the same 64 bytes come back."""
    message = bytes(range(64))
    try:
        with socket.create_connection(split_addr(addr), timeout=5) as s:
            s.sendall(message)
            got = b""
            while len(got) < len(message):
                chunk = s.recv(len(message) - len(got))
                if not chunk:
                    break
                got += chunk
    except OSError as e:
        raise Failure(f"echo check against {addr}: {e}") from None
    if got != message:
        raise Failure(f"echo check against {addr}: sent 64 bytes, got back {got!r}")


def check_http(addr):
    """GET / must answer 200 with the body 'hello\\n'."""
    try:
        with urllib.request.urlopen(f"http://{addr}/", timeout=5) as r:
            status, body = r.status, r.read()
    except OSError as e:
        raise Failure(f"GET http://{addr}/: {e}") from None
    if status != 200 or body != b"hello\n":
        raise Failure(f"GET http://{addr}/ answered {status} {body[:80]!r}, want 200 b'hello\\n'")


UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(out):
    """{requests_per_s, p99_us} from `wrk --latency` output; Failure on errors in the run."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
    if not rate or not p99:
        raise Failure(f"cannot read requests/s and p99 from wrk:\n{tail(out)}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise Failure(f"{non2xx.group(1)} answers were not 2xx/3xx")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        raise Failure(f"wrk saw socket errors: {errors.group(0)}")
    return {"requests_per_s": float(rate.group(1)),
            "p99_us": float(p99.group(1)) * UNITS_US[p99.group(2)]}


# ---------------------------------------------------------------------------------------------
# One attempt
# ---------------------------------------------------------------------------------------------

def run_plain(case, rt, build_dir, timeout):
    argv = program(build_dir, rt.bench) + [case.workload, *case.args]
    return parse_result(run_program(argv, timeout), case.workload, case.metrics)


def run_echo(case, rt, build_dir, timeout):
    with server(program(build_dir, rt.bench) + ["echo-server", "--addr", "127.0.0.1:0"]) as addr:
        check_echo(addr)
        try:
            client = program(build_dir, spec.ECHO_CLIENT) + ["--addr", addr]
            out = run_program(client, spec.LOAD_TIMEOUT_S)
        except Unsupported as e:
            raise Unsupported(f"the load generator (goro_bench echo-client) is {e}") from None
    return parse_result(out, "echo", case.metrics)


def run_http(case, rt, build_dir, timeout):
    if rt.http_server is None:
        raise Unsupported("no peer program")
    with server(program(build_dir, rt.http_server) + ["--addr", "127.0.0.1:0"]) as addr:
        check_http(addr)
        out = run_program(spec.WRK + [f"http://{addr}/"], spec.LOAD_TIMEOUT_S)
    return parse_wrk(out)


def run_conn100k(case, rt, build_dir, timeout):
    server = program(build_dir, rt.bench) + ["echo-server", "--addr", "127.0.0.1:0"]
    argv = program(build_dir, spec.CONN100K) + ["--server", rt.key, "--", *server]
    return parse_result(run_program(argv, timeout), "conn100k", case.metrics, labels=("server",))


RUNNERS = {"plain": run_plain, "echo": run_echo, "http": run_http, "conn100k": run_conn100k}


def attempt(case, rt, build_dir, timeout):
    """One run of case on rt: ("ok", sample) | ("unsupported", note) | ("failed", message)."""
    try:
        return "ok", RUNNERS[case.kind](case, rt, build_dir, timeout)
    except Unsupported as e:
        return "unsupported", str(e)
    except Failure as e:
        return "failed", str(e)


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------

def describe_sample(sample):
    return " ".join(f"{k}={int(v) if v.is_integer() else round(v, 3)}" for k, v in sample.items())


def run_suite(cases, runtimes, runs, build_dir, timeout, log=sys.stderr):
    """Runs every case `runs` times, runtimes interleaved within each repetition, one process at
    a time. The cases of one workload are interleaved too (fib at procs 1 and 2, idle_mem's sizes):
    a figure computed from several cases, such as the fib speedup, then compares runs made side by
    side rather than minutes apart, which on a noisy host can differ by a third or more.
    Returns {case id: {runtime key: Cell}}. Failures are printed as they happen."""
    cells = {c.id: {rt.key: Cell() for rt in runtimes} for c in cases}
    total, step = len(cases) * runs * len(runtimes), 0
    rounds = []  # (repetition, case), in running order
    for _, same_workload in itertools.groupby(cases, key=lambda c: c.workload):
        group = list(same_workload)
        rounds += [(rep, case) for rep in range(runs) for case in group]
    for rep, case in rounds:
        for rt in runtimes:
            step += 1
            cell = cells[case.id][rt.key]
            if cell.unsupported or cell.timed_out:
                continue
            start = time.monotonic()
            kind, payload = attempt(case, rt, build_dir, timeout)
            took = time.monotonic() - start
            if kind == "unsupported" and cell.samples:
                kind, payload = "failed", f"{payload} after {len(cell.samples)} successful runs"
            head = f"[{step:3}/{total}] {case.title():<22} {rt.name:<12} run {rep + 1}/{runs}"
            if kind == "ok":
                cell.samples.append(payload)
                print(f"{head}  {describe_sample(payload)}  ({took:.1f} s)", file=log, flush=True)
            elif kind == "unsupported":
                cell.unsupported, cell.note = True, payload
                print(f"{head}  — {payload}", file=log, flush=True)
            else:
                cell.failures.append(f"run {rep + 1}: {payload}")
                cell.timed_out = payload.startswith("timed out")
                print(f"{head}  !!! FAILED ({took:.1f} s): {payload}", file=log, flush=True)
    return cells
