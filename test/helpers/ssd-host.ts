/**
 * A simulator host with a local pool tagged ssd, added to the demo zone's first cluster, and the
 * offerings that ask for it: the setup of the storage-motion and import storage-tag tests (R48);
 * and the foreign two-disk VMs those import tests take over.
 */
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { demoIds, testEngine, type TestEngine } from './engine.js';

export interface SsdHost {
  /** The demo cluster the host joined. */
  clusterid: string;
  /** A service offering whose root disk needs the ssd tag. */
  ssdRoot: string;
  /** A custom-size disk offering that needs the ssd tag. */
  ssdData: string;
}

/** Adds HOSTNAME (simulator, 64 GiB, local pool sim-ssd tagged ssd) and the two ssd offerings. */
export async function addSsdHost(t: TestEngine, hostName: string): Promise<SsdHost> {
  const ids = demoIds(t.engine);
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id JOIN hosts h ON h.cluster_id=c.id WHERE h.name='sim-host-1'`).get() as { uuid: string; pod: string };
  await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url: `simulator://${hostName}?localpools=sim-ssd&memory=65536`, username: 'root', password: 'x' });
  const pool = ((await t.ok('listStoragePools', { name: 'sim-ssd' }))['storagepool'] as { id: string }[])[0]!;
  await t.ok('updateStoragePool', { id: pool.id, tags: 'ssd' });
  const ssdRoot = ((await t.ok('createServiceOffering', { name: 'ssd-root', cpunumber: '2', cpuspeed: '2000', memory: '2048', tags: 'ssd' }))['serviceoffering'] as { id: string }).id;
  const ssdData = ((await t.ok('createDiskOffering', { name: 'ssd-data', customized: 'true', tags: 'ssd' }))['diskoffering'] as { id: string }).id;
  return { clusterid: cluster.uuid, ssdRoot, ssdData };
}

/** A new engine (the demo zone) with addSsdHost's HOSTNAME, and its simulator. */
export async function ssdHostEngine(hostName: string): Promise<SsdHost & { t: TestEngine; sim: SimulatorDriver }> {
  const t = await testEngine();
  return { t, sim: t.engine.simulator, ...(await addSsdHost(t, hostName)) };
}

const GiB = 1024 ** 3;

/**
 * A maker of foreign VMs as an import finds them (simulator VmSpec NAME: 2 vCPUs at 2000 MHz,
 * 2 GiB, a 10 GiB root disk NAME-root.qcow2 and a 5 GiB data disk NAME-data.qcow2, one virtio NIC
 * on vlan100). The Nth it makes has uuid 00000000-1111-2222-3333-<UUIDBASE+N, 12 digits> and MAC
 * MACPREFIX:<N, 2 digits>, so each test file's VMs are apart from another's.
 */
export function foreignVms(uuidBase: number, macPrefix: string): (name: string) => VmSpec {
  let made = 0;
  return (name) => {
    made += 1;
    return {
      internalName: name, displayName: name, uuid: `00000000-1111-2222-3333-${String(uuidBase + made).padStart(12, '0')}`,
      cpuNumber: 2, cpuSpeedMhz: 2000, memoryMiB: 2048,
      disks: [
        { name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' },
        { name: `${name}-data.qcow2`, sizeBytes: 5 * GiB, device: 'disk', bus: 'virtio' },
      ],
      nics: [{ macAddress: `${macPrefix}:${String(made).padStart(2, '0')}`, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    };
  };
}
