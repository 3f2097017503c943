/**
 * Private VLANs (CloudStack's isolatedpvlan) on a host's Linux bridge, enforced by ebtables rules on
 * the VM's own tap device.
 *
 * Why ebtables and not 802.1Q VLANs on the bridge: a private VLAN is an asymmetric VLAN (IEEE
 * 802.1Q's "private VLAN" is a primary VLAN plus secondary ones with shared learning), and a Linux
 * bridge can only express it with VLAN filtering, which many hypervisor kernels lack (the test hosts'
 * kernel has neither CONFIG_BRIDGE_VLAN_FILTERING nor CONFIG_VLAN_8021Q). The driver's VLAN model is
 * one bridge per primary VLAN (the host's business, see resolveNics); on that bridge the rules
 * below give the ports their private-VLAN roles:
 *
 *  - every frame a PVLAN port sends is marked with its role: type (isolated / community /
 *    promiscuous), primary VLAN and secondary VLAN;
 *  - an isolated port takes no frame marked isolated or community of its primary VLAN;
 *  - a community port takes frames marked with its own community, and none marked isolated or
 *    with another community of its primary;
 *  - a promiscuous port takes everything, and unmarked frames (the bridge's own address, the
 *    gateway on the uplink, a VM on the plain primary VLAN) reach every port: they are promiscuous.
 *
 * The rules are keyed by the tap's name, which Kiln chooses from the NIC's MAC (portName), so they
 * are found again at stop, destroy and migration without asking libvirt. Each port has two chains
 * (KI-port marks what it sends, KO-port filters what it receives) and one jump each from FORWARD;
 * the marking jumps go first, so a frame is marked before any port's filter sees it.
 *
 * Across hosts: a mark is the receiving host's own (it does not travel with the frame), so a frame
 * that comes in over the uplink from a VM on another host would be unmarked, which is promiscuous.
 * The receiving host therefore marks such frames itself, by their source MAC: the engine tells
 * every host of the zone the MAC and role of every private-VLAN port of each primary VLAN
 * (peerScript: one chain KM-<primary> of `-s MAC -j mark` rules, jumped to from FORWARD for frames
 * that did not come from a Kiln port, `-i ! kp+`), and the same KO filters then apply. So each
 * host isolates its own ports whatever the sending host does; and a port may only send with its
 * own MAC (KI drops any other source), so no VM on a Kiln host can pass for another's role.
 * A MAC the host was not told of (the gateway, a VM on the plain primary VLAN) stays unmarked:
 * promiscuous, as before.
 *
 * A domain imported while it runs (importUnmanagedInstance onto a private-VLAN network) already
 * has its tap, named by libvirt (vnetN) or by its admin, and libvirt cannot rename a running tap
 * ("cannot modify network device tap name"): the guest would have to restart. So it keeps running
 * with its port's rules keyed by that live name (PrivateVlanPort.tap, recorded in Kiln's metadata
 * so stop, destroy, unplug and migration find them), while its persistent definition already names
 * Kiln's port; from its next start, and on the destination of a live migration (which gets the
 * port's name in the migration XML), it has Kiln's port like any other. When it stops the rules of
 * the live name go and the record with them, as libvirt may give that name to another domain.
 */
import type { NicSpec, PrivateVlanPeersFacet } from '../types.js';
import { command, shellQuote } from './shell.js';
import { attr, num, type XmlNode } from './xml.js';

export type PrivateVlan = NonNullable<NicSpec['privateVlan']>;

/** One PVLAN port of a domain: its tap, its primary VLAN and its private-VLAN role. */
export interface PrivateVlanPort extends PrivateVlan {
  port: string;
  primaryVlan: number;
  /** The running domain's tap when it is not PORT (imported while it ran): its rules are keyed by this name until it stops. */
  tap?: string;
}

/** The device a port's rules are keyed by: its live tap, or Kiln's port name. */
export function portDevice(p: PrivateVlanPort): string {
  return p.tap ?? p.port;
}

/** Every device name the ports' rules may be keyed by (both, for a port with a live tap). */
export function portDevices(ports: readonly PrivateVlanPort[]): string[] {
  return ports.flatMap((p) => (p.tap && p.tap !== p.port ? [p.port, p.tap] : [p.port]));
}

/** The ports as they are from the domain's next start or on a migration's destination: on Kiln's port names. */
export function withoutLiveTaps(ports: readonly PrivateVlanPort[]): PrivateVlanPort[] {
  return ports.map(({ tap: _tap, ...p }) => p);
}

/** A tap name libvirt or an admin may give (IFNAMSIZ, no ebtables wildcard or option). */
const TAP = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** Whether NAME can key a port's rules (a live tap read from the domain's XML). */
export function isTapName(name: string | undefined): name is string {
  return name !== undefined && TAP.test(name);
}

const TYPE_BITS: Record<PrivateVlan['type'], number> = { isolated: 1, community: 2, promiscuous: 3 };
/** The mark's type and primary-VLAN bits: "any secondary of this primary, of this type". */
const TYPE_AND_PRIMARY = 0x3fff000;

/** The tap device of a PVLAN NIC: "kp" and the MAC's hex digits (14 characters, under IFNAMSIZ; libvirt keeps names outside its vnet/macvtap prefixes). */
export function portName(macAddress: string): string {
  const hex = macAddress.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length !== 12) throw new Error(`not a MAC address: ${macAddress}`);
  return `kp${hex}`;
}

/** The MAC a port's name was made from (portName's inverse). */
function macOfPort(port: string): string {
  return port.slice(2).match(/../g)!.join(':');
}

function mark(type: PrivateVlan['type'], primary: number, secondary: number): number {
  return (TYPE_BITS[type] << 24) | (primary << 12) | secondary;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The ebtables commands that give PORT its role (after clearPortCommands has removed any earlier ones). */
export function applyPortCommands(p: PrivateVlanPort): string[][] {
  const dev = portDevice(p);
  if (!isTapName(dev)) throw new Error(`not a tap name: ${dev}`);
  const ki = `KI-${dev}`;
  const ko = `KO-${dev}`;
  const anyOf = (type: PrivateVlan['type']) => `${hex(mark(type, p.primaryVlan, 0))}/${hex(TYPE_AND_PRIMARY)}`;
  const filters: string[][] =
    p.type === 'promiscuous'
      ? []
      : [
          ...(p.type === 'community' ? [['--mark', hex(mark('community', p.primaryVlan, p.secondaryVlan)), '-j', 'RETURN']] : []),
          ['--mark', anyOf('isolated'), '-j', 'DROP'],
          ['--mark', anyOf('community'), '-j', 'DROP'],
        ];
  return [
    ['ebtables', '-N', ki, '-P', 'RETURN'],
    // Its own MAC only: the other hosts know this port's role by its source MAC (peerScript).
    ['ebtables', '-A', ki, '-s', '!', macOfPort(p.port), '-j', 'DROP'],
    ['ebtables', '-A', ki, '-j', 'mark', '--mark-set', hex(mark(p.type, p.primaryVlan, p.secondaryVlan)), '--mark-target', 'RETURN'],
    ['ebtables', '-N', ko, '-P', 'RETURN'],
    ...filters.map((rule) => ['ebtables', '-A', ko, ...rule]),
    ['ebtables', '-I', 'FORWARD', '1', '-i', dev, '-j', ki],
    ['ebtables', '-A', 'FORWARD', '-o', dev, '-j', ko],
  ];
}

/** The ebtables commands that remove every rule and chain of PORT; each may fail (nothing there). */
export function clearPortCommands(port: string): string[][] {
  const ki = `KI-${port}`;
  const ko = `KO-${port}`;
  return [
    ['ebtables', '-D', 'FORWARD', '-i', port, '-j', ki],
    ['ebtables', '-D', 'FORWARD', '-o', port, '-j', ko],
    ['ebtables', '-F', ki],
    ['ebtables', '-X', ki],
    ['ebtables', '-F', ko],
    ['ebtables', '-X', ko],
  ];
}

/** One shell line: clear every port's rules (errors ignored), then apply each port's, stopping at the first failure. */
export function portScript(clear: readonly string[], apply: readonly PrivateVlanPort[] = []): string {
  const clearing = clear.flatMap(clearPortCommands).map((argv) => `${command(argv)} >/dev/null 2>&1`);
  const applying = apply.flatMap(applyPortCommands).map((argv) => command(argv));
  return [...clearing, 'true', ...(applying.length ? [applying.join(' && ')] : [])].join('; ');
}

/** The ports as Kiln's domain metadata keeps them (<kiln:privateVlan port= primary= secondary= type=/>), so start and migration find them again. */
export function privateVlanMetadata(ports: readonly PrivateVlanPort[]): XmlNode {
  return ports.length
    ? { 'kiln:privateVlan': ports.map(portAttributes) }
    : {};
}

/** One port's attributes in Kiln's metadata element (tap only while the domain runs on another name). */
export function portAttributes(p: PrivateVlanPort): Record<string, string> {
  return { '@_port': p.port, '@_primary': String(p.primaryVlan), '@_secondary': String(p.secondaryVlan), '@_type': p.type, ...(p.tap && p.tap !== p.port ? { '@_tap': p.tap } : {}) };
}

const TYPES = new Set<string>(Object.keys(TYPE_BITS));
const PORT = /^kp[0-9a-f]{12}$/;

/** The ports in Kiln's metadata element (whatever prefix libvirt gave it back); entries that are not Kiln's own shape are ignored. */
export function readPrivateVlans(kilnElement: XmlNode | undefined): PrivateVlanPort[] {
  if (!kilnElement) return [];
  const entries = Object.entries(kilnElement)
    .filter(([key]) => key === 'privateVlan' || key.endsWith(':privateVlan'))
    .flatMap(([, value]) => (Array.isArray(value) ? value : [value]));
  return entries.flatMap((entry) => {
    const port = attr(entry, 'port');
    const type = attr(entry, 'type');
    const primaryVlan = num(attr(entry, 'primary'));
    const secondaryVlan = num(attr(entry, 'secondary'));
    if (!port || !PORT.test(port) || !type || !TYPES.has(type) || !vlanId(primaryVlan) || !vlanId(secondaryVlan)) return [];
    const tap = attr(entry, 'tap');
    return [{ port, type: type as PrivateVlan['type'], primaryVlan, secondaryVlan, ...(isTapName(tap) && tap !== port ? { tap } : {}) }];
  });
}

function vlanId(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 4094;
}

/** Every private-VLAN port of one primary VLAN in the zone (PrivateVlanPeersFacet); none: the primary has no port left. */
export type PrivateVlanPeers = Parameters<PrivateVlanPeersFacet['publish']>[0][number];

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The chain that marks frames from other hosts (the uplink) by source MAC, for one primary VLAN. */
export function peerChain(primaryVlan: number): string {
  return `KM-${primaryVlan}`;
}

/**
 * One shell line that makes each primary VLAN's KM chain hold exactly its peers: the chain's rules
 * are replaced in one ebtables-restore transaction (nf_tables: no moment with a half-written
 * chain), then FORWARD gets its jump unless it has it. A primary without peers loses its jump and
 * chain. Everything is checked first: nothing here comes from a user unvalidated.
 */
export function peerScript(vlans: readonly PrivateVlanPeers[]): string {
  const steps: string[] = [];
  for (const { primaryVlan, peers } of vlans) {
    if (!vlanId(primaryVlan)) throw new Error(`not a VLAN id: ${primaryVlan}`);
    const chain = peerChain(primaryVlan);
    const jump = ['-i', '!', 'kp+', '-j', chain];
    if (peers.length === 0) {
      steps.push(`{ ${[command(['ebtables', '-D', 'FORWARD', ...jump]), command(['ebtables', '-F', chain]), command(['ebtables', '-X', chain])].map((c) => `${c} >/dev/null 2>&1`).join('; ')}; true; }`);
      continue;
    }
    const rules = peers.map((p) => {
      const mac = p.macAddress.toLowerCase();
      if (!MAC.test(mac)) throw new Error(`not a MAC address: ${p.macAddress}`);
      if (!TYPES.has(p.type) || !vlanId(p.secondaryVlan)) throw new Error(`not a private-VLAN role: ${p.type} ${p.secondaryVlan}`);
      return `-A ${chain} -s ${mac} -j mark --mark-set ${hex(mark(p.type, primaryVlan, p.secondaryVlan))} --mark-target RETURN`;
    });
    const restore = ['*filter', `:${chain} RETURN`, ...rules, 'COMMIT', ''].join('\n');
    steps.push(
      `{ ${command(['printf', '%s', restore])} | ebtables-restore --noflush && ` +
        `{ ebtables -L FORWARD | grep -qxF -- ${shellQuote(jump.join(' '))} || ${command(['ebtables', '-I', 'FORWARD', '1', ...jump])}; }; }`,
    );
  }
  return steps.length ? steps.join(' && ') : 'true';
}
