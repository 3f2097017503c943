/**
 * A storage motion that fails part-way (issue 13, R48: KVM's live move of a multi-disk VM pivots
 * the first disk, then the second pivot fails): Kiln records the pool of the disk that did move,
 * as the host has it, and the job's error says which volume moved and which did not. On the
 * simulator, whose migrate fault `afterDisks` moves that many disks and then fails, reporting them
 * (DriverErrorDetails.moved) as the KVM driver does (test/kvm/live-volume-move.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { ssdHostEngine } from '../helpers/ssd-host.js';

let t: TestEngine;
let sim: SimulatorDriver;
let clusterid: string;
let ssdRoot: string;
let ssdData: string;
const GiB = 1024 ** 3;

beforeAll(async () => {
  ({ t, sim, clusterid, ssdRoot, ssdData } = await ssdHostEngine('motion-host'));
});
afterAll(() => t.close());

describe('a storage motion that fails part-way', () => {
  it('records the pool of the disk that moved, keeps the other where it was, and the job error says which moved', async () => {
    sim.addUnmanagedVm('motion-host', {
      internalName: 'two-disks', displayName: 'two-disks', uuid: '00000000-1111-2222-3333-000000000a01',
      cpuNumber: 2, cpuSpeedMhz: 2000, memoryMiB: 2048,
      disks: [
        { name: 'two-disks-root.qcow2', sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' },
        { name: 'two-disks-data.qcow2', sizeBytes: 5 * GiB, device: 'disk', bus: 'virtio' },
      ],
      nics: [{ macAddress: '52:54:00:cd:0a:01', network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    }, { power: 'Running' });
    // Both disks need ssd: both move to motion-host's sim-ssd, live; the host fails after the first.
    sim.failNext('migrate', { host: 'motion-host', afterDisks: 1, message: 'block job pivot of vdb failed' });
    const res = await t.run('importUnmanagedInstance', {
      clusterid, name: 'two-disks', serviceofferingid: ssdRoot, migrateallowed: 'true',
      'datadiskofferinglist[0].disk': 'two-disks-data.qcow2', 'datadiskofferinglist[0].diskOffering': ssdData,
    });
    expect(res['jobstatus']).toBe(2);
    const text = String((res['jobresult'] as { errortext: string }).errortext);
    expect(text).toMatch(/^block job pivot of vdb failed \(simulated host motion-host\)\. Volumes moved: ROOT-\d+ to storage pool sim-ssd; not moved: DATADISK-\d+-\d+ stays where it was$/);
    // The host's truth: the root disk is on sim-ssd, the data disk where it was.
    expect(sim.world.find('motion-host')!.domains['two-disks']!.spec.disks.map((d) => d.pool)).toEqual(['sim-ssd', undefined]);
    const volumes = ((await t.ok('listVolumes', { virtualmachineid: vmId('two-disks') }))['volume'] as { type: string; storage: string }[]).map((v) => [v.type, v.storage]).sort();
    expect(volumes).toEqual([['DATADISK', 'sim-primary'], ['ROOT', 'sim-ssd']]);
    const rows = t.engine.db.prepare(`SELECT v.volume_type, v.pool, p.name AS record FROM volumes v LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE v.vm_id=(SELECT id FROM vm_instances WHERE display_name='two-disks' AND removed IS NULL) ORDER BY v.device_id`).all();
    expect(rows).toEqual([{ volume_type: 'ROOT', pool: 'sim-ssd', record: 'sim-ssd' }, { volume_type: 'DATADISK', pool: null, record: 'sim-primary' }]);
    const events = ((await t.ok('listEvents', { type: 'VOLUME.MIGRATE' }))['event'] as { description: string }[]).map((e) => e.description);
    expect(events.filter((d) => d.includes('two-disks'))).toEqual([expect.stringMatching(/^volume ROOT-\d+ \([0-9a-f-]+\) of VM two-disks moved to storage pool sim-ssd before the rest of the move failed$/)]);
    // The VM is settled: Running on its host.
    expect(t.engine.db.prepare(`SELECT v.state, h.name FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.display_name='two-disks' AND v.removed IS NULL`).get()).toEqual({ state: 'Running', name: 'motion-host' });
  });
});

function vmId(name: string): string {
  return t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE display_name=? AND removed IS NULL`).pluck().get(name) as string;
}
