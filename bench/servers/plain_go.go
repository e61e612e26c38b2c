// plain_go: a Go net/http server (stdlib only) answering GET / with a constant body, the Go
// peer that bench/throughput.py measures molt::HttpServer against.
//
//	plain_go PORT BODY    listens on 127.0.0.1:PORT; prints "listening" once it does
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: plain_go PORT BODY")
		os.Exit(2)
	}
	body := []byte(os.Args[2])
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "plain_go:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	// text/plain as the other servers answer (without it Go sniffs the body). Go sets
	// TCP_NODELAY on every connection itself.
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	fmt.Fprintln(os.Stderr, "plain_go:", http.Serve(ln, nil))
	os.Exit(1)
}
