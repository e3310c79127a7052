// idle_mem: --n N goroutines block receiving on one unbuffered channel; once all of them
// have started, the peak RSS is read (getrusage ru_maxrss), then the channel is closed and
// all goroutines exit. N=0 is the empty-run baseline: bytes per goroutine =
// (peak(N) - peak(0)) / N, computed by the harness.
package main

import "sync"

func benchIdleMem(o options) {
	n := o.n
	ch := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	rss := peakRSSKiB()
	close(ch)
	exited.Wait()
	result("idle_mem", "peak_rss_kb", rss, "peak_rss_bytes", rss*1024, "n", n)
}
