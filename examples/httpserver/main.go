// httpserver is a web server meant to be a machine of its own:
//
//	gopid1 build examples/httpserver --init supervise --net
//	gopid1 boot --forward 8080:8080        # then: curl http://127.0.0.1:8080/healthz
//
// GET / greets, GET /healthz answers "ok". SIGTERM (the supervising init sends it when the machine's power
// button is pressed, e.g. on Ctrl-C in `gopid1 boot`) stops it gracefully. Listens on $ADDR (default :8080).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("httpserver: ")
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "Hello from Golang, PID %d, up %s\n", os.Getpid(), time.Since(started).Round(time.Millisecond))
	})
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	listener, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", addr, err)
	}
	log.Printf("listening on %s", listener.Addr())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()

	select {
	case err := <-served:
		log.Fatalf("server failed: %v", err)
	case sig := <-stop:
		log.Printf("%v: shutting down", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("shutdown: %v", err)
	}
	log.Printf("stopped")
}
