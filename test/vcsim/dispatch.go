package main

// Routing of the vim25 methods vcsim 0.24.2 lacks (RebootGuest, MigrateVM_Task, CancelTask,
// ContinueRetrievePropertiesEx, AcquireTicket, AcquireMksTicket) or answers unlike vCenter (ShutdownGuest powers off at once and
// ignores VMware Tools; RetrievePropertiesEx never pages; CreateSnapshot_Task records a
// disk-only snapshot as powered on, RevertToSnapshot_Task only moves the current snapshot,
// RemoveSnapshot_Task of a current root snapshot panics),
// answered here as vCenter does.
//
// How they are hooked in: the simulator dispatches a call by reflection on the Go object
// registered for `_this`, and its own code type-asserts *simulator.VirtualMachine, so VMs cannot
// be wrapped. Instead the simulator's /sdk handler moves to innerPath, and /sdk rewrites `_this`
// of these methods to a companion object (KilnVmOps / KilnTaskOps / KilnPcOps, same value) before
// passing the call on. The simulator still does the session check, the lock and the fault
// encoding; the companion looks the real object up and works on it under its lock.

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const innerPath = "/vcsim-sdk"

type methodOptions struct {
	taskTime     time.Duration
	shutdownTime time.Duration
	// pageSize caps a RetrievePropertiesEx page when the client sets no maxObjects, as vCenter
	// pages large results whether asked to or not.
	pageSize int
	// tickets: answer AcquireTicket / AcquireMksTicket; without, they stay MethodNotFound (a
	// server without console tickets). sslThumbprint is what tickets carry (SHA-1, as vCenter).
	tickets       bool
	sslThumbprint string
}

// pages holds the rest of a paged RetrievePropertiesEx result until the client continues it.
type pages struct {
	session string
	size    int
	rest    []types.ObjectContent
}

type dispatcher struct {
	svc  *simulator.Service
	opts methodOptions
	mu   sync.Mutex
	// cancel holds the running tasks this main started, closed by CancelTask.
	cancel map[types.ManagedObjectReference]chan struct{}
	tokens map[string]*pages
	// host and port of this server, for the tickets' URLs.
	host string
	port int32
}

func newServer(svc *simulator.Service, opts methodOptions) *simulator.Server {
	simulator.Map.Path = innerPath
	srv := svc.NewServer()
	d := &dispatcher{svc: svc, opts: opts, cancel: map[types.ManagedObjectReference]chan struct{}{}, tokens: map[string]*pages{}}
	host, port, _ := net.SplitHostPort(srv.URL.Host)
	p, _ := strconv.Atoi(port)
	d.host, d.port = host, int32(p)
	svc.ServeMux.HandleFunc("/sdk", d.serveSDK)
	svc.ServeMux.HandleFunc("/sdk/vimService", d.serveSDK)
	svc.ServeMux.HandleFunc("/sdk/vimServiceVersions.xml", svc.ServiceVersions)
	srv.URL.Path = "/sdk"
	return srv
}

func (d *dispatcher) serveSDK(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = innerPath
	if r.Method != http.MethodPost {
		d.svc.ServeSDK(w, r2)
		return
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	redirected, ok := d.redirect(body)
	r2.Body = io.NopCloser(bytes.NewReader(redirected))
	if !ok {
		d.svc.ServeSDK(w, r2)
		return
	}
	// A fault raised before the companion runs (NotAuthenticated) names the companion: give
	// the client back the type it called.
	rec := httptest.NewRecorder()
	d.svc.ServeSDK(rec, r2)
	out := rec.Body.Bytes()
	for companion, real := range companionTypes {
		out = bytes.ReplaceAll(out, []byte(`type="`+companion+`"`), []byte(`type="`+real+`"`))
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

var companionTypes = map[string]string{"KilnVmOps": "VirtualMachine", "KilnTaskOps": "Task", "KilnPcOps": "PropertyCollector", "KilnSnapshotOps": "VirtualMachineSnapshot"}

// redirect returns the request with `_this` pointing at the companion when the method is one
// answered here (and true); any other request is returned unchanged.
func (d *dispatcher) redirect(body []byte) ([]byte, bool) {
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil {
		return body, false
	}
	calls.add(method.Name)
	var req interface{}
	switch m := method.Body.(type) {
	case *types.RebootGuest:
		m.This = d.vmCompanion(m.This)
		req = &methods.RebootGuestBody{Req: m}
	case *types.ShutdownGuest:
		m.This = d.vmCompanion(m.This)
		req = &methods.ShutdownGuestBody{Req: m}
	case *types.AcquireTicket:
		if !d.opts.tickets {
			return body, false
		}
		m.This = d.vmCompanion(m.This)
		req = &methods.AcquireTicketBody{Req: m}
	case *types.AcquireMksTicket:
		if !d.opts.tickets {
			return body, false
		}
		m.This = d.vmCompanion(m.This)
		req = &methods.AcquireMksTicketBody{Req: m}
	case *types.MigrateVM_Task:
		m.This = d.vmCompanion(m.This)
		req = &methods.MigrateVM_TaskBody{Req: m}
	case *types.CancelTask:
		m.This = d.taskCompanion(m.This)
		req = &methods.CancelTaskBody{Req: m}
	case *types.RetrievePropertiesEx:
		m.This = d.pcCompanion(m.This)
		req = &methods.RetrievePropertiesExBody{Req: m}
	case *types.ContinueRetrievePropertiesEx:
		m.This = d.pcCompanion(m.This)
		req = &methods.ContinueRetrievePropertiesExBody{Req: m}
	case *types.CreateSnapshot_Task:
		m.This = d.vmCompanion(m.This)
		req = &methods.CreateSnapshot_TaskBody{Req: m}
	case *types.RevertToSnapshot_Task:
		m.This = d.snapshotCompanion(m.This)
		req = &methods.RevertToSnapshot_TaskBody{Req: m}
	case *types.RemoveSnapshot_Task:
		m.This = d.snapshotCompanion(m.This)
		req = &methods.RemoveSnapshot_TaskBody{Req: m}
	case *types.CancelRetrievePropertiesEx:
		m.This = d.pcCompanion(m.This)
		req = &methods.CancelRetrievePropertiesExBody{Req: m}
	default:
		return body, false
	}
	out, err := xml.Marshal(soap.Envelope{Body: req})
	if err != nil {
		return body, false
	}
	return out, true
}

func (d *dispatcher) vmCompanion(ref types.ManagedObjectReference) types.ManagedObjectReference {
	if ref.Type != "VirtualMachine" {
		return ref // the simulator answers ManagedObjectNotFound / MethodNotFound itself
	}
	c := types.ManagedObjectReference{Type: "KilnVmOps", Value: ref.Value}
	if simulator.Map.Get(c) == nil {
		simulator.Map.Put(&vmOps{Self: c, d: d})
	}
	return c
}

func (d *dispatcher) taskCompanion(ref types.ManagedObjectReference) types.ManagedObjectReference {
	if ref.Type != "Task" {
		return ref
	}
	c := types.ManagedObjectReference{Type: "KilnTaskOps", Value: ref.Value}
	if simulator.Map.Get(c) == nil {
		simulator.Map.Put(&taskOps{Self: c, d: d})
	}
	return c
}

func (d *dispatcher) pcCompanion(ref types.ManagedObjectReference) types.ManagedObjectReference {
	if ref.Type != "PropertyCollector" {
		return ref
	}
	c := types.ManagedObjectReference{Type: "KilnPcOps", Value: ref.Value}
	if simulator.Map.Get(c) == nil {
		simulator.Map.Put(&pcOps{Self: c, d: d})
	}
	return c
}

func containsRef(list []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range list {
		if r == ref {
			return true
		}
	}
	return false
}
