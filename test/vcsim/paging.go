package main

// RetrievePropertiesEx paging as vCenter does it: vcsim 0.24.2 returns everything at once and
// has no ContinueRetrievePropertiesEx.

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

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
