/**
 * destroyVirtualMachine expunge=true the moment a KVM host's link is cut (hosts.sh cut-link), while
 * Kiln still holds its SSH session and no host check has marked it Disconnected yet. Before, the
 * first virsh read waited out its own 120 s timeout (the session was dropped when its keepalives
 * gave up, but the virsh shell's command was left pending) and the VM went to Error with nothing
 * owed to the host. Now the command fails as unreachable when the keepalives give up, and:
 *  - a Stopped VM is Destroyed and Expunged on Kiln's books, its definition and disks owed to the
 *    host (host_cleanups) and said so in its events; once the link is back the cleanup removes
 *    them and nothing of the VM is left on the host;
 *  - a Running VM is not destroyed: the job fails saying the host did not answer, the VM stays
 *    Running (it still runs there), and once the link is back it is destroyed as usual.
 * Never Error, never left Destroying or Expunging. Needs two harness hosts (the VM on host2).
 *
 * The VMs are not HA (an offering without offerha): cut off, host2 would otherwise declare itself
 * isolated after ISOLATION_AFTER_S and its watchdog would power off an HA VM, as it should, once a
 * HA pass had armed it (whether one had by the cut depended on the background's timing: CI saw the
 * Running VM 'shut off' there). So the watchdogs are armed before each cut, and what this file
 * checks is the destroy, with the isolation response leaving a non-HA VM running.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let cut = false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('destroying a KVM VM the moment its host is cut off (before any host check)', () => {
  let noHa: string;
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1', 'host2']);
    noHa = ((await z.t.ok('createServiceOffering', { name: 'kvm-tiny-no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
  }, 120_000);

  afterAll(async () => {
    if (cut) harness('restore-link', 'host2');
    await closeKvmZone(z);
  }, 300_000);

  const owed = () => z.t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number;
  const vm = (id: string) => z.t.engine.db.prepare('SELECT id, state, internal_name FROM vm_instances WHERE uuid=?').get(id) as { id: number; state: string; internal_name: string };
  const hostState = () => z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']) as string;
  const domstate = (name: string) => onHost('host2', 'sh', '-c', `virsh domstate ${name} 2>/dev/null || echo missing`).trim();
  const disks = (id: string) => (z.t.engine.db.prepare('SELECT path FROM volumes WHERE vm_id=?').pluck().all(vm(id).id) as string[]).map((p) => p.slice(p.lastIndexOf('/') + 1));
  const inPool = (file: string) => existsSync(join(hosts!.storagePath, file));
  const events = (id: string) => z.t.engine.db.prepare('SELECT description FROM events WHERE resource_uuid=? ORDER BY id').pluck().all(id) as string[];

  async function deployOnHost2(name: string): Promise<string> {
    const job = await z.t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: noHa, networkids: z.network, name, hostid: z.hostIds['host2']! });
    return (job['virtualmachine'] as { id: string }).id;
  }

  async function cutHost2(): Promise<void> {
    // An HA pass first arms the hosts' isolation watchdogs, as the background would by now: host2's,
    // isolated by the cut, must leave these non-HA VMs alone.
    await z.t.engine.background.ha.pass();
    harness('cut-link', 'host2');
    cut = true;
    // Nothing has looked at host2 since: Kiln still holds its session and calls it Up.
    expect(hostState()).toBe('Up');
  }

  /** The link back; the sweeper does what host2 owes (a few passes while the session reconnects). */
  async function restoreAndSweep(): Promise<void> {
    harness('restore-link', 'host2');
    cut = false;
    const back = Date.now();
    while ((owed() > 0 || hostState() !== 'Up') && Date.now() - back < 150_000) {
      await z.t.engine.background.sweep();
      if (owed() > 0 || hostState() !== 'Up') {
        await z.t.engine.hosts.session(z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']) as number).catch(() => undefined);
        await sleep(1000);
      }
    }
    expect(owed()).toBe(0);
  }

  it('a Stopped VM: Destroyed and Expunged, what host2 owes said so; once host2 answers its domain and disks are gone', { timeout: 420_000 }, async () => {
    const id = await deployOnHost2('dcn-stopped');
    await z.t.job('stopVirtualMachine', { id, forced: 'true' });
    const { internal_name: domain } = vm(id);
    const files = disks(id);
    expect(files.length).toBeGreaterThan(0);
    expect(domstate(domain)).toBe('shut off');
    await cutHost2();
    const started = Date.now();
    const job = await z.t.run('destroyVirtualMachine', { id, expunge: 'true' });
    console.log(`destroy+expunge of a Stopped VM on a host cut just before: settled in ${Date.now() - started} ms, jobstatus ${String(job['jobstatus'])}`);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect(vm(id).state).toBe('Expunged');
    const said = events(id);
    expect(said.some((d) => d.includes('-> Error')), said.join('\n')).toBe(false);
    expect(said.some((d) => /Expunging -> Expunged \(host \S+ did not answer \(.+\); its definition \S+ and \d+ disk\(s\) are removed there when it answers\)/.test(d)), said.join('\n')).toBe(true);
    // Nothing could be done on host2: its definition and disks are owed.
    expect(owed()).toBeGreaterThan(0);
    expect(domstate(domain)).toBe('shut off');

    await restoreAndSweep();
    expect(domstate(domain)).toBe('missing');
    for (const file of files) expect(inPool(file), file).toBe(false);
    expect(onHost('host2', 'virsh', 'list', '--all', '--name').split('\n')).not.toContain(domain);
  });

  it('a Running VM: not destroyed, the job says host2 did not answer, the VM stays Running; destroyed as usual once host2 answers', { timeout: 420_000 }, async () => {
    const id = await deployOnHost2('dcn-running');
    const { internal_name: domain } = vm(id);
    const files = disks(id);
    await cutHost2();
    const started = Date.now();
    const job = await z.t.run('destroyVirtualMachine', { id, expunge: 'true' });
    console.log(`destroy+expunge of a Running VM on a host cut just before: settled in ${Date.now() - started} ms, jobstatus ${String(job['jobstatus'])}`);
    expect(job['jobstatus']).toBe(2);
    expect(job['jobresult']).toMatchObject({ errorcode: 534, errortext: expect.stringMatching(/^VM dcn-running is not destroyed: its host \S+ did not answer the stop \(.+\); the VM is Running as before$/) });
    expect(vm(id).state).toBe('Running');
    expect(events(id).some((d) => d.includes('-> Error'))).toBe(false);
    expect(owed()).toBe(0);
    // It still runs there, as Kiln says.
    expect(domstate(domain)).toBe('running');

    await restoreAndSweep();
    await z.t.job('stopVirtualMachine', { id, forced: 'true' });
    const gone = await z.t.run('destroyVirtualMachine', { id, expunge: 'true' });
    expect(gone['jobstatus'], JSON.stringify(gone['jobresult'])).toBe(1);
    expect(vm(id).state).toBe('Expunged');
    expect(domstate(domain)).toBe('missing');
    for (const file of files) expect(inPool(file), file).toBe(false);
  });
});
