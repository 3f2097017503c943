/**
 * importVm (CloudStack 4.19) is decided by the host's driver, not by a hypervisor's name: a host
 * whose import facet cannot take a disk image (the simulator's) is refused on hostid, and a
 * `hypervisor` that is not the host's own is refused on hypervisor; neither writes anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbFingerprint, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t?.close());

describe('importVm by capability', () => {
  it("refuses a hypervisor that is not the host's, and a host whose driver cannot import disk images", async () => {
    const ids = demoIds(t.engine);
    const host = ((await t.call('listHosts', {})).body['host'] as { id: string; name: string }[])[0]!;
    const base = { zoneid: ids.zoneid, importsource: 'local', name: 'from-disk', serviceofferingid: ids.small, hostid: host.id, diskpath: 'disk-1.qcow2' };
    const before = dbFingerprint(t.engine);
    const wrong = await t.call('importVm', { ...base, hypervisor: 'VMware' });
    expect(wrong.status).toBe(431);
    expect(wrong.body['errortext']).toBe(`hypervisor: host ${host.name} runs Simulator, not VMware`);
    const cannot = await t.call('importVm', { ...base, hypervisor: 'simulator' });
    expect(cannot.status).toBe(431);
    expect(cannot.body['errortext']).toBe(`hostid: the hypervisor of host ${host.name} cannot import disk images`);
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});
