/**
 * Kiln's engine on real KVM hosts: HA (R13). A VM whose qemu dies or whose guest powers off is
 * restarted, one stopped through Kiln or with HA off is not, and a host that goes away is marked
 * Disconnected, its VMs refused, and its HA VMs restarted on the other host once its isolation
 * watchdog has fenced them, never twice. (kvm-engine.real and kvm-engine-moves.real have the rest.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbFingerprint } from '../helpers/engine.js';
import { harness, kvmHostsOrSkip, onHost, testKvmDriver } from '../helpers/kvm-zone.js';
import { engineVms, engineZoneHooks } from '../helpers/kvm-engine-vms.js';

const hosts = kvmHostsOrSkip();
/**
 * The hosts' isolation watchdog timeout: shorter than the driver's 20 s, so a lost host's HA VMs
 * restart sooner (kvm-isolation-watchdog.real uses 4 s); long enough that a busy machine's slow
 * probe is not taken for isolation.
 */
const ISOLATION_AFTER_S = 8;

describe.skipIf(!hosts)('the engine on real KVM hosts: HA (R13)', () => {
  /** When each HA pass that has finished began (the monitor's own timer runs them one after another). */
  const passesBegun: number[] = [];

  const z = engineZoneHooks(hosts!, () => testKvmDriver(hosts!, { isolationAfterS: ISOLATION_AFTER_S }));
  const { deploy, row, consoleOf } = engineVms(z);

  beforeAll(async () => {
    await z.t.call('updateConfiguration', { name: 'ha.monitor.interval', value: '2' });
    const ha = z.t.engine.background.ha;
    const pass = ha.pass.bind(ha);
    ha.pass = async () => {
      const begun = Date.now();
      await pass();
      passesBegun.push(begun);
    };
    ha.start();
  });
  afterAll(() => z.t?.engine.background.ha.stop());

  async function until(what: string, check: () => boolean, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) {
        const recent = z.t.engine.db.prepare('SELECT type, level, description FROM events ORDER BY id DESC LIMIT 12').all();
        const jobs = z.t.engine.db.prepare('SELECT cmd, status, result FROM async_jobs ORDER BY id DESC LIMIT 3').all();
        throw new Error(`timed out waiting for ${what}; recent events ${JSON.stringify(recent)}; jobs ${JSON.stringify(jobs)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await z.t.engine.jobs.drain();
  }
  /** Waits until a whole HA pass has run since SINCE (and what it started has finished). */
  const haPassSince = (since: number) => until('an HA pass', () => passesBegun.some((t) => t >= since), 30_000);
  const haRestarts = (id: string) => (z.t.engine.db.prepare(`SELECT COUNT(*) AS n FROM events WHERE type='HA.RESTART' AND resource_uuid=?`).get(id) as { n: number }).n;
  const runningOn = (name: string, internal: string) => onHost(name, 'virsh', 'list', '--name').split('\n').includes(internal);

  it('restarts a VM whose qemu was killed, and one the guest powered off', { timeout: 240_000 }, async () => {
    const vm = await deploy({ name: 'kvm-ha' });
    const { internal_name, host } = row(vm['id']!);
    harness('kill-qemu', host!, internal_name);
    await until('HA restart after the crash', () => haRestarts(vm['id']!) === 1 && row(vm['id']!).state === 'Running');
    expect(runningOn(row(vm['id']!).host!, internal_name)).toBe(true);
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    tap.type('poweroff -f');
    await until('HA restart after the guest shut down', () => haRestarts(vm['id']!) === 2 && row(vm['id']!).state === 'Running');
    tap.close();
  });

  it('leaves a VM stopped through Kiln, and a crashed VM with HA off, stopped', async () => {
    const vm = await deploy({ name: 'kvm-ha-off' });
    // Up first, so the stop is the guest's own ACPI power-off (libvirt says 'shutdown', as when the
    // guest powers itself off), not a forced one after vm.stop.timeout of a guest still booting.
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    tap.close();
    await z.t.run('stopVirtualMachine', { id: vm['id']! });
    await haPassSince(Date.now());
    expect(row(vm['id']!).state).toBe('Stopped');
    const other = await deploy({ name: 'kvm-ha-disabled' });
    await z.t.call('updateVirtualMachine', { id: other['id']!, haenable: 'false' });
    const { internal_name, host } = row(other['id']!);
    harness('kill-qemu', host!, internal_name);
    await until('the crash to be noticed', () => row(other['id']!).state === 'Stopped');
    await haPassSince(Date.now());
    expect(row(other['id']!).state).toBe('Stopped');
    expect(haRestarts(other['id']!)).toBe(0);
  });

  it('marks an unreachable host Disconnected, refuses VM operations there without a DB change, then restarts its HA VMs elsewhere, never twice', { timeout: 300_000 }, async () => {
    const before = (await z.t.call('checkClusterHeadroom', { clusterid: z.clusterid })).body['clusterheadroom'] as { hasheadroom: boolean };
    expect(before.hasheadroom, JSON.stringify(before)).toBe(true);
    const ha = await deploy({ name: 'kvm-ha-host', hostid: z.hostIds['host2']! });
    const plain = await deploy({ name: 'kvm-plain-host', hostid: z.hostIds['host2']! });
    await z.t.call('updateVirtualMachine', { id: plain['id']!, haenable: 'false' });
    const haInternal = row(ha['id']!).internal_name;
    harness('stop-host', 'host2', '--keep-link');
    try {
      await until('host2 to be Disconnected', () => (z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').get(z.hostIds['host2']) as { state: string }).state !== 'Up', 30_000);
      const before = dbFingerprint(z.t.engine);
      const refused = await z.t.call('stopVirtualMachine', { id: plain['id']! });
      expect(refused.status).toBe(534);
      expect(String(refused.body['errortext'])).toMatch(/host \S+ of VM kvm-plain-host is (Disconnected|Down)/);
      expect(dbFingerprint(z.t.engine).replace(/^events:.*$/m, '')).toBe(before.replace(/^events:.*$/m, ''));
      await until('the HA VM to run on host1', () => row(ha['id']!).state === 'Running' && row(ha['id']!).host === hosts!.hosts[0]!.address, 120_000);
      expect(runningOn('host1', haInternal)).toBe(true);
      // The restart's job explains the placement: host2 refused because it is down.
      const restart = z.t.engine.db.prepare(`SELECT uuid FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(ha['id']) as string;
      const explained = (await z.t.call('queryAsyncJobResult', { jobid: restart })).body as { jobresult: { virtualmachine: { placement: { hosts: { hostName: string; suitable: boolean; reason: string }[] } } } };
      expect(explained.jobresult.virtualmachine.placement.hosts.find((h) => h.hostName === hosts!.hosts[1]!.address)).toMatchObject({ suitable: false, reason: expect.stringMatching(/^host is (Down|Disconnected)$/) });
      // KVM hosts fence themselves when isolated (isolationFencing), and only their HA VMs: a
      // plain VM on a host Kiln cannot reach may still run there, so it is not called Stopped
      // while the host is away (CloudStack shows such a VM as it last knew it).
      expect(row(plain['id']!).state).toBe('Running');
      // With one of two hosts down, losing host1 would strand its VMs: the N-1 answer changes (R14).
      const headroom = (await z.t.call('checkClusterHeadroom', { clusterid: z.clusterid })).body['clusterheadroom'] as { hasheadroom: boolean; hostfailure: { hostname: string; unplaceable: { reason: string }[] }[] };
      expect(headroom.hasheadroom).toBe(false);
      expect(headroom.hostfailure.find((f) => f.hostname === hosts!.hosts[0]!.address)!.unplaceable[0]!.reason).toMatch(/host is Down/);
    } finally {
      harness('start-host', 'host2');
    }
    await until('host2 to be Up again', () => (z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').get(z.hostIds['host2']) as { state: string }).state === 'Up', 60_000);
    expect(runningOn('host2', haInternal)).toBe(false);
    // host2 lost power (stop-host): once it answers again, the plain VM is settled on what it reports.
    await until('the plain VM to be Stopped as host2 reports', () => row(plain['id']!).state === 'Stopped', 60_000);
    // The shut-off copy host2 kept is undefined too: one definition per VM, on host1.
    await until('the stale copy on host2 to be undefined', () => !onHost('host2', 'virsh', 'list', '--all', '--name').includes(haInternal), 60_000);
    expect(onHost('host1', 'virsh', 'list', '--name')).toContain(haInternal);
  });
});
