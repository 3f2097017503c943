/**
 * The driver conformance suite on the real KVM hosts (test/kvm-hosts, the default host set:
 * host1 and host2). The independent view of a host is virsh run inside it (hosts.sh exec) and the
 * shared storage directory; cleanup goes through the same path, so it works whatever the driver
 * left. Nothing else on the hosts is touched (no stop-host, no rekey).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KvmDriver } from '../../drivers/kvm/index.js';
import type { Endpoint, PowerState } from '../../drivers/types.js';
import { kvmHostsOrSkip } from '../helpers/kvm-zone.js';
import { HOSTS_JSON, HOSTS_SH, guestSpec, uniqueName, type HostsJson } from '../kvm/real-hosts.js';
import { conformanceSuite, type ConformanceTarget, type ObservedSnapshot, type ObservedVm } from './contract.js';

const hosts = kvmHostsOrSkip();
const HOST_NAMES = ['host1', 'host2'];

/** Runs CMD inside harness host NAME; resolves with its exit code and output (never throws on a non-zero exit). */
function onHost(name: string, ...cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(HOSTS_SH, ['exec', name, ...cmd], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const STATES: Record<string, PowerState> = { running: 'Running', 'shut off': 'Stopped', paused: 'Paused', crashed: 'Crashed', 'in shutdown': 'Running' };

/**
 * One shell inside the host runs several virsh commands (one hosts.sh exec instead of one per
 * command: on a loaded machine each exec costs a second). The domain name is an argument ($1),
 * never part of the script; sections are split on a marker line.
 */
async function virshScript(host: string, script: string, name: string): Promise<{ code: number; sections: string[]; stderr: string }> {
  const result = await onHost(host, 'sh', '-c', script, 'sh', name);
  return { code: result.code, sections: result.stdout.split('\n@@KILN-CONFORMANCE@@\n'), stderr: result.stderr };
}

/** `virsh dominfo`, the definition's memory, and `virsh domblklist`, parsed; undefined when the host has no such domain. */
async function virshVm(host: string, name: string): Promise<ObservedVm | undefined> {
  const { code, sections, stderr } = await virshScript(host, `virsh dominfo --domain "$1" || exit 3
echo; echo @@KILN-CONFORMANCE@@; virsh dumpxml --domain "$1" --inactive
echo; echo @@KILN-CONFORMANCE@@; virsh domblklist --domain "$1" --details`, name);
  if (code === 3 && /failed to get domain|Domain not found/i.test(stderr)) return undefined;
  if (code !== 0) throw new Error(`virsh on ${host} for ${name}: ${stderr}`);
  const [info = '', xml = '', blk = ''] = sections;
  const field = (label: string) => new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  // The memory the host gives the VM: the definition's <currentMemory> (the live XML's follows the
  // balloon as the guest gives memory back, which takes the guest its time).
  const currentKiB = Number(/<currentMemory unit='KiB'>(\d+)<\/currentMemory>/.exec(xml)?.[1]);
  const disks = blk.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === 'disk' && f[3] && f[3] !== '-').map((f) => f[3]!);
  return {
    power: STATES[field('State')] ?? 'Unknown',
    uuid: field('UUID'),
    cpuNumber: Number(field('CPU\\(s\\)')),
    memoryMiB: Math.floor(currentKiB / 1024),
    disks,
  };
}

/** Each snapshot's `virsh snapshot-info` (name, parent, current), in one shell on the host. */
async function virshSnapshots(host: string, name: string): Promise<ObservedSnapshot[]> {
  const { code, sections, stderr } = await virshScript(host, `names=$(virsh snapshot-list --domain "$1" --name) || exit 3
for s in $names; do echo; echo @@KILN-CONFORMANCE@@; virsh snapshot-info --domain "$1" --snapshotname "$s" || exit 4; done`, name);
  if (code !== 0) throw new Error(`virsh snapshot-list/info ${name} on ${host}: ${stderr}`);
  return sections.slice(1).map((info) => {
    const field = (label: string) => new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
    const parent = field('Parent');
    return { name: field('Name'), parent: parent && parent !== '-' ? parent : undefined, current: field('Current') === 'yes' };
  });
}

/** Removes domain NAME, its snapshot records, disk and logs from every harness host, by virsh on the host. */
async function removeEverywhere(h: HostsJson, name: string): Promise<void> {
  for (const host of HOST_NAMES) {
    await onHost(host, 'virsh', 'destroy', '--domain', name);
    await onHost(host, 'virsh', 'undefine', '--domain', name, '--snapshots-metadata', '--managed-save');
    await onHost(host, 'rm', '-f', '--', `/var/log/libvirt/qemu/${name}.log`, `/var/log/libvirt/qemu/${name}-serial.log`);
  }
  await onHost(HOST_NAMES[0]!, 'rm', '-f', '--', path.join(h.storagePath, `${name}-root.qcow2`));
  for (const host of HOST_NAMES) await onHost(host, 'virsh', 'pool-refresh', h.poolName);
}

conformanceSuite({
  label: 'KVM',
  skipReason: () => (hosts ? undefined : `${HOSTS_JSON} not found (run test/kvm-hosts/hosts.sh setup)`),
  readyMarker: /KILN-GUEST-READY hostname=/,
  uniqueName,
  timeouts: { bootMs: 60_000, stopMs: 30_000, eventMs: 15_000 },
  async connect(): Promise<ConformanceTarget> {
    const h = hosts as HostsJson;
    const driver = new KvmDriver({ reconcileIntervalMs: 2_000, stopPollMs: 250 });
    const endpoints: Endpoint[] = [];
    for (const name of HOST_NAMES) {
      const entry = h.hosts.find((x) => x.name === name);
      if (!entry) throw new Error(`hosts.json has no ${name}`);
      endpoints.push(await driver.connect({
        hostId: `conformance-${name}`,
        url: `ssh://${entry.address}:${entry.port}`,
        username: entry.username,
        privateKey: readFileSync(entry.privateKeyPath, 'utf8'),
        options: { pool: h.poolName, domainType: 'qemu' },
      }));
    }
    // A host's ref is how its endpoint names it; the harness names it host1, host2.
    const harnessName = (ref: string) => h.hosts.find((x) => x.address === ref || x.name === ref)?.name ?? ref;
    return {
      driver,
      endpoints,
      guest: (name) => guestSpec(h, name),
      observe: {
        vm: (host, vm) => virshVm(harnessName(host), vm.name),
        // The pool is one directory every host shares, seen from here at the same path.
        diskExists: async (_host, disk) => existsSync(disk),
        snapshots: (host, vm) => virshSnapshots(harnessName(host), vm.name),
      },
      cleanup: (name) => removeEverywhere(h, name),
      async close() {
        await Promise.all(endpoints.map((e) => e.close()));
      },
    };
  },
});
