// select: 4 producers each feed their own channel (capacity 16) 500,000 ints; one consumer
// selects over the 4 channels until 2,000,000 values are received. Figure: ns per message.
package main

import "time"

func benchSelect(options) {
	const producers, per = 4, 500000
	const total = producers * per
	var chs [producers]chan int
	for i := range chs {
		chs[i] = make(chan int, 16)
	}
	start := time.Now()
	for p := 0; p < producers; p++ {
		go func(ch chan<- int, base int) {
			for i := 0; i < per; i++ {
				ch <- base + i
			}
		}(chs[p], p*per)
	}
	sum, count := 0, 0
	for count < total {
		var v int
		select {
		case v = <-chs[0]:
		case v = <-chs[1]:
		case v = <-chs[2]:
		case v = <-chs[3]:
		}
		sum += v
		count++
	}
	ns := nsPer(start, total)
	if want := total * (total - 1) / 2; sum != want {
		fail("select received values summing to %d, want %d", sum, want)
	}
	result("select", "ns_per_op", ns)
}
