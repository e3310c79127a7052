// pingpong: two goroutines (main and one spawned) bounce an int over two unbuffered
// channels, 1,000,000 round trips. Figure: ns per round trip.
package main

import "time"

func benchPingpong(options) {
	const rounds = 1000000
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	start := time.Now()
	v := 0
	for i := 0; i < rounds; i++ {
		ping <- v
		v = <-pong
	}
	ns := nsPer(start, rounds)
	close(ping)
	if v != rounds {
		fail("pingpong value %d, want %d", v, rounds)
	}
	result("pingpong", "ns_per_op", ns)
}
