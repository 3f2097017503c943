/**
 * Private VLANs on vSphere are the distributed switch's: a portgroup whose VLAN policy is a PVLAN
 * spec (its secondary VLAN), with the switch's pvlanConfig mapping that secondary to its primary
 * and its type. vCenter enforces isolation on those ports itself, so Kiln configures nothing on the
 * host: it checks, before a VM's NIC joins the portgroup its network names, that the portgroup is
 * that network's private VLAN (primary, secondary and type as createNetwork set them). A plain
 * portgroup of the same name would put an "isolated" VM on an open VLAN, so it is refused.
 */
import { DriverError, type NicSpec } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import type { MoRef } from './soap/index.js';
import { portgroupVlans } from './vm-import.js';

export async function checkPrivateVlans(ep: VsphereEndpoint, host: MoRef, nics: NicSpec[]): Promise<void> {
  const wanted = nics.filter((n) => n.privateVlan);
  if (wanted.length === 0) return;
  const { distributed } = await portgroupVlans(ep, host);
  for (const nic of wanted) {
    const pv = nic.privateVlan!;
    const what = `${pv.type} ${pv.secondaryVlan} of VLAN ${nic.vlan ?? '?'}`;
    const pg = [...distributed.values()].find((p) => p.name === nic.network);
    if (!pg || pg.pvlan === undefined) {
      throw new DriverError(`network ${nic.network} is a private VLAN (${what}), but vCenter's portgroup ${JSON.stringify(nic.network)} ${pg ? 'is not a private-VLAN portgroup' : 'is not a distributed portgroup'}; vSphere keeps private VLANs on distributed switches`, 'invalid');
    }
    const mismatch = [
      pg.pvlan !== pv.secondaryVlan && `secondary VLAN ${pg.pvlan}`,
      nic.vlan !== undefined && pg.vlan !== nic.vlan && `primary VLAN ${pg.vlan ?? 'unknown'}`,
      pg.pvlanType !== undefined && pg.pvlanType !== pv.type && `type ${pg.pvlanType}`,
    ].filter(Boolean);
    if (mismatch.length) throw new DriverError(`network ${nic.network} is a private VLAN (${what}), but vCenter's portgroup of that name has ${mismatch.join(', ')}`, 'invalid');
  }
}
