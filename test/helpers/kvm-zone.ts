/**
 * A KVM zone in an engine, built through the API the way an admin would: zone, pod, cluster,
 * the harness hosts added by SSH key (trust on first use), an L2 network, the test guest as a
 * template, and a tiny offering. Needs test/kvm-hosts (hosts.json).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KvmDriver } from '../../drivers/kvm/index.js';
import { command as shellCommand } from '../../drivers/kvm/shell.js';
import { eachBounded } from '../../main/engine/hosts/fan-out.js';
import { configDriveName } from '../../main/engine/metadata/config-drive.js';
import { loadHosts, HOSTS_SH, type HostsJson } from '../kvm/real-hosts.js';
import { testEngine, type TestEngine } from './engine.js';

export interface KvmZone {
  t: TestEngine;
  hosts: HostsJson;
  zoneid: string;
  podid: string;
  clusterid: string;
  hostIds: Record<string, string>;
  templateid: string;
  noAcpiTemplateid: string;
  tiny: string;
  network: string;
}

/** Skips cleanly when there are no KVM hosts, unless the run requires the real components. */
export function kvmHostsOrSkip(): HostsJson | undefined {
  const hosts = loadHosts();
  if (!hosts && process.env['KILN_REQUIRE_REAL'] === '1') throw new Error('KVM test hosts are required (KILN_REQUIRE_REAL=1) but hosts.json is missing; run test/kvm-hosts/hosts.sh setup');
  return hosts;
}

/** Runs a command on a harness host, named as hosts.json does (host1) or as Kiln does (its address). */
export function onHost(name: string, ...command: string[]): string {
  const entry = loadHosts()?.hosts.find((h) => h.name === name || h.address === name);
  return execFileSync(HOSTS_SH, ['exec', entry?.name ?? name, ...command], { encoding: 'utf8' });
}

/**
 * Runs a command on a harness host over SSH, as Kiln does: in the mount namespace of the host's
 * sshd, which holds the mounts Kiln's sessions make (a backup repository's sshfs). onHost's
 * `hosts.sh exec` makes a fresh mount namespace each time, which has the host's directories but
 * none of those mounts: a look there for one Kiln left mounted finds nothing, whatever Kiln did.
 */
export function onHostOverSsh(name: string, ...command: string[]): string {
  const entry = loadHosts()?.hosts.find((h) => h.name === name || h.address === name);
  return execFileSync(HOSTS_SH, ['ssh', entry?.name ?? name, shellCommand(command)], { encoding: 'utf8' });
}

/**
 * Where PATH, a path in Kiln's own directory on harness host NAME (/var/lib/kiln/…: the local
 * backup store, its staging and restore work), is seen from this process. Each host has its own
 * /var/lib/kiln (hosts.sh bind-mounts its state directory's kiln/ over it), so a test that looks
 * at the host's files looks there, fast enough to poll, and never at this machine's own path.
 */
export function hostKilnPath(name: string, path: string): string {
  const entry = loadHosts()?.hosts.find((h) => h.name === name || h.address === name);
  if (!entry?.stateDir) throw new Error(`no harness host ${name}`);
  if (!path.startsWith('/var/lib/kiln/')) throw new Error(`${path} is not in /var/lib/kiln on ${name}`);
  return `${entry.stateDir}/kiln/${path.slice('/var/lib/kiln/'.length)}`;
}

/**
 * Runs each of COMMANDS (argv lists, quoted for the shell) on a harness host in one exec, in turn,
 * stopping at the first that fails: each hosts.sh exec enters the host's namespaces anew, which
 * takes most of a second on a busy machine.
 */
export function onHostAll(name: string, commands: string[][]): string {
  return onHost(name, 'sh', '-c', commands.map((argv) => shellCommand(argv)).join(' && '));
}

export function harness(command: string, ...args: string[]): string {
  const mapped = args.map((a) => loadHosts()?.hosts.find((h) => h.address === a)?.name ?? a);
  return execFileSync(HOSTS_SH, [command, ...mapped], { encoding: 'utf8' });
}

/** Destroys and expunges every VM the engine still has, so the shared hosts are left clean. */
/**
 * The config drives T's VMs have or had (kiln-cfg-<VM uuid>.iso) in a host's pool: what a file
 * looks for after its cleanup, rather than any kiln-cfg- file of the pool, which the set's other
 * files share (one left by an earlier file is that file's failure, and failed the next in CI).
 */
export function ownConfigDrives(t: TestEngine): string[] {
  return (t.engine.db.prepare('SELECT uuid FROM vm_instances').pluck().all() as string[]).map(configDriveName);
}

export async function cleanUp(t: TestEngine): Promise<void> {
  const ids = (t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE state NOT IN ('Expunged') AND hypervisor='KVM'`).all() as { uuid: string }[]).map((r) => r.uuid);
  // A few side by side: a file's tests leave a VM each, and one destroy after the other (a few
  // SSH round trips each) took most of a minute on a busy machine.
  await eachBounded(ids, 4, async (id) => {
    const state = (t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').get(id) as { state: string }).state;
    if (state === 'Destroyed') return void (await t.run('expungeVirtualMachine', { id }).catch(() => undefined));
    // Powered off first: destroy stops a running VM gracefully, and a guest that is still booting
    // (or has no OS, or ignores ACPI) would hold it for all of vm.stop.timeout.
    if (state === 'Running') await t.run('stopVirtualMachine', { id, forced: 'true' }).catch(() => undefined);
    await t.run('destroyVirtualMachine', { id, expunge: 'true' }).catch(() => undefined);
  });
  // An expunge removes the definition where the VM lived; a stale copy on another host (left by an
  // HA restart while that host was away) goes on the next HA pass, as it does in a running Kiln.
  await t.engine.background.ha.pass().catch(() => undefined);
  await t.engine.jobs.drain();
  // Destroy keeps a VM's data volumes, detached (as CloudStack does): they go by deleteVolume, or
  // their files stay in the shared pool after the test's database is gone (a restored backup's volume did).
  for (const id of t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id IS NULL AND removed IS NULL`).pluck().all() as string[]) {
    await t.call('deleteVolume', { id }).catch(() => undefined);
  }
  // What an expunge owes a host that did not answer in time (host_cleanups: a definition, disks)
  // is done by the sweeper once the host answers, as a running Kiln does; a test engine about to
  // close would never run it, and the set's later files would find this file's domains and config
  // drives on the hosts. So it is swept here for a while, and what is still left is said.
  for (const end = Date.now() + 60_000; owedCleanups(t) > 0 && Date.now() < end; ) {
    await t.engine.background.sweep().catch(() => undefined);
    if (owedCleanups(t) > 0) await new Promise((r) => setTimeout(r, 1_000));
  }
  const left = t.engine.db.prepare(`SELECT display_name || ' (' || state || ')' FROM vm_instances WHERE state<>'Expunged' AND hypervisor='KVM'`).pluck().all() as string[];
  if (left.length || owedCleanups(t)) console.warn(`cleanUp: left ${left.length} VM(s) not expunged [${left.join(', ')}] and ${owedCleanups(t)} host cleanup(s) owed`);
  // The HA pass arms each host's isolation watchdog; none is left behind to fence a later test's VMs.
  t.engine.background.ha.stop();
  await disarmWatchdogs(t, false);
}

/** A file's afterAll end of its zone: cleanUp, then the test engine closed; nothing when beforeAll made none. */
export async function closeKvmZone(z: KvmZone | undefined): Promise<void> {
  if (!z?.t) return;
  await cleanUp(z.t);
  await z.t.close();
}

const owedCleanups = (t: TestEngine) => t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number;

/**
 * Stops the isolation watchdog on every KVM host of T's engine. It outlives the Kiln that armed it
 * (by design: closing Kiln fences nothing), so a host may carry one from an earlier file: a killed
 * `kiln serve` (kill-rounds.ts) never disarms, nor does a cleanUp whose host did not answer. STRICT
 * throws when one cannot be stopped; cleanUp's best effort does not.
 */
async function disarmWatchdogs(t: TestEngine, strict: boolean): Promise<void> {
  for (const id of t.engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='KVM' AND removed IS NULL`).pluck().all() as number[]) {
    const done = t.engine.hosts.session(id).then((s) => s.isolationFencing?.disarm());
    await (strict ? done : done.catch(() => undefined));
  }
}

/** A KVM zone with the backup framework on and the nas provider chosen (the backup tests' start). */
export async function kvmBackupZone(hosts: HostsJson, hostNames: string[]): Promise<KvmZone> {
  const z = await kvmZone(hosts, hostNames);
  await z.t.ok('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid: z.zoneid });
  await z.t.ok('updateConfiguration', { name: 'backup.framework.provider.plugin', value: 'nas', zoneid: z.zoneid });
  return z;
}

/**
 * The driver the KVM tests use. The hosts' bridge (NET.1, hosts.sh) is the isolation address their
 * watchdogs probe besides their peers: the hosts have no default gateway.
 */
export function testKvmDriver(hosts: HostsJson, options: { isolationAfterS?: number } = {}): KvmDriver {
  const bridge = hosts.hosts[0]!.address.replace(/\.\d+$/, '.1');
  return new KvmDriver({ reconcileIntervalMs: 2_000, stopPollMs: 250, defaults: { isolationAddresses: bridge }, ...options });
}

/**
 * options.sharedPool reports the harness's pool as what it is, one directory on every host (hosts.sh):
 * shared storage, so a VM's disk does not bind it to its host (HA, headroom). Without it the pool
 * is a local dir pool on each host, as libvirt says and as most tests take it.
 */
export async function kvmZone(hosts: HostsJson, hostNames: string[] = ['host1', 'host2'], driver = testKvmDriver(hosts), options: { sharedPool?: boolean } = {}): Promise<KvmZone> {
  const t = await testEngine({ drivers: [driver] });
  const ok = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const zone = (await ok('createZone', { name: 'KVM Zone' }))['zone'] as { id: string };
  const pod = (await ok('createPod', { name: 'KVM Pod', zoneid: zone.id }))['pod'] as { id: string };
  const cluster = (await ok('addCluster', { clustername: 'KVM Cluster', zoneid: zone.id, podid: pod.id, hypervisor: 'KVM' }))['cluster'] as { id: string };
  const hostIds: Record<string, string> = {};
  for (const name of hostNames) {
    const h = hosts.hosts.find((x) => x.name === name)!;
    const added = (await ok('addHost', {
      zoneid: zone.id, podid: pod.id, clusterid: cluster.id, hypervisor: 'KVM', url: `ssh://${h.address}:${h.port}`, username: h.username,
      privatekey: readFileSync(h.privateKeyPath, 'utf8'), 'details[0].pool': hosts.poolName,
      ...(options.sharedPool ? { 'details[1].sharedPools': hosts.poolName } : {}),
    }))['host'] as { id: string };
    hostIds[name] = added.id;
  }
  // The hosts start unarmed, whatever an earlier file left on them: a watchdog armed by another
  // Kiln (with its own peers and timeout) would power off this file's HA VMs whenever a test cuts a
  // host off for ISOLATION_AFTER_S, or not, as that earlier file's timing went. Only this file's
  // own HA passes arm them (ha.pass(), ha.start(); fenceArmed tells when).
  await disarmWatchdogs(t, true);
  const os = (t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).get() as { uuid: string }).uuid;
  // The test guest is registered by host path, which only the root admin may do, inside this directory.
  await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: hosts.storagePath });
  const template = async (name: string, extraArgs: string) =>
    ((await ok('registerTemplate', {
      name, format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts.templateImage, zoneid: zone.id, isdynamicallyscalable: 'true', ispublic: 'true', size: String(64 * 1024 * 1024),
      'details[0].kernel': hosts.kernel, 'details[0].initrd': hosts.initrd, 'details[0].kernelArgs': `quiet panic=-1${extraArgs}`,
    }))['template'] as { id: string }[])[0]!.id;
  const templateid = await template('Busybox test guest', '');
  const noAcpiTemplateid = await template('Busybox guest ignoring ACPI', ' kiln.noacpi');
  const tiny = ((await ok('createServiceOffering', { name: 'kvm-tiny', cpunumber: '1', cpuspeed: '100', memory: '128', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
  const network = ((await ok('createNetwork', { name: 'kvm-l2', zoneid: zone.id, vlan: '200' }))['network'] as { id: string }).id;
  await ok('updateConfiguration', { name: 'vm.stop.timeout', value: '20' });
  // Internal names are i-<user>-<vm>-<instance.name>; a per-run instance.name keeps test runs
  // (each with a fresh database) from colliding on the shared hosts, as it does for deployments.
  await ok('updateConfiguration', { name: 'instance.name', value: `T${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}` });
  return { t, hosts, zoneid: zone.id, podid: pod.id, clusterid: cluster.id, hostIds, templateid, noAcpiTemplateid, tiny, network };
}
