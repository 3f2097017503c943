/**
 * Issue 11: what the platform does on its own (vMotion, DRS, xapi HA) is reported with initiator
 * 'platform', and Kiln follows it instead of fighting it: a VM the platform moved is listed on its
 * new host, and HA neither restarts it nor counts it as down. Simulator hook platformMigrate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, deployDemo, simDomain, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await testEngine();
  t.engine.background.ha.start();
});
afterAll(async () => {
  t.engine.background.ha.stop();
  await t.close();
});

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
  await t.engine.jobs.drain();
}

describe('platform-driven events', () => {
  it('follows a VM the platform moved to another host, and does not restart it', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-plat', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'moved-by-drs', serviceofferingid: offering.id, haenable: 'true' });
    const { host, internal_name } = simDomain(t, vm['id']!);
    const other = (t.engine.db.prepare(`SELECT name FROM hosts WHERE name<>? AND removed IS NULL AND cluster_id=(SELECT cluster_id FROM hosts WHERE name=?) ORDER BY id LIMIT 1`).get(host, host) as { name: string }).name;
    // Kiln has a session to both hosts, as it does once it has placed anything there.
    for (const name of [host, other]) await t.engine.hosts.session((t.engine.db.prepare('SELECT id FROM hosts WHERE name=?').get(name) as { id: number }).id);
    const boots = simDomain(t, vm['id']!).domain.boots;

    t.engine.simulator.platformMigrate(internal_name, host, other);
    await settle();
    await t.engine.background.ha.pass();
    await settle();

    const listed = ((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { state: string; hostname: string }[])[0]!;
    expect(listed).toMatchObject({ state: 'Running', hostname: other });
    // Not restarted anywhere: the same boot, no HA restart event, and one copy in the world.
    expect(simDomain(t, vm['id']!).domain.boots).toBe(boots);
    expect(((await t.call('listEvents', { resourceid: vm['id']!, type: 'HA.RESTART' })).body['event'] as unknown[] | undefined) ?? []).toHaveLength(0);
    expect(t.engine.simulator.world.find(host)!.domains[internal_name]).toBeUndefined();
    expect(t.engine.simulator.world.find(other)!.domains[internal_name]).toBeDefined();
    const moved = ((await t.call('listEvents', { resourceid: vm['id']!, type: 'VM.MIGRATE' })).body['event'] as { description: string }[]).map((e) => e.description);
    expect(moved.some((d) => d.includes(`moved by the hypervisor platform to host ${other}`))).toBe(true);
  });
});
