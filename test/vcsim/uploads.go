package main

// Uploads to Kiln's image folder on the datastores (/folder/kiln-images/…, the file service Kiln
// stages templates, ISOs and config drives through), counted per file, so a test can tell
// whether Kiln uploaded a file again or kept the copy already there. GET /kiln/uploads answers
// {"kiln-images/NAME": count}. The upload itself is the simulator's own datastore handler.

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
)

type uploadCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func countUploads(svc *simulator.Service) {
	c := &uploadCounter{counts: map[string]int{}}
	// The longer pattern wins over the simulator's "/folder/" for Kiln's folder only.
	svc.ServeMux.HandleFunc("/folder/kiln-images/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			c.mu.Lock()
			c.counts[strings.TrimPrefix(r.URL.Path, "/folder/")]++
			c.mu.Unlock()
		}
		svc.ServeDatastore(w, r)
	})
	svc.ServeMux.HandleFunc("/kiln/uploads", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.counts)
	})
}
