package main

// Guest operations through VMware Tools, with the checks vCenter makes.

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

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

// inGuest runs DO under the VM's lock once the VM exists and passes guestFault; the fault otherwise.
func (o *vmOps) inGuest(ctx *simulator.Context, do func(vm *simulator.VirtualMachine)) *soap.Fault {
	vm, ref := o.vm()
	if vm == nil {
		return simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	var fault *soap.Fault
	ctx.WithLock(vm, func() {
		if f := guestFault(vm); f != nil {
			fault = simulator.Fault("", f)
			return
		}
		do(vm)
	})
	return fault
}

// RebootGuest asks the guest to restart: the VM stays poweredOn with a new boot time.
func (o *vmOps) RebootGuest(ctx *simulator.Context, req *types.RebootGuest) soap.HasFault {
	body := &methods.RebootGuestBody{}
	body.Fault_ = o.inGuest(ctx, func(vm *simulator.VirtualMachine) {
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
	body.Fault_ = o.inGuest(ctx, func(vm *simulator.VirtualMachine) {
		// vcsim's PowerOnVM_Task sets only summary.runtime.bootTime (runtime.bootTime stays nil), so
		// that one tells a power cycle since: a guest powered off and on again meanwhile is not shut down.
		boot := vm.Summary.Runtime.BootTime
		go func() {
			time.Sleep(o.d.opts.shutdownTime)
			simulator.Map.WithLock(vm, func() {
				// Someone else powered it off, or it was reset, meanwhile: nothing to do.
				if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || !sameTime(vm.Summary.Runtime.BootTime, boot) {
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
