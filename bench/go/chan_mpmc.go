// chan_mpmc: 4 producers and 4 consumers share one channel of capacity 128; 4,000,000 ints
// in total (each producer sends 1,000,000). Figure: ns per message. Checks that the sum and
// count of received values equal those sent.
package main

import (
	"sync"
	"time"
)

func benchChanMPMC(options) {
	const producers, consumers, total = 4, 4, 4000000
	const per = total / producers
	ch := make(chan int, 128)
	sums := make([]struct {
		sum, count int
		_          [48]byte // keep each consumer's counters on its own cache line
	}, consumers)
	var prodWG, consWG sync.WaitGroup
	start := time.Now()
	prodWG.Add(producers)
	for p := 0; p < producers; p++ {
		go func(p int) {
			defer prodWG.Done()
			for i := p * per; i < (p+1)*per; i++ {
				ch <- i
			}
		}(p)
	}
	consWG.Add(consumers)
	for c := 0; c < consumers; c++ {
		go func(c int) {
			defer consWG.Done()
			sum, count := 0, 0
			for v := range ch {
				sum += v
				count++
			}
			sums[c].sum, sums[c].count = sum, count
		}(c)
	}
	prodWG.Wait()
	close(ch)
	consWG.Wait()
	ns := nsPer(start, total)
	sum, count := 0, 0
	for _, s := range sums {
		sum += s.sum
		count += s.count
	}
	if want := total * (total - 1) / 2; sum != want || count != total {
		fail("chan_mpmc received %d values summing to %d, want %d summing to %d", count, sum, total, want)
	}
	result("chan_mpmc", "ns_per_op", ns)
}
