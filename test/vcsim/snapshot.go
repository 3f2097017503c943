package main

// Snapshots as vCenter keeps them. A snapshot's tree state is the power state it returns the VM
// to: poweredOn only for a snapshot of a running VM taken with memory (vcsim 0.24.2 records the
// VM's power state whatever `memory` says). RevertToSnapshot_Task puts the VM's hardware back as
// the snapshot holds it and that power state (vcsim only moves currentSnapshot).

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type snapshotOps struct {
	Self types.ManagedObjectReference
	d    *dispatcher
}

func (o *snapshotOps) Reference() types.ManagedObjectReference { return o.Self }

// CreateSnapshotTask takes the snapshot as vcsim does (its task ends inside the call), then
// marks one taken without memory as returning the VM powered off.
func (o *vmOps) CreateSnapshotTask(ctx *simulator.Context, req *types.CreateSnapshot_Task) soap.HasFault {
	vm, ref := o.vm()
	if vm == nil {
		return &methods.CreateSnapshot_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})}
	}
	req.This = ref
	var res soap.HasFault
	ctx.WithLock(vm, func() {
		res = vm.CreateSnapshotTask(req)
		if req.Memory || vm.Snapshot == nil || vm.Snapshot.CurrentSnapshot == nil {
			return
		}
		if item := treeItem(vm.Snapshot.RootSnapshotList, *vm.Snapshot.CurrentSnapshot); item != nil {
			item.State = types.VirtualMachinePowerStatePoweredOff
			simulator.Map.Update(vm, []types.PropertyChange{{Name: "snapshot.rootSnapshotList", Val: vm.Snapshot.RootSnapshotList}})
		}
	})
	return res
}

func (d *dispatcher) snapshotCompanion(ref types.ManagedObjectReference) types.ManagedObjectReference {
	if ref.Type != "VirtualMachineSnapshot" {
		return ref
	}
	c := types.ManagedObjectReference{Type: "KilnSnapshotOps", Value: ref.Value}
	if simulator.Map.Get(c) == nil {
		simulator.Map.Put(&snapshotOps{Self: c, d: d})
	}
	return c
}

// treeItem finds the snapshot's entry in the VM's snapshot tree.
func treeItem(list []types.VirtualMachineSnapshotTree, ref types.ManagedObjectReference) *types.VirtualMachineSnapshotTree {
	for i := range list {
		if list[i].Snapshot == ref {
			return &list[i]
		}
		if found := treeItem(list[i].ChildSnapshotList, ref); found != nil {
			return found
		}
	}
	return nil
}

func (o *snapshotOps) RevertToSnapshotTask(ctx *simulator.Context, req *types.RevertToSnapshot_Task) soap.HasFault {
	body := &methods.RevertToSnapshot_TaskBody{}
	ref := types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: o.Self.Value}
	snap, _ := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot)
	if snap == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	task := simulator.CreateTask(snap, "revertToSnapshot", func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		vm, _ := simulator.Map.Get(snap.Vm).(*simulator.VirtualMachine)
		if vm == nil {
			return nil, &types.ManagedObjectNotFound{Obj: snap.Vm}
		}
		var fault types.BaseMethodFault
		simulator.Map.WithLock(vm, func() {
			if vm.Snapshot == nil {
				fault = &types.NotFound{}
				return
			}
			item := treeItem(vm.Snapshot.RootSnapshotList, ref)
			if item == nil {
				fault = &types.NotFound{}
				return
			}
			state := item.State
			hw := snap.Config.Hardware
			changes := []types.PropertyChange{
				{Name: "snapshot.currentSnapshot", Val: ref},
				{Name: "config.hardware.numCPU", Val: hw.NumCPU},
				{Name: "config.hardware.numCoresPerSocket", Val: hw.NumCoresPerSocket},
				{Name: "config.hardware.memoryMB", Val: hw.MemoryMB},
				{Name: "summary.config.numCpu", Val: hw.NumCPU},
				{Name: "summary.config.memorySizeMB", Val: hw.MemoryMB},
				{Name: "runtime.powerState", Val: state},
				{Name: "summary.runtime.powerState", Val: state},
			}
			simulator.Map.Update(vm, changes)
		})
		return nil, fault
	})
	body.Res = &types.RevertToSnapshot_TaskResponse{Returnval: task.Run()}
	return body
}

// RemoveSnapshotTask removes the snapshot as vcsim does, after one fix: removing the VM's current
// snapshot when it is a root (no parent) leaves the VM without a current snapshot, as vCenter
// does. vcsim 0.24.2 assigns that missing parent as a typed nil through reflection and panics
// (reflect.Value.Type on a zero Value in Registry.Update): the panic ends the connection of the
// call and, with the VM half-updated, of the WaitForUpdatesEx streams that evaluate the VM next;
// clients saw their change stream dropped ("socket hang up") under load.
func (o *snapshotOps) RemoveSnapshotTask(ctx *simulator.Context, req *types.RemoveSnapshot_Task) soap.HasFault {
	ref := types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: o.Self.Value}
	snap, _ := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot)
	if snap == nil {
		return &methods.RemoveSnapshot_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})}
	}
	if vm, _ := simulator.Map.Get(snap.Vm).(*simulator.VirtualMachine); vm != nil {
		simulator.Map.WithLock(vm, func() {
			info := vm.Snapshot
			if info == nil || info.CurrentSnapshot == nil || *info.CurrentSnapshot != ref {
				return
			}
			for _, root := range info.RootSnapshotList {
				if root.Snapshot == ref {
					simulator.Map.Update(vm, []types.PropertyChange{{Name: "snapshot.currentSnapshot", Val: nil}})
					return
				}
			}
		})
	}
	req.This = ref
	return snap.RemoveSnapshotTask(ctx, req)
}
