/**
 * A destroy (and expunge) whose host does not answer: a command that times out (DriverError
 * 'timeout', injected with the simulator's failNext) is the host not answering, not a refusal. It
 * may or may not have run there, so a stopped VM is Destroyed and Expunged on Kiln's books all the
 * same and the host's share is owed (host_cleanups), said so in the VM's events; once the host
 * answers, the cleanup removes its domain and disks (or finds them gone: the command had run).
 * A running VM whose stop times out is not destroyed: it stays Running and the job says the host
 * did not answer. Never Error, never left Destroying or Expunging. Before, a timeout put the VM in
 * Error with nothing owed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let sim: SimulatorDriver;

beforeEach(async () => {
  t = await testEngine();
  sim = t.engine.simulator;
});
afterEach(async () => t.close());

const TIMEOUT = 'timed out after 120 s: virsh undefine --domain';
const owed = () => t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number;

function row(id: string) {
  return t.engine.db.prepare('SELECT v.id, v.state, v.internal_name, lh.name AS last_host FROM vm_instances v LEFT JOIN hosts lh ON lh.id=v.last_host_id WHERE v.uuid=?').get(id) as { id: number; state: string; internal_name: string; last_host: string };
}

/** Where the VM's domain is still defined, and which of its disks are still on storage. */
function leftOnHost(id: string, host: string) {
  const r = row(id);
  const disks = (t.engine.db.prepare('SELECT path FROM volumes WHERE vm_id=?').all(r.id) as { path: string }[]).map((d) => d.path);
  return { defined: r.internal_name in (sim.world.find(host)?.domains ?? {}), disks: disks.filter((d) => d in sim.world.disks) };
}

function events(id: string): string[] {
  return (t.engine.db.prepare('SELECT description FROM events WHERE resource_uuid=? ORDER BY id').pluck().all(id) as string[]);
}

async function stoppedVm(name: string): Promise<{ id: string; host: string }> {
  const vm = await deployDemo(t, { name });
  expect((await t.run('stopVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
  return { id: vm['id']!, host: row(vm['id']!).last_host };
}

describe('destroying a VM whose host does not answer (a command times out)', () => {
  it('a stopped VM: Destroyed and Expunged, the host\'s share owed and said so; the cleanup removes it once the host answers', async () => {
    const { id, host } = await stoppedVm('silent-before');
    sim.failNext('destroy', { host, category: 'timeout', message: TIMEOUT });
    const job = await t.run('destroyVirtualMachine', { id, expunge: 'true' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect(row(id).state).toBe('Expunged');
    // The command did not run: the domain and its disks are still there, owed.
    expect(leftOnHost(id, host)).toMatchObject({ defined: true });
    expect(owed()).toBe(1);
    const said = events(id);
    expect(said.some((d) => d.includes(`Destroyed -> Expunging`))).toBe(true);
    expect(said.some((d) => d.includes(`Expunging -> Expunged (host ${host} did not answer (${TIMEOUT}`) && d.includes('are removed there when it answers'))).toBe(true);
    expect(said.some((d) => d.includes(`host ${host} could not be reached`))).toBe(true);
    expect(said.some((d) => d.includes('-> Error'))).toBe(false);

    await t.engine.background.sweep();
    expect(owed()).toBe(0);
    expect(leftOnHost(id, host)).toEqual({ defined: false, disks: [] });
  });

  it('a stopped VM whose destroy ran on the host but whose answer timed out: expunged; the cleanup finds the domain gone and removes the disks', async () => {
    const { id, host } = await stoppedVm('silent-after');
    sim.failNext('destroy', { host, category: 'timeout', message: TIMEOUT, after: true });
    const job = await t.run('destroyVirtualMachine', { id, expunge: 'true' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect(row(id).state).toBe('Expunged');
    // The destroy's undefine ran (a destroy keeps the disks); the expunge did not ask the silent host again: owed.
    expect(leftOnHost(id, host).defined).toBe(false);
    expect(owed()).toBe(1);
    await t.engine.background.sweep();
    expect(owed()).toBe(0);
    expect(leftOnHost(id, host)).toEqual({ defined: false, disks: [] });
  });

  it('destroy alone (no expunge): Destroyed, and a later expunge finishes on the host', async () => {
    const { id, host } = await stoppedVm('silent-destroy');
    sim.failNext('destroy', { host, category: 'timeout', message: TIMEOUT });
    const job = await t.run('destroyVirtualMachine', { id });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect(row(id).state).toBe('Destroyed');
    expect(events(id).some((d) => d.includes(`Destroying -> Destroyed (host ${host} did not answer (${TIMEOUT}`))).toBe(true);
    expect((await t.run('expungeVirtualMachine', { id }))['jobstatus']).toBe(1);
    expect(row(id).state).toBe('Expunged');
    expect(owed()).toBe(0);
    expect(leftOnHost(id, host)).toEqual({ defined: false, disks: [] });
  });

  it('a running VM whose stop times out is not destroyed: it stays Running and the job says its host did not answer', async () => {
    const vm = await deployDemo(t, { name: 'silent-running' });
    const id = vm['id']!;
    const host = t.engine.db.prepare('SELECT h.name FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').pluck().get(id) as string;
    sim.failNext('stop', { host, category: 'timeout', message: 'timed out after 120 s: virsh shutdown --domain' });
    const job = await t.run('destroyVirtualMachine', { id, expunge: 'true' });
    expect(job['jobstatus']).toBe(2);
    expect(job['jobresult']).toMatchObject({ errorcode: 534, errortext: expect.stringContaining(`is not destroyed: its host ${host} did not answer the stop (timed out after 120 s`) });
    expect(String((job['jobresult'] as { errortext: string }).errortext)).toContain('the VM is Running as before');
    expect(row(id).state).toBe('Running');
    expect(owed()).toBe(0);
    expect(leftOnHost(id, host).defined).toBe(true);
  });
});
