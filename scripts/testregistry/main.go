// Command testregistry serves an image registry (go-containerregistry's in-memory one)
// on the address given, for the Swarm test bed's -registry tests: the nodes reach it on
// the bed's bridge, where the library's own command (which listens on 127.0.0.1) cannot
// be reached. Its content lives as long as the process.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5999", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: registry.New(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("serving on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
