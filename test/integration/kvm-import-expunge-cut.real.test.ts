/**
 * An imported KVM VM expunged while its host is cut off (issue 13): a domain defined by hand with
 * virsh keeps its own UUID when importUnmanagedInstance takes it over, so it is not Kiln's uuid.
 * destroyVirtualMachine expunge=true while host2's link is cut (hosts.sh cut-link) owes its
 * definition and disk to the host (host_cleanups); once the link is back:
 *  - the domain Kiln adopted is recognised by the UUID the import recorded and removed with its
 *    disk, and it is not listed as unmanaged again (before, the cleanup took it for a namesake:
 *    the definition stayed for good and showed up in listUnmanagedInstances as if never managed);
 *  - a different domain that took the same name on the host meanwhile (another UUID, on the same
 *    disk) is left alone, its disk as well, and the cleanup says so in an event (before, the
 *    cleanup deleted the disk from under it).
 * Runs on whatever hosts.json KILN_KVM_WORK points at; every domain and volume is removed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let dir: string;
let cut = false;
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const names = { own: `iec-own-${tag}`, namesake: `iec-name-${tag}` };
const all = Object.values(names);
const mac = (i: number) => `52:54:00:4e:${(process.pid % 256).toString(16).padStart(2, '0')}:0${i}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const virsh = (...args: string[]) => onHost('host2', 'virsh', ...args);
const domstate = (name: string) => onHost('host2', 'sh', '-c', `virsh domstate ${name} 2>/dev/null || echo missing`).trim();
const domuuid = (name: string) => virsh('domuuid', name).trim();
const root = (name: string) => `${name}-root.qcow2`;
const inPool = (file: string) => existsSync(join(hosts!.storagePath, file));

describe.skipIf(!hosts || hosts.hosts.length < 2)('an imported KVM VM expunged while its host is cut off', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1', 'host2']);
    dir = mkdtempSync(join(tmpdir(), 'kiln-kvm-import-cut-'));
    all.forEach((name, i) => {
      virsh('vol-create-as', hosts!.poolName, root(name), '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
      writeFileSync(join(dir, `${name}.xml`), handMadeDomainXml(hosts!, name, [`${hosts!.storagePath}/${root(name)}`], [mac(i + 1)]));
      virsh('define', join(dir, `${name}.xml`));
    });
    onHost('host1', 'virsh', 'pool-refresh', hosts!.poolName);
  }, 120_000);

  afterAll(async () => {
    if (cut) harness('restore-link', 'host2');
    await closeKvmZone(z);
    onHost('host2', 'sh', '-c', all.map((n) => `virsh destroy ${n} >/dev/null 2>&1; virsh undefine ${n} >/dev/null 2>&1; virsh vol-delete --pool ${hosts!.poolName} ${root(n)} >/dev/null 2>&1;`).join(' ') + ' true');
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  const owed = () => z.t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number;
  const unmanaged = async () => (((await z.t.call('listUnmanagedInstances', { clusterid: z.clusterid })).body['unmanagedinstance'] as { name: string }[] | undefined) ?? []).map((u) => u.name);

  /** Imports NAME (shut off, on host2), then destroys and expunges it with host2's link cut. */
  async function importAndExpungeCut(name: string): Promise<string> {
    const job = await z.t.run('importUnmanagedInstance', { clusterid: z.clusterid, name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Stopped');
    // The domain kept its own identity: its UUID is not Kiln's.
    expect(domuuid(name)).not.toBe(vm.id);
    expect(await unmanaged()).not.toContain(name);
    harness('cut-link', 'host2');
    cut = true;
    // Kiln's host check finds host2 gone: Disconnected, its session dropped.
    await z.t.engine.background.ha.pass();
    expect(z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2'])).toBe('Disconnected');
    const gone = await z.t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(gone['jobstatus'], JSON.stringify(gone['jobresult'])).toBe(1);
    expect(z.t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vm.id)).toBe('Expunged');
    // Nothing could be removed on host2: the definition and its disk are owed.
    expect(owed()).toBeGreaterThan(0);
    expect(domstate(name)).toBe('shut off');
    expect(inPool(root(name))).toBe(true);
    return vm.id;
  }

  /** The link back: the sweeper does what host2 owes (a few passes while the session reconnects). */
  async function restoreAndSweep(): Promise<void> {
    harness('restore-link', 'host2');
    cut = false;
    const back = Date.now();
    while (owed() > 0 && Date.now() - back < 150_000) {
      await z.t.engine.background.sweep();
      if (owed() > 0) await sleep(1000);
    }
    expect(owed()).toBe(0);
  }

  it('the domain Kiln adopted goes with its disk once the host answers, and is not listed as unmanaged', { timeout: 420_000 }, async () => {
    await importAndExpungeCut(names.own);
    await restoreAndSweep();
    expect(domstate(names.own)).toBe('missing');
    expect(inPool(root(names.own))).toBe(false);
    expect(await unmanaged()).not.toContain(names.own);
  });

  it('a different domain that took the same name meanwhile is left alone with its disk, and reported', { timeout: 420_000 }, async () => {
    const vm = await importAndExpungeCut(names.namesake);
    const adopted = domuuid(names.namesake);
    // While host2 is cut off from Kiln, its admin replaces the domain: same name and disk, a new UUID.
    virsh('undefine', names.namesake);
    writeFileSync(join(dir, 'namesake.xml'), handMadeDomainXml(hosts!, names.namesake, [`${hosts!.storagePath}/${root(names.namesake)}`], [mac(9)]));
    virsh('define', join(dir, 'namesake.xml'));
    const other = domuuid(names.namesake);
    expect(other).not.toBe(adopted);
    await restoreAndSweep();
    expect(domstate(names.namesake)).toBe('shut off');
    expect(domuuid(names.namesake)).toBe(other);
    expect(inPool(root(names.namesake))).toBe(true);
    const reported = z.t.engine.db.prepare(`SELECT level, description FROM events WHERE type='VM.EXPUNGE' AND resource_uuid=? AND description LIKE '%left alone%'`).all(vm) as { level: string; description: string }[];
    expect(reported, JSON.stringify(z.t.engine.db.prepare(`SELECT description FROM events WHERE resource_uuid=?`).all(vm))).toHaveLength(1);
    expect(reported[0]).toMatchObject({ level: 'WARN', description: expect.stringContaining(`${names.namesake} (${other}) is not the definition Kiln removes`) });
    expect(reported[0]!.description).toContain(root(names.namesake));
    // It is no VM of Kiln's: listed as unmanaged, to import if its admin wants.
    expect(await unmanaged()).toContain(names.namesake);
  });
});
