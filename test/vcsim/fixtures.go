package main

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// addVlanPortgroups gives every host standard portgroups PG-VLAN<id> on vSwitch0 and every
// datacenter's DVS distributed portgroups DVPG-VLAN<id>, which vcsim's own flags cannot (its
// portgroups are all VLAN 0). Over SOAP where vcsim does it right; by hand where it does not.
func addVlanPortgroups(ctx context.Context, c *vim25.Client, std, dv []int) error {
	// vcsim registers the switch under its Go type name; vCenter says VmwareDistributedVirtualSwitch.
	switches := append(simulator.Map.All("VmwareDistributedVirtualSwitch"), simulator.Map.All("DistributedVirtualSwitch")...)
	if len(dv) > 0 && len(switches) == 0 {
		return fmt.Errorf("no distributed switch to add portgroups to")
	}
	for _, e := range switches {
		dvs := object.NewDistributedVirtualSwitch(c, e.Reference())
		for _, vlan := range dv {
			spec := types.DVPortgroupConfigSpec{
				Name:     fmt.Sprintf("DVPG-VLAN%d", vlan),
				Type:     string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding),
				NumPorts: 32,
				DefaultPortConfig: &types.VMwareDVSPortSetting{
					Vlan: &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: int32(vlan)},
				},
			}
			task, err := dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{spec})
			if err == nil {
				err = task.Wait(ctx)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name, err)
			}
		}
	}

	// vcsim's AddPortGroup makes the Network on the first host and answers DuplicateName on
	// every other host of the datacenter, where vCenter shares one Network among the hosts that
	// have the portgroup. So the first host goes over SOAP, the rest are added to the same
	// Network here, as vCenter would show them.
	made := map[string]types.ManagedObjectReference{} // datacenter/name -> Network
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		dc := datacenterOfEntity(host)
		hns := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
		for _, vlan := range std {
			spec := types.HostPortGroupSpec{Name: fmt.Sprintf("PG-VLAN%d", vlan), VlanId: int32(vlan), VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{}}
			key := dc.Value + "/" + spec.Name
			if _, ok := made[key]; !ok {
				if err := object.NewHostNetworkSystem(c, hns.Self).AddPortGroup(ctx, spec); err != nil {
					return fmt.Errorf("%s on %s: %w", spec.Name, host.Name, err)
				}
				net := findNetwork(dc, spec.Name)
				if net == nil {
					return fmt.Errorf("%s: no Network after AddPortGroup", spec.Name)
				}
				made[key] = net.Self
			} else {
				simulator.Map.WithLock(hns, func() {
					for i := range hns.NetworkInfo.Vswitch {
						if hns.NetworkInfo.Vswitch[i].Name == spec.VswitchName {
							hns.NetworkInfo.Vswitch[i].Portgroup = append(hns.NetworkInfo.Vswitch[i].Portgroup, spec.Name)
						}
					}
					hns.NetworkInfo.Portgroup = append(hns.NetworkInfo.Portgroup, types.HostPortGroup{Key: "key-vim.host.PortGroup-" + spec.Name, Spec: spec})
				})
			}
			net := simulator.Map.Get(made[key]).(*mo.Network)
			simulator.Map.AddReference(net, &net.Host, host.Self)
			simulator.Map.AddReference(host, &host.Network, net.Self)
		}
	}
	return nil
}

func findNetwork(dc types.ManagedObjectReference, name string) *mo.Network {
	for _, e := range simulator.Map.All("Network") {
		if n, ok := e.(*mo.Network); ok && n.Name == name && datacenterOfEntity(n) == dc {
			return n
		}
	}
	return nil
}

func datacenterOfEntity(e mo.Entity) types.ManagedObjectReference {
	for p := e.Entity().Parent; p != nil; {
		if p.Type == "Datacenter" {
			return *p
		}
		next, ok := simulator.Map.Get(*p).(mo.Entity)
		if !ok {
			break
		}
		p = next.Entity().Parent
	}
	return types.ManagedObjectReference{}
}

// addPvlanPortgroups gives every DVS the private VLANs of PAIRS (primary -> secondary) and a
// distributed portgroup DVPG-PVLAN<primary>-<secondary> on each, whose port setting is a
// VmwareDistributedVirtualSwitchPvlanSpec with pvlanId = the secondary VLAN (as vCenter's client
// makes it). vcsim keeps that spec from AddDVPortgroup_Task, but its ReconfigureDvs_Task drops
// pvlanConfigSpec, so the switch's map (config.pvlanConfig: a promiscuous primary entry and the
// isolated secondary one) is set by hand.
func addPvlanPortgroups(ctx context.Context, c *vim25.Client, pairs [][2]int) error {
	for _, e := range append(simulator.Map.All("VmwareDistributedVirtualSwitch"), simulator.Map.All("DistributedVirtualSwitch")...) {
		sw, ok := e.(*simulator.DistributedVirtualSwitch)
		if !ok {
			continue
		}
		cfg, ok := sw.Config.(*types.VMwareDVSConfigInfo)
		if !ok {
			return fmt.Errorf("%s: not a VMware DVS config", sw.Name)
		}
		simulator.Map.WithLock(sw, func() {
			for _, p := range pairs {
				cfg.PvlanConfig = append(cfg.PvlanConfig,
					types.VMwareDVSPvlanMapEntry{PrimaryVlanId: int32(p[0]), SecondaryVlanId: int32(p[0]), PvlanType: "promiscuous"},
					types.VMwareDVSPvlanMapEntry{PrimaryVlanId: int32(p[0]), SecondaryVlanId: int32(p[1]), PvlanType: "isolated"})
			}
		})
		dvs := object.NewDistributedVirtualSwitch(c, sw.Reference())
		for _, p := range pairs {
			spec := types.DVPortgroupConfigSpec{
				Name:     fmt.Sprintf("DVPG-PVLAN%d-%d", p[0], p[1]),
				Type:     string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding),
				NumPorts: 32,
				DefaultPortConfig: &types.VMwareDVSPortSetting{
					Vlan: &types.VmwareDistributedVirtualSwitchPvlanSpec{PvlanId: int32(p[1])},
				},
			}
			task, err := dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{spec})
			if err == nil {
				err = task.Wait(ctx)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name, err)
			}
		}
	}
	return nil
}
