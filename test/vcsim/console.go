package main

// Console tickets: what vCenter hands out for a powered-on VM's console. There is no WebMKS or
// MKS server behind them; they let a client tell "the server has tickets" from "it has none"
// (run with -tickets=false for the second).

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func (o *vmOps) ticketFault(vm *simulator.VirtualMachine) types.BaseMethodFault {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: vm.Runtime.PowerState}
	}
	return nil
}

// AcquireTicket answers the ticket types vCenter knows; webmks comes with its wss:// URL.
func (o *vmOps) AcquireTicket(ctx *simulator.Context, req *types.AcquireTicket) soap.HasFault {
	body := &methods.AcquireTicketBody{}
	vm, ref := o.vm()
	if vm == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	switch req.TicketType {
	case "webmks", "mks", "device", "guestControl", "dnd", "drag":
	default:
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "ticketType"})
		return body
	}
	ctx.WithLock(vm, func() {
		if f := o.ticketFault(vm); f != nil {
			body.Fault_ = simulator.Fault("", f)
			return
		}
		ticket := randomHex(16)
		t := types.VirtualMachineTicket{Ticket: ticket, CfgFile: vm.Config.Files.VmPathName, Host: o.d.host, Port: o.d.port, SslThumbprint: o.d.opts.sslThumbprint}
		if req.TicketType == "webmks" {
			t.Url = fmt.Sprintf("wss://%s:%d/ticket/%s", o.d.host, o.d.port, ticket)
		}
		body.Res = &types.AcquireTicketResponse{Returnval: t}
	})
	return body
}

// AcquireMksTicket is the older MKS ticket (port 902 on the ESXi host).
func (o *vmOps) AcquireMksTicket(ctx *simulator.Context, req *types.AcquireMksTicket) soap.HasFault {
	body := &methods.AcquireMksTicketBody{}
	vm, ref := o.vm()
	if vm == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	ctx.WithLock(vm, func() {
		if f := o.ticketFault(vm); f != nil {
			body.Fault_ = simulator.Fault("", f)
			return
		}
		body.Res = &types.AcquireMksTicketResponse{Returnval: types.VirtualMachineMksTicket{
			Ticket: randomHex(16), CfgFile: vm.Config.Files.VmPathName, Host: o.d.host, Port: 902, SslThumbprint: o.d.opts.sslThumbprint,
		}}
	})
	return body
}
