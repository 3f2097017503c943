/**
 * What a KVM host has: CPUs, memory, storage pools, networks, PCI devices, and every domain
 * defined on it (Kiln's and anyone else's). Reads are batched into a few round trips: each
 * batch is a constant shell script run on the host that concatenates several virsh outputs.
 */
import { randomBytes } from 'node:crypto';
import type { HostCapacity, HostInventory, InstanceInfo, InstancePower } from '../types.js';
import { parseDomainXml, splitDocuments } from './domain-xml.js';
import { controllerOf, targetIndex } from './disk-buses.js';
import { osNameOf } from './import.js';
import { parseCapabilitiesXml, parseNetworkXml, parsePciDeviceXml, parsePoolXml, SHARED_POOL_TYPES, type PciDevice, type PoolInfo } from './resource-xml.js';
import { parseDomblkinfoAll, parseDomstate, parseFreecellTotal, parseList, parseNodeinfo, parseNodememstats, parseVersion, powerStateOf } from './virsh-output.js';
import type { Virsh } from './virsh.js';
import type { ExecResult } from './ssh-connection.js';

/** Splits script output at lines "@@<nonce> <tag> <rest>" into sections. The nonce is random per
 *  call, so text inside a document (a description, say) cannot fake a section boundary. */
export function splitSections(output: string, nonce: string): { tag: string; key: string; body: string }[] {
  const sections: { tag: string; key: string; body: string }[] = [];
  const marker = `@@${nonce} `;
  let current: { tag: string; key: string; lines: string[] } | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(marker)) {
      if (current) sections.push({ tag: current.tag, key: current.key, body: current.lines.join('\n') });
      const rest = line.slice(marker.length);
      const space = rest.indexOf(' ');
      current = { tag: space < 0 ? rest : rest.slice(0, space), key: space < 0 ? '' : rest.slice(space + 1), lines: [] };
    } else current?.lines.push(line);
  }
  if (current) sections.push({ tag: current.tag, key: current.key, body: current.lines.join('\n') });
  return sections;
}

export function newNonce(): string {
  return randomBytes(8).toString('hex');
}

// Each script fails when its listing fails (libvirtd down), instead of reporting "nothing".
// pool-list/net-list --name pad names with trailing blanks, so those reads trim (default IFS).
// The dumpxml of every plainly named pool or network goes to one virsh batch (one process, one
// libvirt connection), as the PCI devices and instances do below; a name of any other shape gets
// a virsh of its own, as every name once did (each one a process: at 20 hosts connecting at
// once, what the cold refresh paid). The here-document keeps the loop out of a pipeline's subshell.
const dumpEach = (listCommand: string, dumpCommand: string) => `
list=$($VIRSH ${listCommand} --all --name) || exit 1
cmds=''
while read -r name; do
  case $name in
    '') ;;
    [A-Za-z0-9]*) case $name in *[!A-Za-z0-9_.-]*) $VIRSH ${dumpCommand} "$name" ;; *) cmds="$cmds ${dumpCommand} $name;" ;; esac ;;
    *) $VIRSH ${dumpCommand} "$name" ;;
  esac
done <<NAMES
$list
NAMES
[ -z "$cmds" ] || $VIRSH "$cmds"`;

const POOLS_SCRIPT = `${dumpEach('pool-list', 'pool-dumpxml --pool')}
exit 0`;

// The host's own bridges (not libvirt's networks), from sysfs: no virsh.
const BRIDGES = `for d in /sys/class/net/*/bridge; do
  [ -d "$d" ] || continue
  d=\${d%/bridge}; echo "\${d##*/}"
done`;

const NETWORKS_SCRIPT = `${dumpEach('net-list', 'net-dumpxml --network')}
echo "@@$1 bridges"
${BRIDGES}
exit 0`;

// Device names (pci_0000_00_1f_2) go to one virsh batch, as the instances do below; only words of
// that shape reach it.
const PCI_SCRIPT = `
list=$($VIRSH nodedev-list --cap pci) || exit 1
cmds=''
for d in $list; do
  case $d in *[!a-z0-9_]*) continue ;; esac
  cmds="$cmds nodedev-dumpxml --device $d;"
done
[ -z "$cmds" ] || $VIRSH "$cmds"
exit 0`;

/** Per domain (by UUID, which is always plain text): state, XML, block device sizes. The XML is
 *  the persistent definition: a running domain's live <currentMemory> is what the balloon has
 *  reached so far (the maximum for the first seconds after boot), not what the VM is given.
 *  The per-domain commands go to one virsh process (its own `;`-separated batch, which carries on
 *  past a failed command), at most 100 domains to an argument: a virsh process per command made a
 *  host with three domains take 0.7 s to list instead of 0.12 s (bench P10). Only UUID-shaped
 *  words from `list --uuid` reach that batch. */
const INSTANCES_SCRIPT = `
list=$($VIRSH list --all --uuid) || exit 1
cmds='' n=0
for u in $list; do
  case $u in *[!0-9a-f-]*) continue ;; esac
  cmds="$cmds echo @@$1 state $u; domstate --reason --domain $u; echo @@$1 xml $u; dumpxml --inactive --domain $u; echo @@$1 blk $u; domblkinfo --domain $u --all;"
  n=$((n + 1))
  if [ "$n" -ge 100 ]; then $VIRSH "$cmds" 2>/dev/null; cmds='' n=0; fi
done
[ -z "$cmds" ] || $VIRSH "$cmds" 2>/dev/null
exit 0`;

const BRIDGES_SCRIPT = `${BRIDGES}
exit 0`;

/** Through the virsh shell, at most this many XML reads per listing; for more, one script batch is cheaper. */
const SHELL_DUMPS = 64;

/**
 * The XML of every name LIST prints, each read through the host's running virsh shell (one batch,
 * virsh.ts): no virsh process at all, where the scripts start two. Undefined when the shell does
 * not take reads now or with more than SHELL_DUMPS names (the caller runs its script then). A name
 * gone between the listing and its read is left out, as the scripts leave it out.
 */
async function dumpThroughShell(virsh: Virsh, list: string[], dump: (name: string) => string[]): Promise<string | undefined> {
  if (!virsh.shellTakesReads) return undefined;
  const names = (await virsh.run(list)).split('\n').map((l) => l.trim()).filter(Boolean);
  if (names.length > SHELL_DUMPS || !virsh.shellTakesReads) return undefined;
  const xml = await Promise.all(names.map(async (name) => {
    const result = await virsh.tryRun(dump(name));
    return result.code === 0 ? result.stdout : '';
  }));
  return xml.join('\n');
}

export interface HostNetworks {
  networks: { name: string; bridge?: string }[];
  bridges: string[];
}

export async function readNetworks(virsh: Virsh): Promise<HostNetworks> {
  const viaShell = await dumpThroughShell(virsh, ['net-list', '--all', '--name'], (name) => ['net-dumpxml', '--network', name]);
  if (viaShell !== undefined) {
    return {
      networks: splitDocuments(viaShell, 'network').map(parseNetworkXml),
      bridges: (await virsh.runScript(BRIDGES_SCRIPT)).split('\n').map((l) => l.trim()).filter(Boolean),
    };
  }
  const nonce = newNonce();
  const output = await virsh.runScript(NETWORKS_SCRIPT, [nonce]);
  const marker = `@@${nonce} bridges`;
  const at = output.indexOf(marker);
  const xmlPart = at < 0 ? output : output.slice(0, at);
  const bridgePart = at < 0 ? '' : output.slice(at + marker.length);
  return {
    networks: splitDocuments(xmlPart, 'network').map(parseNetworkXml),
    bridges: bridgePart.split('\n').map((l) => l.trim()).filter(Boolean),
  };
}

export async function readPciDevices(virsh: Virsh): Promise<PciDevice[]> {
  const output = (await dumpThroughShell(virsh, ['nodedev-list', '--cap', 'pci'], (name) => ['nodedev-dumpxml', '--device', name])) ?? (await virsh.runScript(PCI_SCRIPT));
  return splitDocuments(output, 'device')
    .map(parsePciDeviceXml)
    .filter((d): d is PciDevice => d !== undefined);
}

/** Every libvirt storage pool on the host, parsed (one bulk read). */
export async function readPools(virsh: Virsh): Promise<PoolInfo[]> {
  const xml = (await dumpThroughShell(virsh, ['pool-list', '--all', '--name'], (name) => ['pool-dumpxml', '--pool', name])) ?? (await virsh.runScript(POOLS_SCRIPT));
  return splitDocuments(xml, 'pool').map(parsePoolXml);
}

/** CPUs, memory and version from the reads that say them (readCapacity's, also readInventory's). */
function capacityOf(out: { nodeinfo: string; mem: ExecResult; freecell: ExecResult; version: string; caps: string }): HostCapacity {
  const node = parseNodeinfo(out.nodeinfo);
  const caps = parseCapabilitiesXml(out.caps);
  // nodeinfo's memory is one NUMA node's on some kernels; nodememstats covers the whole host.
  const mem = out.mem.code === 0 ? parseNodememstats(out.mem.stdout) : undefined;
  const totalKiB = mem && mem.totalKiB > 0 ? mem.totalKiB : node.memoryKiB;
  const freeKiB = mem && mem.totalKiB > 0 ? mem.freeKiB + mem.buffersKiB + mem.cachedKiB : (out.freecell.code === 0 ? parseFreecellTotal(out.freecell.stdout) : undefined) ?? 0;
  return {
    hypervisorVersion: parseVersion(out.version),
    cpuSockets: caps.sockets ?? node.sockets * node.numaCells,
    cpuNumber: node.cpus,
    cpuSpeedMhz: node.mhz,
    memoryTotalMiB: Math.floor(totalKiB / 1024),
    memoryFreeMiB: Math.floor(freeKiB / 1024),
    gpus: [],
  };
}

/**
 * What a connect and a refresh record of the host (HostSession.capacity): five reads, one round
 * trip through the virsh shell, and none of the pools, networks, bridges and PCI devices a full
 * inventory also reads (at a cold connect those were an exec, a script and three more round trips
 * that HostManager.refresh then dropped, bench P10).
 */
export async function readCapacity(virsh: Virsh): Promise<HostCapacity> {
  const [nodeinfo, mem, freecell, version, caps] = await Promise.all([
    virsh.run(['nodeinfo']),
    virsh.tryRun(['nodememstats']),
    virsh.tryRun(['freecell', '--all']),
    virsh.run(['version', '--daemon']),
    virsh.run(['capabilities']),
  ]);
  return capacityOf({ nodeinfo, mem, freecell, version, caps });
}

export async function readInventory(virsh: Virsh, options: { pciDevices: () => Promise<PciDevice[]>; sharedPools: Set<string>; networks?: () => Promise<HostNetworks> }): Promise<HostInventory> {
  const [nodeinfoOut, memOut, freecellOut, versionOut, hostnameOut, capsOut, pools, networks, pci] = await Promise.all([
    virsh.run(['nodeinfo']),
    virsh.tryRun(['nodememstats']),
    virsh.tryRun(['freecell', '--all']),
    virsh.run(['version', '--daemon']),
    virsh.run(['hostname']),
    virsh.run(['capabilities']),
    readPools(virsh),
    options.networks ? options.networks() : readNetworks(virsh),
    options.pciDevices(),
  ]);
  const capacity = capacityOf({ nodeinfo: nodeinfoOut, mem: memOut, freecell: freecellOut, version: versionOut, caps: capsOut });
  return {
    hostname: hostnameOut.trim(),
    ...capacity,
    storagePools: pools.map((p) => ({
      name: p.name,
      path: p.path,
      capacityBytes: p.capacityBytes,
      availableBytes: p.availableBytes,
      shared: SHARED_POOL_TYPES.has(p.type) || options.sharedPools.has(p.name),
    })),
    networks: [
      ...networks.networks.map((n) => ({ name: n.name, bridge: n.bridge })),
      ...networks.bridges.filter((b) => !networks.networks.some((n) => n.bridge === b)).map((b) => ({ name: b, bridge: b })),
    ],
    pciDevices: pci,
  };
}

type DomainReads = Map<string, { state?: string; xml?: string; blk?: string }>;

/** A domain's reads, by tag, as INSTANCES_SCRIPT names them. */
const DOMAIN_READS: [tag: 'state' | 'xml' | 'blk', args: (uuid: string) => string[]][] = [
  ['state', (u) => ['domstate', '--reason', '--domain', u]],
  ['xml', (u) => ['dumpxml', '--inactive', '--domain', u]],
  ['blk', (u) => ['domblkinfo', '--domain', u, '--all']],
];

/**
 * Every domain's state, persistent XML and block sizes, by UUID: through the host's running virsh
 * shell (the listing, then every domain's reads in one batch: no virsh process, where the script
 * starts two; that exec was most of a warm refresh across 20 hosts, bench P10), else by
 * INSTANCES_SCRIPT. A read that fails (the domain went meanwhile) is left out, as the script
 * leaves out what virsh could not print.
 */
async function readDomains(virsh: Virsh): Promise<DomainReads> {
  const byUuid: DomainReads = new Map();
  if (virsh.shellTakesReads) {
    const uuids = (await virsh.run(['list', '--all', '--uuid'])).split('\n').map((l) => l.trim()).filter((u) => /^[0-9a-f-]+$/.test(u));
    if (uuids.length * DOMAIN_READS.length <= 3 * SHELL_DUMPS && virsh.shellTakesReads) {
      await Promise.all(uuids.flatMap((uuid) => {
        const entry: { state?: string; xml?: string; blk?: string } = {};
        byUuid.set(uuid, entry);
        return DOMAIN_READS.map(async ([tag, args]) => {
          const result = await virsh.tryRun(args(uuid));
          if (result.code === 0) entry[tag] = result.stdout;
        });
      }));
      return byUuid;
    }
  }
  const nonce = newNonce();
  const output = await virsh.runScript(INSTANCES_SCRIPT, [nonce]);
  for (const section of splitSections(output, nonce)) {
    const entry = byUuid.get(section.key) ?? {};
    if (section.tag === 'state') entry.state = section.body;
    else if (section.tag === 'xml') entry.xml = section.body;
    else if (section.tag === 'blk') entry.blk = section.body;
    byUuid.set(section.key, entry);
  }
  return byUuid;
}

/**
 * Every domain's name, UUID and power state, from two listings (`list --all` for the states, `list
 * --all --uuid --name` for the UUIDs) issued together: one round trip through the virsh shell.
 * A virsh that cannot combine --uuid and --name (before libvirt 7.5?) gets the full listing.
 */
export async function readPowerStates(virsh: Virsh): Promise<InstancePower[]> {
  const [table, pairs] = await Promise.all([virsh.run(['list', '--all']), virsh.tryRun(['list', '--all', '--uuid', '--name'])]);
  const uuids = new Map<string, string>();
  for (const line of pairs.code === 0 ? pairs.stdout.split('\n') : []) {
    const match = /^([0-9a-f-]{36}) (.+)$/.exec(line.trim());
    if (match) uuids.set(match[2]!, match[1]!);
  }
  const listed = parseList(table);
  if (listed.some((d) => !uuids.has(d.name))) return readInstances(virsh);
  return listed.map((d) => ({ ref: d.name, name: d.name, uuid: uuids.get(d.name), powerState: powerStateOf(d.state) }));
}

export async function readInstances(virsh: Virsh): Promise<InstanceInfo[]> {
  const byUuid = await readDomains(virsh);
  const instances: InstanceInfo[] = [];
  for (const [uuid, entry] of byUuid) {
    // A domain undefined between the listing and its dumpxml has no XML: skip it.
    if (!entry.xml || !entry.xml.includes('<domain')) continue;
    const dom = parseDomainXml(entry.xml);
    const sizes = parseDomblkinfoAll(entry.blk ?? '');
    instances.push({
      ref: dom.name,
      name: dom.name,
      uuid: dom.uuid ?? uuid,
      powerState: entry.state ? parseDomstate(entry.state).state : 'Unknown',
      cpuNumber: dom.vcpusCurrent,
      cpuCoresPerSocket: dom.cpuCoresPerSocket ?? 1,
      memoryMiB: Math.floor(dom.currentMemoryKiB / 1024),
      bootType: dom.bootType,
      osDisplayName: osNameOf(dom.osId),
      disks: dom.disks
        .filter((d) => d.device === 'disk')
        .map((d, position) => ({
          id: d.target,
          label: d.path ? d.path.slice(d.path.lastIndexOf('/') + 1) : d.target,
          capacityBytes: sizes.get(d.target) ?? 0,
          controller: controllerOf(d, dom),
          // The target's index on its bus (disk-buses.ts): what a define that keeps the target keeps.
          controllerUnit: targetIndex(d.target) ?? position,
          position,
          imagePath: d.path,
        })),
      nics: dom.nics.map((n, index) => ({
        id: `nic${index}`,
        macAddress: n.macAddress,
        networkName: n.source ?? n.type,
        vlanId: n.vlan,
        adapterType: n.model,
        pciSlot: n.pciSlot,
      })),
    });
  }
  return instances;
}
