/**
 * Helpers for tests against the real libvirt hosts made by test/kvm-hosts/hosts.sh: reading
 * hosts.json, connecting the KVM driver, building VmSpecs for the test guest, and watching a
 * serial console.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KvmDriver, type KvmSession } from '../../drivers/kvm/index.js';
import { command } from '../../drivers/kvm/shell.js';
import type { HostEvent, VmSpec } from '../../drivers/types.js';

export interface HostEntry {
  name: string;
  address: string;
  port: number;
  username: string;
  privateKeyPath: string;
  sshHostKeyPath: string;
  sshHostKeyFingerprint: string;
  hostUuid: string;
  /** The host's state directory; its log/ is the host's /var/log/libvirt. */
  stateDir: string;
}

export interface HostsJson {
  hosts: HostEntry[];
  storagePath: string;
  poolName: string;
  kernel: string;
  initrd: string;
  templateImage: string;
  kernelCmdline: string;
  guestReadyMarker: string;
}

export const WORK = process.env['KILN_KVM_WORK'] ?? '/tmp/kiln-kvm';
export const HOSTS_JSON = path.join(WORK, 'hosts.json');
export const HOSTS_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../kvm-hosts/hosts.sh');

export function loadHosts(): HostsJson | undefined {
  if (!existsSync(HOSTS_JSON)) return undefined;
  return JSON.parse(readFileSync(HOSTS_JSON, 'utf8')) as HostsJson;
}

/** The fingerprint the host's key file has right now (hosts.json may lag a rekey). */
export function currentFingerprint(host: HostEntry): string {
  const out = execFileSync('ssh-keygen', ['-lf', host.sshHostKeyPath], { encoding: 'utf8' });
  return out.split(/\s+/)[1] ?? '';
}

export async function connect(hosts: HostsJson, index: number, extra: { pinnedHostKey?: string; driver?: KvmDriver } = {}): Promise<KvmSession> {
  const host = hosts.hosts[index];
  if (!host) throw new Error(`hosts.json has no host #${index}`);
  const driver = extra.driver ?? new KvmDriver({ reconcileIntervalMs: 2_000, stopPollMs: 250 });
  return driver.connectKvm({
    hostId: `test-${host.name}`,
    url: `ssh://${host.address}:${host.port}`,
    username: host.username,
    privateKey: readFileSync(host.privateKeyPath, 'utf8'),
    pinnedTrust: extra.pinnedHostKey ? { kind: 'ssh-host-key', fingerprint: extra.pinnedHostKey } : undefined,
    options: { pool: hosts.poolName, domainType: 'qemu' },
  });
}

/** A domain name no other test run (or engineer) uses. */
export function uniqueName(tag: string): string {
  return `kx-${tag}-${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

export function randomMac(): string {
  const bytes = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return `52:54:00:${bytes.join(':')}`;
}

/** The test guest: template-backed root disk, direct kernel boot, room for live scaling. */
export function guestSpec(hosts: HostsJson, name: string, overrides: Partial<VmSpec> = {}): VmSpec {
  return {
    internalName: name,
    displayName: `Kiln "test" <${name}> & 'quotes' $(id) \`uname\`\nsecond line`,
    uuid: randomUUID(),
    cpuNumber: 1,
    cpuSpeedMhz: 1000,
    memoryMiB: 128,
    maxCpuNumber: 2,
    maxMemoryMiB: 256,
    disks: [{ name: `${name}-root.qcow2`, sizeBytes: 64 * 1024 * 1024, backingImage: hosts.templateImage, device: 'disk', bus: 'virtio' }],
    nics: [{ macAddress: randomMac(), network: 'kiln-guest-net' }],
    kernel: hosts.kernel,
    initrd: hosts.initrd,
    kernelArgs: `quiet panic=-1 hostname=${name}`,
    ...overrides,
  };
}

/** Reads a console stream into a string and waits for patterns in it. */
export class ConsoleTap {
  text = '';
  ended = false;

  constructor(readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      // The guest's shell asks for the cursor position after each prompt; drop that noise.
      // eslint-disable-next-line no-control-regex
      this.text += chunk.toString('utf8').replace(/\x1b\[6n/g, '').replace(/\r/g, '');
    });
    stream.on('end', () => {
      this.ended = true;
    });
    stream.on('error', () => {
      this.ended = true;
    });
  }

  mark(): number {
    return this.text.length;
  }

  async waitFor(pattern: RegExp, timeoutMs = 60_000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(from));
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`console: ${pattern} not seen within ${timeoutMs} ms; got:\n${this.text.slice(-2000)}`);
      await sleep(100);
    }
  }

  type(line: string): void {
    this.stream.write(`${line}\r`);
  }

  /** Types a command and waits for a line of output matching PATTERN. */
  async run(line: string, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const from = this.mark();
    this.type(line);
    return this.waitFor(pattern, timeoutMs, from);
  }

  /** Like run, but types the line again once if nothing came back in half the time: a busy
   *  machine (other suites' TCG guests on two cores) can stall a guest's shell for a while. */
  async runPatiently(line: string, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const from = this.mark();
    this.type(line);
    try {
      return await this.waitFor(pattern, timeoutMs / 2, from);
    } catch {
      this.type(line);
      return this.waitFor(pattern, timeoutMs / 2, from);
    }
  }

  close(): void {
    this.stream.end();
  }
}

/** Collects host events; waitFor resolves with the first matching one. */
export class EventLog {
  readonly events: { at: number; event: HostEvent }[] = [];

  listener = (event: HostEvent): void => {
    this.events.push({ at: Date.now(), event });
  };

  async waitFor(predicate: (event: HostEvent) => boolean, timeoutMs = 30_000, since = 0): Promise<HostEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.at >= since && predicate(e.event));
      if (hit) return hit.event;
      if (Date.now() > deadline) throw new Error(`no matching host event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => e.event))}`);
      await sleep(100);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** Removes a test domain and its disk wherever it is, ignoring whatever is already gone. */
export async function cleanup(sessions: KvmSession[], name: string): Promise<void> {
  for (const session of sessions) {
    try {
      if ((await session.powerState(name)) !== 'Missing') await session.destroy(name, { removeDisks: 'all' });
    } catch {
      /* best effort */
    }
  }
  try {
    await sessions[0]?.deleteDisks([`${name}-root.qcow2`]);
  } catch {
    /* best effort */
  }
  // libvirt keeps its own per-domain qemu log; these hosts are shared, so tidy up.
  for (const session of sessions) {
    await session.virsh.ssh.exec(command(['rm', '-f', '--', `/var/log/libvirt/qemu/${name}.log`, `/var/log/libvirt/qemu/${name}-serial.log`])).catch(() => undefined);
  }
}
