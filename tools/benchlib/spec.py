"""What tools/bench runs and how it judges it: runtimes, workload cases, table rows, bars.

Everything a reader may want to change lives in the four tables below:

  RUNTIMES  the programs compared, in column order (goro first).
  CASES     one program invocation per runtime and repetition (workload + arguments).
  FIGURES   the rows of the results table, each computed from the median of the cases.
  BARS      the targets from the issues, as goro/peer ratios of a figure.
"""
from dataclasses import dataclass
from typing import Callable, Optional

# ---------------------------------------------------------------------------------------------
# Runtimes (columns). Paths are relative to the build directory (build/bench).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    key: str                       # short id used in results/latest.json
    name: str                      # column heading
    bench: str                     # the workload program: <bench> <workload> [--procs N] [--n N]
    http_server: Optional[str]     # the HTTP server program (prints LISTENING), or None: no peer


GORO_BENCH = "bench/goro/goro_bench"
GORO_HTTP_SERVER = "examples/http_server"   # goro's HTTP example
GORO_CONN100K = "bench/goro/goro_conn100k"  # holds 100,000 connections open against a server

# Programs that may not exist yet: when missing they are shown as "—" (not built yet). Any other
# missing program (a peer) is a failure.
PENDING_PROGRAMS = {GORO_BENCH, GORO_HTTP_SERVER, GORO_CONN100K}

RUNTIMES = [
    Runtime("goro", "goro", GORO_BENCH, GORO_HTTP_SERVER),
    Runtime("go", "Go", "go_bench", "go_bench http-server"),
    Runtime("boostfiber", "Boost.Fiber", "bench/boostfiber/boostfiber_bench", None),
]

# ---------------------------------------------------------------------------------------------
# Cases: what is run. kind "plain" runs `<bench> <workload> <args>` and reads its RESULT line;
# "echo" and "http" start the runtime's server and load it; "conn100k" runs goro_conn100k, which
# starts the runtime's echo server itself and holds 100,000 connections open to it (see runner.py).
# ---------------------------------------------------------------------------------------------

ECHO_CLIENT = [GORO_BENCH, "echo-client", "--conns", "100", "--seconds", "5"]   # + --addr host:port
WRK = ["wrk", "-t1", "-c100", "-d5s", "--latency"]                              # + http://host:port/
CONN100K = [GORO_CONN100K, "--conns", "100000", "--seconds", "60"]   # + --server key -- <echo server>


@dataclass(frozen=True)
class Case:
    id: str                        # unique key, e.g. "pingpong/p1"
    workload: str                  # the name given on tools/bench's command line
    args: tuple = ()               # extra arguments for the program
    metrics: tuple = ()            # metrics the RESULT line must carry
    kind: str = "plain"            # "plain" | "echo" | "http" | "conn100k"

    def title(self):
        return " ".join((self.workload,) + self.args)


CASES = [
    Case("spawn", "spawn", metrics=("ns_per_op",)),
    Case("skynet", "skynet", metrics=("ms",)),
    Case("pingpong/p1", "pingpong", ("--procs", "1"), ("ns_per_op",)),
    Case("pingpong/p2", "pingpong", ("--procs", "2"), ("ns_per_op",)),
    Case("chan_mpmc", "chan_mpmc", metrics=("ns_per_op",)),
    Case("select", "select", metrics=("ns_per_op",)),
    Case("yield", "yield", metrics=("ns_per_op",)),
    Case("fib/p1", "fib", ("--procs", "1"), ("ms",)),
    Case("fib/p2", "fib", ("--procs", "2"), ("ms",)),
    Case("mutex", "mutex", metrics=("ns_per_op",)),
    Case("sleep", "sleep", metrics=("wall_ms", "peak_rss_kb")),
    Case("idle_mem/0", "idle_mem", ("--n", "0"), ("peak_rss_kb",)),
    Case("idle_mem/100k", "idle_mem", ("--n", "100000"), ("peak_rss_kb",)),
    Case("idle_mem/1M", "idle_mem", ("--n", "1000000"), ("peak_rss_kb",)),
    Case("echo", "echo", metrics=("msgs_per_s", "p99_us"), kind="echo"),
    Case("http", "http", metrics=("requests_per_s", "p99_us"), kind="http"),
    Case("conn100k", "conn100k", metrics=("bytes_per_conn", "peak_rss_kb", "base_rss_kb"),
         kind="conn100k"),
]

WORKLOADS = list(dict.fromkeys(c.workload for c in CASES))   # in order, for the command line

# ---------------------------------------------------------------------------------------------
# Figures: the rows of the table. `value` maps one runtime's medians {case id: {metric: median}}
# to the number shown. Ratios are always goro / peer.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str                       # id used by BARS
    label: str                     # row heading
    unit: str
    cases: tuple                   # case ids the value needs
    value: Callable[[dict], float]
    higher_is_better: bool = False
    chart: bool = True             # drawn in the SVG (as a cost: throughputs are inverted)
    chart_label: str = ""          # row heading in the chart, if not label


def metric(case, name):
    return lambda med: med[case][name]


def bytes_per_goroutine(case, n):
    """(peak RSS with n parked goroutines - peak RSS of an empty run) per goroutine, in bytes."""
    return lambda med: (med[case]["peak_rss_kb"] - med["idle_mem/0"]["peak_rss_kb"]) * 1024 / n


FIGURES = [
    Figure("spawn", "spawn", "ns/goroutine", ("spawn",), metric("spawn", "ns_per_op")),
    Figure("skynet", "skynet", "ms", ("skynet",), metric("skynet", "ms")),
    Figure("pingpong/p1", "pingpong, procs 1", "ns/round trip", ("pingpong/p1",),
           metric("pingpong/p1", "ns_per_op")),
    Figure("pingpong/p2", "pingpong, procs 2", "ns/round trip", ("pingpong/p2",),
           metric("pingpong/p2", "ns_per_op")),
    Figure("chan_mpmc", "chan_mpmc", "ns/message", ("chan_mpmc",), metric("chan_mpmc", "ns_per_op")),
    Figure("select", "select", "ns/message", ("select",), metric("select", "ns_per_op")),
    Figure("yield", "yield", "ns/yield", ("yield",), metric("yield", "ns_per_op")),
    Figure("fib/p1", "fib(27), procs 1", "ms", ("fib/p1",), metric("fib/p1", "ms")),
    Figure("fib/p2", "fib(27), procs 2", "ms", ("fib/p2",), metric("fib/p2", "ms")),
    Figure("fib/speedup", "fib speedup 2 vs 1", "×", ("fib/p1", "fib/p2"),
           lambda med: med["fib/p1"]["ms"] / med["fib/p2"]["ms"], higher_is_better=True, chart=False),
    Figure("mutex", "mutex", "ns/lock+unlock", ("mutex",), metric("mutex", "ns_per_op")),
    Figure("sleep/wall", "sleep, wall time", "ms", ("sleep",), metric("sleep", "wall_ms")),
    Figure("sleep/rss", "sleep, peak RSS", "MiB", ("sleep",),
           lambda med: med["sleep"]["peak_rss_kb"] / 1024),
    Figure("idle_mem/100k", "idle_mem, 100k goroutines", "B/goroutine", ("idle_mem/0", "idle_mem/100k"),
           bytes_per_goroutine("idle_mem/100k", 100_000)),
    Figure("idle_mem/1M", "idle_mem, 1M goroutines", "B/goroutine", ("idle_mem/0", "idle_mem/1M"),
           bytes_per_goroutine("idle_mem/1M", 1_000_000)),
    Figure("echo/rate", "echo, throughput", "msgs/s", ("echo",), metric("echo", "msgs_per_s"),
           higher_is_better=True, chart_label="echo, time per message"),
    Figure("echo/p99", "echo, p99 latency", "µs", ("echo",), metric("echo", "p99_us")),
    Figure("http/rate", "http, throughput", "requests/s", ("http",), metric("http", "requests_per_s"),
           higher_is_better=True, chart_label="http, time per request"),
    Figure("http/p99", "http, p99 latency", "µs", ("http",), metric("http", "p99_us")),
    Figure("conn100k", "100k connections, server RSS", "B/connection", ("conn100k",),
           metric("conn100k", "bytes_per_conn")),
]

# ---------------------------------------------------------------------------------------------
# Bars: the issues' targets. (figure key, peer key or None for goro's own value, op, limit):
# the goro/peer ratio of the figure's medians (or goro's value when peer is None) must satisfy
# `ratio op limit`.
# ---------------------------------------------------------------------------------------------

BARS = [
    # figure           peer           op    limit
    ("spawn",          "go",          "<=", 0.5),
    ("yield",          "boostfiber",  "<=", 0.5),
    ("pingpong/p1",    "go",          "<=", 0.4),
    ("pingpong/p2",    "go",          "<=", 0.5),
    ("chan_mpmc",      "go",          "<=", 0.8),
    ("select",         "go",          "<=", 0.6),
    ("skynet",         "go",          "<=", 0.5),
    ("fib/p1",         "go",          "<=", 0.5),
    ("fib/p2",         "go",          "<=", 0.5),
    ("fib/speedup",    None,          ">=", 1.7),
    ("mutex",          "go",          "<=", 0.6),
    ("sleep/wall",     "go",          "<=", 0.6),
    ("sleep/rss",      "go",          "<=", 1.6),
    ("idle_mem/1M",    "go",          "<=", 1.6),
    ("echo/rate",      "go",          ">=", 1.3),
    ("echo/p99",       "go",          "<=", 1.0),
    ("http/rate",      "go",          ">=", 1.3),
    ("http/p99",       "go",          "<=", 1.0),
    ("conn100k",       "go",          "<=", 1.0),
]

# ---------------------------------------------------------------------------------------------

RUNS = 5                  # repetitions; the median is reported
TIMEOUT_S = 120           # per benchmark process
SERVER_START_S = 10       # for a server to print LISTENING
SERVER_STOP_S = 5         # for a server to exit after SIGTERM
LOAD_TIMEOUT_S = 60       # for a load generator (they run 5 s)

# Environment variables that change how a runtime behaves; removed for every benchmark process
# so that each runs with its defaults (all cores unless --procs is given).
SCRUBBED_ENV_PREFIXES = ("GORO_", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG")


def runtime(key):
    return next(r for r in RUNTIMES if r.key == key)


def figure(key):
    return next(f for f in FIGURES if f.key == key)


def cases_for(workloads):
    """The cases of the given workloads (all when empty), in table order."""
    return [c for c in CASES if not workloads or c.workload in workloads]
