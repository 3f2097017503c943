package main

// MigrateVM_Task as an asynchronous, cancellable Task, and CancelTask.

import (
	"fmt"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

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
	var poolRef, current *types.ManagedObjectReference
	ctx.WithLock(vm, func() { poolRef, current = vm.ResourcePool, vm.Runtime.Host })
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
		host = pickHost(owner, current)
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
