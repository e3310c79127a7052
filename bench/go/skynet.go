// skynet: 1,000,000 leaves in a 10-ary tree of goroutines; each inner node makes a channel
// of capacity 10, spawns 10 children that send their sum, receives 10 values and sends the
// sum up. Figure: ms. Result must be 499999500000.
package main

import "time"

func skynet(out chan<- int, num, size, div int) {
	if size == 1 {
		out <- num
		return
	}
	rc := make(chan int, div)
	for i := 0; i < div; i++ {
		sub := size / div
		go skynet(rc, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	out <- sum
}

func benchSkynet(options) {
	start := time.Now()
	c := make(chan int)
	go skynet(c, 0, 1000000, 10)
	sum := <-c
	ms := msSince(start)
	if sum != 499999500000 {
		fail("skynet sum %d, want 499999500000", sum)
	}
	result("skynet", "ms", ms)
}
