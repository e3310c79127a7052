// Go peer of the goro benchmarks (see /work/shared/BENCH.md).
// Usage: goro-bench-go <workload> [--procs N] [--n N] [--addr HOST:PORT]
// Every workload prints exactly one "RESULT <workload> <metric>=<value> ..." line,
// checks its own result and exits 1 (message on stderr) when it is wrong.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

type options struct {
	n    int
	addr string
}

var workloads = map[string]func(options){
	"spawn":       benchSpawn,
	"skynet":      benchSkynet,
	"pingpong":    benchPingpong,
	"chan_mpmc":   benchChanMPMC,
	"select":      benchSelect,
	"yield":       benchYield,
	"fib":         benchFib,
	"mutex":       benchMutex,
	"sleep":       benchSleep,
	"idle_mem":    benchIdleMem,
	"echo-server": echoServer,
	"http-server": httpServer,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goro-bench-go <workload> [--procs N] [--n N] [--addr HOST:PORT]")
		os.Exit(2)
	}
	name := os.Args[1]
	run, ok := workloads[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown workload %q\n", name)
		os.Exit(3)
	}
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	procs := fs.Int("procs", 0, "GOMAXPROCS (0 = Go's default)")
	n := fs.Int("n", 100000, "number of goroutines (idle_mem)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address (servers)")
	fs.Parse(os.Args[2:])
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	run(options{n: *n, addr: *addr})
}

// result prints the single RESULT line: result("spawn", "ns_per_op", 135.2, ...).
// Floats are printed as plain decimals (never exponent notation).
func result(workload string, kv ...interface{}) {
	line := "RESULT " + workload
	for i := 0; i+1 < len(kv); i += 2 {
		if f, ok := kv[i+1].(float64); ok {
			line += fmt.Sprintf(" %s=%.3f", kv[i], f)
		} else {
			line += fmt.Sprintf(" %s=%d", kv[i], kv[i+1])
		}
	}
	fmt.Println(line)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// nsPer returns elapsed nanoseconds per operation (time.Since is monotonic).
func nsPer(start time.Time, ops int) float64 {
	return float64(time.Since(start).Nanoseconds()) / float64(ops)
}

func msSince(start time.Time) float64 {
	return float64(time.Since(start).Nanoseconds()) / 1e6
}

// peakRSSKiB is getrusage(RUSAGE_SELF).ru_maxrss, in KiB on Linux.
func peakRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return ru.Maxrss
}
