/**
 * What the UI's offering pickers are given by the engine: listServiceOfferings virtualmachineid
 * (never the current offering; for a Running VM only what scaleVirtualMachine would accept), and
 * listApis listing only the parameters the caller's role may pass (startVirtualMachine's
 * podid/clusterid/hostid for admins, R10/R25).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, deployDemo, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let bob: Caller;

async function choices(vmId: string, caller: Caller = t.admin): Promise<string[]> {
  const res = await t.call('listServiceOfferings', { virtualmachineid: vmId }, caller);
  expect(res.status).toBe(200);
  return ((res.body['serviceoffering'] as { name: string }[] | undefined) ?? []).map((o) => o.name);
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  const { userId } = t.engine.accounts.createAccount({ name: 'bob', role: 'User', domainId: t.admin.domainId, username: 'bob', password: 'secret-pw' });
  bob = t.engine.accounts.byUserId(userId)!;
});
afterAll(() => t.close());

describe('listServiceOfferings virtualmachineid', () => {
  it('offers a stopped VM every offering but its own', async () => {
    const vm = await deployDemo(t, { name: 'pick-stopped', startvm: 'false' });
    expect(await choices(vm['id']!)).toEqual(['Medium Instance', 'Large Instance', 'HA Instance', 'Custom', 'Custom Constrained']);
  });

  it('offers a running VM nothing while the zone does not allow live scaling', async () => {
    const vm = await deployDemo(t, { name: 'pick-off' });
    expect(await choices(vm['id']!)).toEqual([]);
  });

  it('offers a running VM only the offerings it can grow to, as scaleVirtualMachine decides', async () => {
    await t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: ids.zoneid });
    const small = await deployDemo(t, { name: 'pick-small' });
    // Large Instance (4 GB) is refused too: a 64-bit Linux guest that started below 3 GB cannot pass it live (R18).
    expect(await choices(small['id']!)).toEqual(['Medium Instance', 'HA Instance', 'Custom', 'Custom Constrained']);
    const medium = (t.engine.db.prepare(`SELECT uuid FROM service_offerings WHERE name='Medium Instance'`).get() as { uuid: string }).uuid;
    const onMedium = await deployDemo(t, { name: 'pick-medium', serviceofferingid: medium });
    // Small is smaller, HA Instance the same size (1 vCPU, 1 GB), Large past 3 GB: a live scale refuses each.
    expect(await choices(onMedium['id']!)).toEqual(['Custom', 'Custom Constrained']);
    for (const name of ['Small Instance', 'HA Instance', 'Large Instance']) {
      const id = (t.engine.db.prepare('SELECT uuid FROM service_offerings WHERE name=?').get(name) as { uuid: string }).uuid;
      expect((await t.call('scaleVirtualMachine', { id: onMedium['id']!, serviceofferingid: id })).status).toBe(431);
    }
  });

  it('leaves out a custom offering whose bounds leave a running VM no room to grow', async () => {
    const capped = await t.call('createServiceOffering', { name: 'capped', customized: 'true', cpuspeed: '1000', mincpunumber: '1', maxcpunumber: '2', minmemory: '512', maxmemory: '2048' });
    expect(capped.status).toBe(200);
    const large = await deployDemo(t, { name: 'pick-large', serviceofferingid: ids.large });
    const names = await choices(large['id']!);
    expect(names).not.toContain('capped');
    expect(names).not.toContain('Large Instance');
    expect(names).toContain('Custom');
  });

  it('never answers for a VM the caller cannot see (531)', async () => {
    const vm = await deployDemo(t, { name: 'pick-private', startvm: 'false' });
    const res = await t.call('listServiceOfferings', { virtualmachineid: vm['id']! }, bob);
    expect(res.status).toBe(531);
  });
});

describe('listApis lists only the parameters the role may pass', () => {
  const paramsOf = async (command: string, caller: Caller) => {
    const api = ((await t.call('listApis', { name: command }, caller)).body['api'] as { params: { name: string }[] }[])[0]!;
    return api.params.map((p) => p.name).sort();
  };

  it('gives an admin startVirtualMachine with podid, clusterid and hostid, and a user without them', async () => {
    expect(await paramsOf('startVirtualMachine', t.admin)).toEqual(['clusterid', 'hostid', 'id', 'podid']);
    expect(await paramsOf('startVirtualMachine', bob)).toEqual(['id']);
    // …and a user who passes one anyway still gets the 531 (the list is a guide, the check stays).
    const vm = await deployDemo(t, { name: 'bobs', startvm: 'false' }, bob);
    const host = (t.engine.db.prepare('SELECT uuid FROM hosts ORDER BY id').get() as { uuid: string }).uuid;
    expect((await t.call('startVirtualMachine', { id: vm['id']!, hostid: host }, bob)).status).toBe(531);
  });
});
