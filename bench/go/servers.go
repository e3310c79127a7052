// Servers for the echo and http workloads (the load generators live in the harness).
// echo-server: goroutine-per-connection TCP echo (read into a buffer, write back what was
// read, until EOF). http-server: net/http answering GET / with "hello\n" (keep-alive as
// net/http does). Both print "LISTENING <host:port>" once listening and exit 0 on
// SIGINT/SIGTERM.
package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func listen(addr string) net.Listener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen %s: %v", addr, err)
	}
	os.Stdout.WriteString("LISTENING " + ln.Addr().String() + "\n") // os.Stdout is unbuffered
	return ln
}

func waitForSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

func echoServer(o options) {
	ln := listen(o.addr)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil { // io.EOF or a reset
						return
					}
				}
			}(conn)
		}
	}()
	waitForSignal()
	ln.Close()
}

func httpServer(o options) {
	ln := listen(o.addr)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	waitForSignal()
	srv.Close()
}
