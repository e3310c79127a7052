// mutex: 100 goroutines each do 10,000 Lock / increment / Unlock on one sync.Mutex.
// Figure: ns per lock+unlock (total time / 1,000,000). Counter must be 1,000,000.
package main

import (
	"sync"
	"time"
)

func benchMutex(options) {
	const goroutines, iters = 100, 10000
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	start := time.Now()
	wg.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			for i := 0; i < iters; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	ns := nsPer(start, goroutines*iters)
	if counter != goroutines*iters {
		fail("mutex counter %d, want %d", counter, goroutines*iters)
	}
	result("mutex", "ns_per_op", ns)
}
