/**
 * The VM response publishes the engine's volume rule (R35, R57) as `volumechangeblocked`, in the
 * words the volume commands refuse with, so the Volumes tab can pre-warn without a copy of the
 * rule: absent while the VM's volumes may change, the snapshot reason while it has a VM snapshot.
 * It is computed only when a list asks for it by name (`details=volume`, as the Volumes tab does),
 * not for every VM of a default (full) page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

const listed = async (id: string, details?: string) => ((await t.call('listVirtualMachines', { id, ...(details ? { details } : {}) })).body['virtualmachine'] as Record<string, unknown>[])[0]!;

describe('volumechangeblocked on the VM response', () => {
  it("is the attachVolume refusal's reason while the VM has a VM snapshot, and absent before and after", async () => {
    const vm = await deployDemo(t, { name: 'rule-vm' });
    const ids = demoIds(t.engine);
    expect(await listed(vm['id']!, 'min,volume')).not.toHaveProperty('volumechangeblocked');
    const snap = await t.run('createVMSnapshot', { virtualmachineid: vm['id']! });
    expect(snap['jobstatus']).toBe(1);
    const made = await t.run('createVolume', { zoneid: ids.zoneid, diskofferingid: ids.diskSmall, name: 'rule-spare' });
    const volumeId = (made['jobresult'] as { volume: { id: string } }).volume.id;
    const refused = await t.call('attachVolume', { id: volumeId, virtualmachineid: vm['id']! });
    expect(refused.status).toBe(431);
    const reason = 'VM rule-vm has 1 VM snapshot; its volumes cannot change while they exist, so delete them first';
    expect(refused.body['errortext']).toBe(`virtualmachineid: ${reason}`);
    expect((await listed(vm['id']!, 'min,volume'))['volumechangeblocked']).toBe(reason);
    expect((await listed(vm['id']!, 'volume'))['volumechangeblocked']).toBe(reason);
    expect(await listed(vm['id']!, 'min')).not.toHaveProperty('volumechangeblocked');
    expect(await listed(vm['id']!)).not.toHaveProperty('volumechangeblocked');
    const snapshotId = (snap['jobresult'] as { vmsnapshot: { id: string } }).vmsnapshot.id;
    expect((await t.run('deleteVMSnapshot', { vmsnapshotid: snapshotId }))['jobstatus']).toBe(1);
    expect(await listed(vm['id']!, 'min,volume')).not.toHaveProperty('volumechangeblocked');
  });
});
