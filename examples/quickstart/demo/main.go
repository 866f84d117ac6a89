// Command demo is the quick-start example's two services in one binary: "store", a tiny
// in-memory key-value store over HTTP, and "api", which counts greetings in the store. Both
// listen on loopback only and answer GET /health.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo store|api [flags]")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := flags.String("listen", "127.0.0.1:0", "address to listen on")
	store := flags.String("store", "", "api: base URL of the store")
	_ = flags.Parse(os.Args[2:])

	var h http.Handler
	switch os.Args[1] {
	case "store":
		h = newStore()
	case "api":
		if *store == "" {
			log.Fatal("api: --store is required")
		}
		h = &api{store: strings.TrimSuffix(*store, "/"), client: &http.Client{Timeout: 2 * time.Second}}
	default:
		log.Fatalf("unknown role %q: want store or api", os.Args[1])
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("%s listening on %s", os.Args[1], *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Printf("%s stopped", os.Args[1])
}

// newStore serves GET and PUT /kv/KEY and GET /health.
func newStore() http.Handler {
	var mu sync.Mutex
	kv := map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v, ok := kv[r.PathValue("key")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("PUT /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		kv[r.PathValue("key")] = string(b)
		mu.Unlock()
	})
	return mux
}

// api serves GET /hello, which increments a counter in the store, and GET /health, healthy
// while the store answers.
type api struct {
	store  string
	client *http.Client
	mu     sync.Mutex
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		resp, err := a.client.Get(a.store + "/health")
		if err != nil {
			http.Error(w, "store unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		resp.Body.Close()
		fmt.Fprintln(w, "ok")
	case "/hello":
		n, err := a.count()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "hello #%d\n", n)
	default:
		http.NotFound(w, r)
	}
}

// count increments the greeting counter in the store.
func (a *api) count() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	resp, err := a.client.Get(a.store + "/kv/greetings")
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		n, _ = strconv.Atoi(string(b))
	}
	n++
	req, _ := http.NewRequest(http.MethodPut, a.store+"/kv/greetings", strings.NewReader(strconv.Itoa(n)))
	resp, err = a.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return n, nil
}
