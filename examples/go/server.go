// A small HTTP server that `molt run` upgrades with no downtime, in Go's standard library alone.
// What it needs from molt is systemd's socket activation and sd_notify, nothing else:
//
//   - its listening socket is fd 3 (LISTEN_FDS=1); it never binds a port itself;
//   - it sends READY=1 to the datagram socket NOTIFY_SOCKET names once it serves;
//   - GET /healthz answers 200, for a master told `--ready http:/healthz`;
//   - on SIGTERM it sends STOPPING=1, stops accepting, answers what it has (a keep-alive
//     client's next answer says "Connection: close"; one idle for 2 s is closed) and exits.
//
// Build and run:
//
//	go build -trimpath -ldflags "-X main.version=v2" -o server server.go
//	molt run --listen 127.0.0.1:8080 --source /srv/drop/server --pubkey molt.pub -- /srv/app/server
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var version = "v1" // what GET / answers; set at build time with -ldflags "-X main.version=..."

// notify is sd_notify: one datagram to NOTIFY_SOCKET (a path, or "@name" in the abstract
// namespace, which Go spells with a leading "@" too).
func notify(message string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Write([]byte(message))
}

// listener takes fd 3 when it is meant for this process: LISTEN_PID guards against a variable
// inherited from a parent that was itself socket-activated.
func listener() (net.Listener, error) {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") != "1" {
		return nil, fmt.Errorf("run me with molt run (no listener on fd 3)")
	}
	file := os.NewFile(3, "listener")
	defer file.Close() // FileListener holds a copy
	return net.FileListener(file)
}

// drain tracks the connections this process has, so it can exit once the last one is closed.
type drain struct {
	mu       sync.Mutex
	open     int
	draining bool
	gone     *sync.Cond
}

func newDrain() *drain {
	d := &drain{}
	d.gone = sync.NewCond(&d.mu)
	return d
}

func (d *drain) track(_ net.Conn, state http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch state {
	case http.StateNew:
		d.open++
	case http.StateClosed, http.StateHijacked:
		d.open--
		d.gone.Broadcast()
	}
}

func (d *drain) begin() {
	d.mu.Lock()
	d.draining = true
	d.mu.Unlock()
}

func (d *drain) started() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

func (d *drain) wait() {
	d.mu.Lock()
	for d.open > 0 {
		d.gone.Wait()
	}
	d.mu.Unlock()
}

func main() {
	ln, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	conns := newDrain()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from %s\n", version)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok\n")
	})
	// Draining, every answer says "Connection: close", and the server closes the connection
	// after it: a keep-alive client moves to the new child with its next request.
	closing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conns.started() {
			w.Header().Set("Connection", "close")
		}
		mux.ServeHTTP(w, r)
	})
	server := &http.Server{Handler: closing, IdleTimeout: 2 * time.Second, ConnState: conns.track}

	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	if len(os.Args) < 2 || os.Args[1] != "--no-notify" {
		notify("READY=1")
	}

	select {
	case err := <-served: // Serve returns only on an error before a drain began
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	case <-terms:
	}
	conns.begin()
	// Not http.Server.Shutdown: it closes idle keep-alive connections at once, and a client's
	// next request, already on its way, then meets a closed connection. Here the listener copy
	// is closed (close, never shutdown(2): the master's and the new child's copies keep
	// accepting), each connection ends after its next answer or after IdleTimeout, and the
	// process exits when none is left.
	ln.Close()
	// Serve returns once Accept fails on the closed listener, and it has passed every connection
	// it accepted before that to ConnState. Counting open connections before it returned could
	// find none while one was accepted but not yet tracked: the process would exit and the
	// kernel reset that client (seen once in 440k requests of bench/upgrade_under_load.py).
	<-served
	notify("STOPPING=1") // only now: until Serve returned, it could still accept
	conns.wait()
}
