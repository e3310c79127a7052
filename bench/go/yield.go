// yield: 1,000 goroutines each call runtime.Gosched 1,000 times. Figure: ns per yield
// (total time / 1,000,000).
package main

import (
	"runtime"
	"sync"
	"time"
)

func benchYield(options) {
	const goroutines, yields = 1000, 1000
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			for i := 0; i < yields; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	result("yield", "ns_per_op", nsPer(start, goroutines*yields))
}
