// spawn: 1,000,000 goroutines that each only call WaitGroup.Done; figure: ns per goroutine.
package main

import (
	"sync"
	"time"
)

func benchSpawn(options) {
	const n = 1000000
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	result("spawn", "ns_per_op", nsPer(start, n))
}
