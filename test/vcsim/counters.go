package main

// What a test may count on vcsim's side:
//   - uploads to Kiln's image folder on the datastores (/folder/kiln-images/…, the file service Kiln
//     stages templates, ISOs and config drives through), per file, so a test can tell whether Kiln
//     uploaded a file again or kept the copy already there: GET /kiln/uploads answers
//     {"kiln-images/NAME": count}. The upload itself is the simulator's own datastore handler;
//   - vim25 calls received, per method, counted as they arrive (before a -method-delay), so a
//     test knows a call is in flight: GET /kiln/calls answers {"CloneVM_Task": count, …}.

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
)

type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func newCounter() *counter { return &counter{counts: map[string]int{}} }

func (c *counter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

func (c *counter) serve(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(c.counts)
}

// calls counts the vim25 methods the dispatcher sees (serveSDK).
var calls = newCounter()

func serveCounters(svc *simulator.Service) {
	uploads := newCounter()
	// The longer pattern wins over the simulator's "/folder/" for Kiln's folder only.
	svc.ServeMux.HandleFunc("/folder/kiln-images/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			uploads.add(strings.TrimPrefix(r.URL.Path, "/folder/"))
		}
		svc.ServeDatastore(w, r)
	})
	svc.ServeMux.HandleFunc("/kiln/uploads", uploads.serve)
	svc.ServeMux.HandleFunc("/kiln/calls", calls.serve)
}
