// A tiny HTTP server: GET / greets, GET /health answers ok.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"runtime"
)

var version = "dev"

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()

	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from Go %s (server %s, %s/%s)\n", runtime.Version(), version, runtime.GOOS, runtime.GOARCH)
	})
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
