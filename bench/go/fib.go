// fib: fork-join fib(27). fib(n<2) = n; otherwise spawn fib(n-1) in a goroutine that sends
// its result on a channel of capacity 1, compute fib(n-2) inline, then receive and add.
// Figure: ms. Result must be 196418.
package main

import "time"

func fib(n int) int {
	if n < 2 {
		return n
	}
	c := make(chan int, 1)
	go func() { c <- fib(n - 1) }()
	y := fib(n - 2)
	return <-c + y
}

func benchFib(options) {
	start := time.Now()
	v := fib(27)
	ms := msSince(start)
	if v != 196418 {
		fail("fib(27) = %d, want 196418", v)
	}
	result("fib", "ms", ms)
}
