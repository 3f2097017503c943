/**
 * Parsers for virsh's text output (the XML ones live in domain-xml.ts and resource-xml.ts).
 * virsh runs with LC_ALL=C, so labels are in English.
 */
import type { PowerState } from '../types.js';

/** "Key:   value" lines (nodeinfo, dominfo, pool-info, nodememstats) into a map. */
export function parseKeyValues(output: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^\s*([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (match?.[1] && match[2] !== undefined) map.set(match[1].toLowerCase(), match[2]);
  }
  return map;
}

/** "8218828 KiB" / "2596 MHz" / "2" → the number. */
function leadingNumber(value: string | undefined): number | undefined {
  const match = /^-?\d+(\.\d+)?/.exec((value ?? '').trim());
  return match ? Number(match[0]) : undefined;
}

export interface NodeInfo {
  cpuModel: string;
  cpus: number;
  mhz: number;
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  numaCells: number;
  memoryKiB: number;
}

export function parseNodeinfo(output: string): NodeInfo {
  const kv = parseKeyValues(output);
  return {
    cpuModel: kv.get('cpu model') ?? 'unknown',
    cpus: leadingNumber(kv.get('cpu(s)')) ?? 0,
    mhz: leadingNumber(kv.get('cpu frequency')) ?? 0,
    // nodeinfo counts sockets per NUMA cell.
    sockets: leadingNumber(kv.get('cpu socket(s)')) ?? 1,
    coresPerSocket: leadingNumber(kv.get('core(s) per socket')) ?? 1,
    threadsPerCore: leadingNumber(kv.get('thread(s) per core')) ?? 1,
    numaCells: leadingNumber(kv.get('numa cell(s)')) ?? 1,
    memoryKiB: leadingNumber(kv.get('memory size')) ?? 0,
  };
}

/** `virsh nodememstats` (KiB): total, free, buffers, cached. */
export function parseNodememstats(output: string): { totalKiB: number; freeKiB: number; buffersKiB: number; cachedKiB: number } {
  const kv = parseKeyValues(output);
  return {
    totalKiB: leadingNumber(kv.get('total')) ?? 0,
    freeKiB: leadingNumber(kv.get('free')) ?? 0,
    buffersKiB: leadingNumber(kv.get('buffers')) ?? 0,
    cachedKiB: leadingNumber(kv.get('cached')) ?? 0,
  };
}

/** `virsh freecell --all`: the Total line, in KiB. */
export function parseFreecellTotal(output: string): number | undefined {
  const match = /^\s*Total:\s*(\d+)\s*KiB/im.exec(output);
  return match?.[1] ? Number(match[1]) : undefined;
}

/** `virsh version --daemon` → "QEMU 7.2.22, libvirt 9.0.0". */
export function parseVersion(output: string): string {
  const hypervisor = /Running hypervisor:\s*(.+)/.exec(output)?.[1]?.trim();
  const daemon = /Running against daemon:\s*(.+)/.exec(output)?.[1]?.trim() ?? /Using library:\s*libvirt\s*(.+)/.exec(output)?.[1]?.trim();
  return [hypervisor, daemon ? `libvirt ${daemon}` : undefined].filter(Boolean).join(', ') || 'unknown';
}

/** `virsh domstate` words onto Kiln's power states. */
export function powerStateOf(state: string): PowerState {
  const s = state.trim().toLowerCase().replace(/\s*\(.*\)$/, '');
  switch (s) {
    case 'running':
    case 'idle':
    case 'blocked':
    case 'in shutdown':
      return 'Running';
    case 'paused':
    case 'pmsuspended':
      return 'Paused';
    case 'shut off':
    case 'shutoff':
    case 'dying':
      return 'Stopped';
    case 'crashed':
      return 'Crashed';
    default:
      return 'Unknown';
  }
}

/** `virsh domstate --reason` → state and the reason in parentheses. */
export function parseDomstate(output: string): { state: PowerState; raw: string; reason?: string } {
  const line = output.trim().split('\n')[0]?.trim() ?? '';
  const match = /^(.*?)\s*\(([^)]*)\)\s*$/.exec(line);
  return { state: powerStateOf(match?.[1] ?? line), raw: match?.[1] ?? line, reason: match?.[2] };
}

export interface ListedDomain {
  id?: number;
  name: string;
  state: string;
}

const LIST_STATES = ['running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended', 'dying', 'blocked', 'no state'];

/** The `virsh list --all` table. Names may contain spaces, so the state is matched from the end. */
export function parseList(output: string): ListedDomain[] {
  const domains: ListedDomain[] = [];
  for (const line of output.split('\n')) {
    if (/^\s*Id\s+Name\s+State\s*$/.test(line) || /^-+$/.test(line.trim()) || line.trim() === '') continue;
    const match = /^\s*(\d+|-)\s+(.*)$/.exec(line);
    if (!match?.[2]) continue;
    const rest = match[2].replace(/\s+$/, '');
    const state = LIST_STATES.find((s) => rest.endsWith(s) && /\s/.test(rest.charAt(rest.length - s.length - 1)));
    if (!state) continue;
    domains.push({ id: match[1] === '-' ? undefined : Number(match[1]), name: rest.slice(0, rest.length - state.length).trim(), state });
  }
  return domains;
}

/** `virsh vncdisplay` → host and TCP port ("127.0.0.1:0" is display 0, port 5900). */
export function parseVncDisplay(output: string): { host: string; port: number } | undefined {
  const line = output.trim().split('\n')[0]?.trim() ?? '';
  const match = /^(.*):(\d+)$/.exec(line);
  if (!match?.[2]) return undefined;
  const host = match[1] === '' || match[1] === '0.0.0.0' || match[1] === '::' || match[1] === '[::]' ? '127.0.0.1' : (match[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  return { host, port: 5900 + Number(match[2]) };
}

/** `virsh domblkinfo DOMAIN --all` (bytes): capacity per target device. */
export function parseDomblkinfoAll(output: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of output.split('\n')) {
    const match = /^\s*(\S+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s*$/.exec(line);
    if (match?.[1] && match[2] && match[2] !== '-') sizes.set(match[1], Number(match[2]));
  }
  return sizes;
}

export interface SnapshotListEntry {
  name: string;
  creationTime: string;
  state: string;
  parent?: string;
}

/**
 * The session itself reads snapshots from `snapshot-dumpxml` (exact names, descriptions, memory
 * state); these two table readers are for tools and diagnostics that only have the listing.
 *
 * `virsh snapshot-list DOMAIN --parent`: Name, Creation Time (3 words), State, Parent. Names
 * with spaces make columns ambiguous, so the row is read around the timestamp.
 */
export function parseSnapshotListParent(output: string): SnapshotListEntry[] {
  const entries: SnapshotListEntry[] = [];
  for (const line of output.split('\n')) {
    if (/^\s*Name\s+Creation Time/.test(line) || /^-+$/.test(line.trim()) || line.trim() === '') continue;
    // Columns are separated by at least two blanks; the state is one word (running, shutoff, …).
    const match = /^\s*(.*?)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4})\s+(\S+)(?:\s{2,}(.*?))?\s*$/.exec(line);
    if (!match?.[1] || !match[2] || !match[3]) continue;
    const parent = (match[4] ?? '').trim();
    entries.push({ name: match[1], creationTime: match[2], state: match[3], parent: parent === '' ? undefined : parent });
  }
  return entries;
}

/** `virsh snapshot-list DOMAIN --tree` → child → parent (roots map to undefined). */
export function parseSnapshotTree(output: string): Map<string, string | undefined> {
  const parents = new Map<string, string | undefined>();
  const stack: { depth: number; name: string }[] = [];
  for (const raw of output.split('\n')) {
    if (/^[\s|]*$/.test(raw)) continue; // blank and "  |   |" connector lines
    let depth: number;
    let name: string;
    const branch = /^(\s*(?:\|\s*)*)\+-\s(.*)$/.exec(raw);
    if (branch) {
      depth = (branch[1] ?? '').length;
      name = branch[2] ?? '';
    } else {
      depth = -1; // a root
      name = raw;
    }
    while (stack.length && (stack[stack.length - 1]?.depth ?? 0) >= depth) stack.pop();
    parents.set(name, stack[stack.length - 1]?.name);
    stack.push({ depth, name });
  }
  return parents;
}

/** Libvirt lifecycle event line from `virsh event --loop --event lifecycle`. */
export interface LifecycleEvent {
  domain: string;
  event: string;
  detail: string;
}

export function parseEventLine(line: string): LifecycleEvent | undefined {
  // event 'lifecycle' for domain 'NAME': Stopped Shutdown   (NAME may itself contain quotes;
  // with --timestamp the line starts with "2024-05-01 10:00:00.123+0000: ")
  const body = line.replace(/\r$/, '').replace(/^\d{4}-\d{2}-\d{2} [\d:.]+[+-]\d{4}: /, '');
  const match = /^event 'lifecycle' for domain '(.*)': (\S+)(?: (.*))?$/.exec(body);
  if (!match || match[1] === undefined || !match[2]) return undefined;
  return { domain: match[1], event: match[2], detail: (match[3] ?? '').trim() };
}

/** A lifecycle event as a Kiln host event, or undefined for the ones that change no power state. */
/** A domain's power change as libvirt words it; the session adds the ref, host and initiator (initiatorOf). */
export interface DomainPowerChange {
  kind: 'power';
  name: string;
  state: PowerState;
  reason?: string;
}

/** Who caused a libvirt power change: the guest (its own shutdown, a crash) or a request; KVM has no platform automation. */
export function initiatorOf(reason: string | undefined): 'guest' | 'user' {
  return reason === 'shutdown' || reason === 'crashed' ? 'guest' : 'user';
}

export function powerEventOf(event: LifecycleEvent): DomainPowerChange | undefined {
  const detail = event.detail.toLowerCase();
  const name = event.domain;
  switch (event.event) {
    case 'Started':
      return { kind: 'power', name, state: 'Running', reason: detail === 'migrated' ? 'migrated' : detail === 'booted' ? 'started' : detail || 'started' };
    case 'Resumed':
      return { kind: 'power', name, state: 'Running', reason: 'resumed' };
    case 'Suspended':
      // "Migrated" is the last instant of an outgoing migration; "Stopped Migrated" follows.
      return detail === 'migrated' ? undefined : { kind: 'power', name, state: 'Paused', reason: detail || 'paused' };
    case 'PMSuspended':
      return { kind: 'power', name, state: 'Paused', reason: 'pmsuspended' };
    case 'Stopped': {
      // "Failed" is what libvirt reports when the qemu process dies under it (killed, crashed).
      const reason = detail === 'failed' || detail === 'crashed' ? 'crashed' : detail === 'shutdown' ? 'shutdown' : detail === 'destroyed' ? 'destroyed' : detail === 'migrated' ? 'migrated' : detail;
      return { kind: 'power', name, state: 'Stopped', reason };
    }
    case 'Crashed':
      return { kind: 'power', name, state: 'Crashed', reason: 'crashed' };
    default:
      // Defined, Undefined, Shutdown (the guest began shutting down: "Stopped" follows).
      return undefined;
  }
}
