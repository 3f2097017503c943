/**
 * A NIC's libvirt <interface> as Kiln plugs it on a host, for the domains Kiln defines, the NICs it
 * hot-plugs (NicFacet), and an imported domain's kept NICs moved onto Kiln's private-VLAN ports.
 *
 * A kept definition is the hypervisor's, not Kiln's (ImportFacet.adopt): only where the NIC is
 * plugged changes (its type, source and tap name), and everything else of the admin's interface
 * stays, its model and PCI address above all (update-device finds the NIC by MAC and address, and
 * the guest keeps its device). Kiln's metadata element lists the private-VLAN ports, so start,
 * stop and migration find the ports' rules again (private-vlan.ts readPrivateVlans).
 */
import type { ResolvedNic } from './domain-xml.js';
import { portAttributes, type PrivateVlanPort } from './private-vlan.js';
import { attr, buildXml, child, children, parseXml, type XmlNode } from './xml.js';

/** Where a NIC is plugged: its source element (none for user-mode networking); the type is the interface's. */
function sourceOf(nic: ResolvedNic): XmlNode {
  return nic.type === 'network' ? { source: { '@_network': nic.source } } : nic.type === 'bridge' ? { source: { '@_bridge': nic.source } } : {};
}

/** The <interface> of a NIC Kiln defines or hot-plugs. */
export function interfaceNode(nic: ResolvedNic): XmlNode {
  return {
    '@_type': nic.type,
    mac: { '@_address': nic.macAddress },
    ...sourceOf(nic),
    ...(nic.privateVlan ? { target: { '@_dev': nic.privateVlan.port } } : {}),
    model: { '@_type': nic.model },
  };
}

export function interfaceXml(node: XmlNode): string {
  return buildXml({ interface: node });
}

/** The domain's <interface> with MAC (any case), as the domain XML has it. */
export function findInterface(domainXml: string, mac: string): XmlNode | undefined {
  const devices = child(child(parseXml(domainXml), 'domain'), 'devices');
  return children(devices, 'interface').find((i) => attr(child(i, 'mac'), 'address')?.toLowerCase() === mac.toLowerCase());
}

/**
 * KEPT moved onto NIC's private-VLAN port (NIC resolved by the session: its bridge or libvirt
 * network, its tap name); undefined when it is on it already. Its VLAN tag and virtual port go
 * (Kiln's bridge is the VLAN, resolveNics); whitespace text goes (buildXml indents anew).
 */
export function onPrivateVlanPort(kept: XmlNode, nic: ResolvedNic & { privateVlan: PrivateVlanPort }): XmlNode | undefined {
  const source = child(kept, 'source');
  const at = attr(source, 'network') ?? attr(source, 'bridge');
  if (attr(kept, 'type') === nic.type && at === nic.source && attr(child(kept, 'target'), 'dev') === nic.privateVlan.port) return undefined;
  const rest = Object.fromEntries(Object.entries(kept).filter(([key]) => !['@_type', 'source', 'target', 'vlan', 'virtualport', '#text'].includes(key)));
  return { '@_type': nic.type, ...rest, ...sourceOf(nic), target: { '@_dev': nic.privateVlan.port } };
}

/**
 * Kiln's metadata element (as `virsh metadata --uri` prints it, without its prefix; undefined:
 * the domain has none) with exactly PORTS as its private-VLAN ports, the rest of it kept.
 */
export function metadataWithPorts(current: string | undefined, ports: readonly PrivateVlanPort[]): string {
  const root = current?.trim() ? parseXml(current) : {};
  const vm = (child(root, 'vm') ?? {}) as XmlNode;
  const rest = Object.fromEntries(Object.entries(vm).filter(([key]) => key !== 'privateVlan' && !key.endsWith(':privateVlan') && key !== '#text'));
  const entries = ports.map(portAttributes);
  return buildXml({ vm: { ...rest, ...(entries.length ? { privateVlan: entries } : {}) } });
}

/**
 * A live migration's destination XML (`dumpxml --migratable`, which leaves libvirt's own vnetN
 * names out) with each port that runs on a live tap (PrivateVlanPort.tap) named Kiln's port there
 * instead: the destination's tap is new anyway, so the guest arrives on Kiln's port, whose rules
 * wait there (its tap is found by MAC: the port's name is made from it).
 */
export function migrationXmlOnPorts(xml: string, ports: readonly PrivateVlanPort[]): string {
  let out = xml;
  for (const p of ports.filter((q) => q.tap && q.tap !== q.port)) {
    const mac = p.port.slice(2).match(/../g)!.join(':');
    const found = [...out.matchAll(/<interface\b[\s\S]*?<\/interface>/g)].find((m) => new RegExp(`<mac address=['"]${mac}['"]`, 'i').test(m[0]));
    if (!found) throw new Error(`the domain XML has no NIC with MAC ${mac}`);
    const nic = found[0];
    const named = /<target dev=['"][^'"]*['"]\s*\/>/.test(nic)
      ? nic.replace(/<target dev=['"][^'"]*['"]\s*\/>/, `<target dev='${p.port}'/>`)
      : nic.replace(/(<mac address=['"][^'"]*['"]\s*\/>)/, `$1<target dev='${p.port}'/>`);
    out = out.slice(0, found.index) + named + out.slice(found.index! + nic.length);
  }
  return out;
}
