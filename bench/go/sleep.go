// sleep: 100,000 goroutines each sleep a uniform 1..100 ms (fixed seed), then signal a
// WaitGroup. Figures: wall ms (ideal 100) and peak RSS in KiB.
package main

import (
	"math/rand"
	"sync"
	"time"
)

func benchSleep(options) {
	const n = 100000
	rng := rand.New(rand.NewSource(42))
	durations := make([]time.Duration, n)
	for i := range durations {
		durations[i] = time.Duration(1+rng.Intn(100)) * time.Millisecond
	}
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for _, d := range durations {
		go func(d time.Duration) {
			time.Sleep(d)
			wg.Done()
		}(d)
	}
	wg.Wait()
	ms := msSince(start)
	result("sleep", "wall_ms", ms, "peak_rss_kb", peakRSSKiB())
}
