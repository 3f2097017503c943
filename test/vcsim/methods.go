package main

// The vim25 methods vcsim 0.24.2 lacks (RebootGuest, MigrateVM_Task, CancelTask,
// ContinueRetrievePropertiesEx) or answers unlike vCenter (ShutdownGuest powers off at once and
// ignores VMware Tools; RetrievePropertiesEx never pages), answered here as vCenter does.
//
// How they are hooked in: the simulator dispatches a call by reflection on the Go object
// registered for `_this`, and its own code type-asserts *simulator.VirtualMachine, so VMs cannot
// be wrapped. Instead the simulator's /sdk handler moves to innerPath, and /sdk rewrites `_this`
// of these methods to a companion object (type KilnVmOps / KilnTaskOps, same value) before
// passing the call on. The simulator still does the session check, the lock and the fault
// encoding; the companion looks the real object up and works on it under its lock.

import (
	"bytes"
	"fmt"
	"github.com/vmware/govmomi/vim25/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const innerPath = "/vcsim-sdk"

type methodOptions struct {
	taskTime     time.Duration
	shutdownTime time.Duration
	// pageSize caps a RetrievePropertiesEx page when the client sets no maxObjects, as vCenter
	// pages large results whether asked to or not.
	pageSize int
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
}

func newServer(svc *simulator.Service, opts methodOptions) *simulator.Server {
	simulator.Map.Path = innerPath
	srv := svc.NewServer()
	d := &dispatcher{svc: svc, opts: opts, cancel: map[types.ManagedObjectReference]chan struct{}{}, tokens: map[string]*pages{}}
	svc.ServeMux.HandleFunc("/sdk", d.serveSDK)
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

var companionTypes = map[string]string{"KilnVmOps": "VirtualMachine", "KilnTaskOps": "Task", "KilnPcOps": "PropertyCollector"}

// redirect returns the request with `_this` pointing at the companion when the method is one
// answered here (and true); any other request is returned unchanged.
func (d *dispatcher) redirect(body []byte) ([]byte, bool) {
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil {
		return body, false
	}
	var req interface{}
	switch m := method.Body.(type) {
	case *types.RebootGuest:
		m.This = d.vmCompanion(m.This)
		req = &methods.RebootGuestBody{Req: m}
	case *types.ShutdownGuest:
		m.This = d.vmCompanion(m.This)
		req = &methods.ShutdownGuestBody{Req: m}
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

type pcOps struct {
	Self types.ManagedObjectReference
	d    *dispatcher
}

func (o *pcOps) Reference() types.ManagedObjectReference { return o.Self }

// collector finds the PropertyCollector as the simulator's dispatch would: the session's own
// instance first (filters and collectors are per session).
func (o *pcOps) collector(ctx *simulator.Context) *simulator.PropertyCollector {
	ref := types.ManagedObjectReference{Type: "PropertyCollector", Value: o.Self.Value}
	var obj mo.Reference = simulator.Map.Get(ref)
	if ctx.Session != nil {
		if h := ctx.Session.Get(ref); h != nil {
			obj = h
		}
	}
	pc, _ := obj.(*simulator.PropertyCollector)
	return pc
}

func sessionKey(ctx *simulator.Context) string {
	if ctx.Session == nil {
		return ""
	}
	return ctx.Session.Key
}

// page returns the first page of objects and, when more remain, the token for the rest.
func (o *pcOps) page(ctx *simulator.Context, objects []types.ObjectContent, size int) *types.RetrieveResult {
	if size <= 0 || len(objects) <= size {
		return &types.RetrieveResult{Objects: objects}
	}
	token := randomHex(8)
	o.d.mu.Lock()
	o.d.tokens[token] = &pages{session: sessionKey(ctx), size: size, rest: objects[size:]}
	o.d.mu.Unlock()
	return &types.RetrieveResult{Objects: objects[:size], Token: token}
}

func (o *pcOps) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	pc := o.collector(ctx)
	if pc == nil {
		return &methods.RetrievePropertiesExBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})}
	}
	req.This = pc.Self
	var res soap.HasFault
	ctx.WithLock(pc, func() { res = pc.RetrievePropertiesEx(ctx, req) })
	body := res.(*methods.RetrievePropertiesExBody)
	if body.Res == nil || body.Res.Returnval == nil {
		return body
	}
	size := int(req.Options.MaxObjects)
	if size <= 0 || size > o.d.opts.pageSize {
		size = o.d.opts.pageSize
	}
	body.Res.Returnval = o.page(ctx, body.Res.Returnval.Objects, size)
	return body
}

func (o *pcOps) take(ctx *simulator.Context, token string) (*pages, types.BaseMethodFault) {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	p, ok := o.d.tokens[token]
	if !ok || p.session != sessionKey(ctx) {
		return nil, &types.InvalidArgument{InvalidProperty: "token"}
	}
	delete(o.d.tokens, token)
	return p, nil
}

func (o *pcOps) ContinueRetrievePropertiesEx(ctx *simulator.Context, req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	p, fault := o.take(ctx, req.Token)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{Returnval: *o.page(ctx, p.rest, p.size)}
	return body
}

func (o *pcOps) CancelRetrievePropertiesEx(ctx *simulator.Context, req *types.CancelRetrievePropertiesEx) soap.HasFault {
	body := &methods.CancelRetrievePropertiesExBody{}
	if _, fault := o.take(ctx, req.Token); fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	body.Res = &types.CancelRetrievePropertiesExResponse{}
	return body
}

type vmOps struct {
	Self types.ManagedObjectReference
	d    *dispatcher
}

func (o *vmOps) Reference() types.ManagedObjectReference { return o.Self }

func (o *vmOps) vm() (*simulator.VirtualMachine, types.ManagedObjectReference) {
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: o.Self.Value}
	vm, _ := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	return vm, ref
}

func toolsRunning(vm *simulator.VirtualMachine) bool {
	return vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
}

// guestFault is the check vCenter makes before a guest operation: powered on, Tools running.
func guestFault(vm *simulator.VirtualMachine) types.BaseMethodFault {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: vm.Runtime.PowerState}
	}
	if !toolsRunning(vm) {
		return &types.ToolsUnavailable{}
	}
	return nil
}

// RebootGuest asks the guest to restart: the VM stays poweredOn with a new boot time.
func (o *vmOps) RebootGuest(ctx *simulator.Context, req *types.RebootGuest) soap.HasFault {
	body := &methods.RebootGuestBody{}
	vm, ref := o.vm()
	if vm == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	ctx.WithLock(vm, func() {
		if f := guestFault(vm); f != nil {
			body.Fault_ = simulator.Fault("", f)
			return
		}
		now := time.Now()
		simulator.Map.Update(vm, []types.PropertyChange{
			{Name: "runtime.bootTime", Val: now},
			{Name: "summary.runtime.bootTime", Val: now},
		})
		body.Res = &types.RebootGuestResponse{}
	})
	return body
}

// ShutdownGuest asks the guest to shut down and returns at once; the VM powers off a little
// later, as a real guest does. Without Tools running it fails, as on vCenter.
func (o *vmOps) ShutdownGuest(ctx *simulator.Context, req *types.ShutdownGuest) soap.HasFault {
	body := &methods.ShutdownGuestBody{}
	vm, ref := o.vm()
	if vm == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	ctx.WithLock(vm, func() {
		if f := guestFault(vm); f != nil {
			body.Fault_ = simulator.Fault("", f)
			return
		}
		boot := vm.Runtime.BootTime
		go func() {
			time.Sleep(o.d.opts.shutdownTime)
			simulator.Map.WithLock(vm, func() {
				// Someone else powered it off, or it was reset, meanwhile: nothing to do.
				if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || !sameTime(vm.Runtime.BootTime, boot) {
					return
				}
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOff},
					{Name: "summary.runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOff},
					{Name: "runtime.bootTime", Val: nil},
					{Name: "summary.runtime.bootTime", Val: nil},
				})
			})
		}()
		body.Res = &types.ShutdownGuestResponse{}
	})
	return body
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// MigrateVM_Task moves the VM to the given host and/or pool, as a Task that reports progress
// and can be cancelled. Argument rules follow the vSphere API reference: an unset pool means
// the VM's current pool, an unset host means the pool's standalone host or a host the cluster
// picks; the host must belong to the pool's compute resource.
func (o *vmOps) MigrateVMTask(ctx *simulator.Context, req *types.MigrateVM_Task) soap.HasFault {
	body := &methods.MigrateVM_TaskBody{}
	vm, ref := o.vm()
	if vm == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	var host *simulator.HostSystem
	var pool *simulator.ResourcePool
	for _, r := range []*types.ManagedObjectReference{req.Host, req.Pool} {
		if r != nil && simulator.Map.Get(*r) == nil {
			body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: *r})
			return body
		}
	}
	if req.Host != nil {
		if host, _ = simulator.Map.Get(*req.Host).(*simulator.HostSystem); host == nil {
			body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "host"})
			return body
		}
	}
	poolRef := vm.ResourcePool
	if req.Pool != nil {
		poolRef = req.Pool
	}
	if poolRef != nil {
		if pool, _ = simulator.Map.Get(*poolRef).(*simulator.ResourcePool); pool == nil {
			body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "pool"})
			return body
		}
	}
	if pool == nil {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "pool"})
		return body
	}
	owner := pool.Owner
	if host == nil {
		host = pickHost(owner, vm.Runtime.Host)
		if host == nil {
			body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "host"})
			return body
		}
	} else if !containsRef(computeHosts(owner), host.Self) {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "pool"})
		return body
	}

	task := simulator.CreateTask(vm, "migrate", nil)
	task.Info.Name = "MigrateVM_Task"
	task.Info.DescriptionId = "VirtualMachine.migrate"
	task.Info.Cancelable = true
	stop := make(chan struct{})
	o.d.mu.Lock()
	o.d.cancel[task.Self] = stop
	o.d.mu.Unlock()
	go o.d.runTask(task, stop, func() (types.AnyType, types.BaseMethodFault) {
		var fault types.BaseMethodFault
		simulator.Map.WithLock(vm, func() { fault = migrate(vm, host, pool, req.State) })
		return nil, fault
	})
	body.Res = &types.MigrateVM_TaskResponse{Returnval: task.Self}
	return body
}

func migrate(vm *simulator.VirtualMachine, host *simulator.HostSystem, pool *simulator.ResourcePool, state types.VirtualMachinePowerState) types.BaseMethodFault {
	if state != "" && vm.Runtime.PowerState != state {
		return &types.InvalidPowerState{RequestedState: state, ExistingState: vm.Runtime.PowerState}
	}
	if host.Runtime.ConnectionState != types.HostSystemConnectionStateConnected || host.Runtime.InMaintenanceMode {
		return &types.InvalidHostState{InvalidState: types.InvalidState{}, Host: &host.Self}
	}
	for _, ds := range vm.Datastore {
		if !containsRef(host.Datastore, ds) {
			return &types.DatastoreNotWritableOnHost{InvalidDatastore: types.InvalidDatastore{Datastore: &ds}, Host: host.Self}
		}
	}
	if old := vm.Runtime.Host; old != nil && *old != host.Self {
		if h, ok := simulator.Map.Get(*old).(*simulator.HostSystem); ok {
			simulator.Map.RemoveReference(h, &h.Vm, vm.Self)
		}
		simulator.Map.AddReference(host, &host.Vm, vm.Self)
	}
	if old := vm.ResourcePool; old != nil && *old != pool.Self {
		if p, ok := simulator.Map.Get(*old).(*simulator.ResourcePool); ok {
			simulator.Map.RemoveReference(p, &p.Vm, vm.Self)
		}
		simulator.Map.AddReference(pool, &pool.Vm, vm.Self)
	}
	h, p := host.Self, pool.Self
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "runtime.host", Val: &h},
		{Name: "summary.runtime.host", Val: &h},
		{Name: "resourcePool", Val: &p},
	})
	return nil
}

// runTask runs work as a vCenter task does: queued, running with progress, then success or
// error; a CancelTask before the work is done ends it with RequestCanceled.
func (d *dispatcher) runTask(task *simulator.Task, stop chan struct{}, work func() (types.AnyType, types.BaseMethodFault)) {
	update := func(changes ...types.PropertyChange) {
		simulator.Map.WithLock(task, func() { simulator.Map.Update(task, changes) })
	}
	defer func() {
		d.mu.Lock()
		delete(d.cancel, task.Self)
		d.mu.Unlock()
	}()
	update(types.PropertyChange{Name: "info.startTime", Val: time.Now()}, types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateRunning}, types.PropertyChange{Name: "info.progress", Val: int32(0)})
	const steps = 5
	var res types.AnyType
	var fault types.BaseMethodFault
	for i := 1; i <= steps && fault == nil; i++ {
		select {
		case <-stop:
			fault = &types.RequestCanceled{}
		case <-time.After(d.opts.taskTime / steps):
			if i == steps {
				update(types.PropertyChange{Name: "info.cancelable", Val: false})
				res, fault = work()
			} else {
				update(types.PropertyChange{Name: "info.progress", Val: int32(i * 100 / steps)})
			}
		}
	}
	done := []types.PropertyChange{{Name: "info.completeTime", Val: time.Now()}}
	if fault != nil {
		_, canceled := fault.(*types.RequestCanceled)
		done = append(done,
			types.PropertyChange{Name: "info.cancelled", Val: canceled},
			types.PropertyChange{Name: "info.error", Val: types.LocalizedMethodFault{Fault: fault, LocalizedMessage: fmt.Sprintf("%T", fault)}},
			types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateError})
	} else {
		done = append(done,
			types.PropertyChange{Name: "info.progress", Val: int32(100)},
			types.PropertyChange{Name: "info.result", Val: res},
			types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateSuccess})
	}
	update(done...)
}

type taskOps struct {
	Self types.ManagedObjectReference
	d    *dispatcher
}

func (o *taskOps) Reference() types.ManagedObjectReference { return o.Self }

// CancelTask cancels a running task this main started. The simulator's own tasks finish inside
// the call that starts them, so by the time anyone can cancel one it is done: InvalidState, as
// vCenter answers for a finished task.
func (o *taskOps) CancelTask(ctx *simulator.Context, req *types.CancelTask) soap.HasFault {
	body := &methods.CancelTaskBody{}
	ref := types.ManagedObjectReference{Type: "Task", Value: o.Self.Value}
	task, _ := simulator.Map.Get(ref).(*simulator.Task)
	if task == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	o.d.mu.Lock()
	stop, running := o.d.cancel[ref]
	if running {
		delete(o.d.cancel, ref)
	}
	o.d.mu.Unlock()
	switch {
	case running && task.Info.Cancelable:
		close(stop)
		body.Res = &types.CancelTaskResponse{}
	case running:
		body.Fault_ = simulator.Fault("", &types.NotSupported{})
	default:
		body.Fault_ = simulator.Fault("", &types.InvalidState{})
	}
	return body
}

func pickHost(owner types.ManagedObjectReference, current *types.ManagedObjectReference) *simulator.HostSystem {
	var best *simulator.HostSystem
	for _, ref := range computeHosts(owner) {
		h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok || h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected || h.Runtime.InMaintenanceMode {
			continue
		}
		if current != nil && ref == *current {
			continue
		}
		if best == nil || len(h.Vm) < len(best.Vm) {
			best = h
		}
	}
	return best
}

func computeHosts(owner types.ManagedObjectReference) []types.ManagedObjectReference {
	switch cr := simulator.Map.Get(owner).(type) {
	case *simulator.ClusterComputeResource:
		return cr.Host
	case *mo.ComputeResource:
		return cr.Host
	}
	return nil
}

func containsRef(list []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range list {
		if r == ref {
			return true
		}
	}
	return false
}
