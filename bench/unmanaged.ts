/**
 * P9: listUnmanagedInstances for 600 VMware VMs (vcsim, one cluster of 4 hosts), through the
 * engine's registry as the HTTP transport calls it, with every row's importable / why-not check.
 * CloudStack's listVmwareDcVms took about 13 minutes for 500–600 VMs (apache/cloudstack#9782).
 * Goal ≤ 5 s. Baseline in the same run: one login and one paged RetrievePropertiesEx of the same
 * VM properties over a ContainerView (the least any client reading them can do).
 */
import { VsphereDriver } from '../drivers/vsphere/index.js';
import { VimClient, retrieveInventory } from '../drivers/vsphere/soap/index.js';
import { testEngine } from '../test/helpers/engine.js';
import { Vcsim, vcsimOrSkip } from '../test/helpers/vcsim.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();
const VMS = 600;

export async function benchUnmanaged(): Promise<BenchResult[]> {
  if (!vcsimOrSkip()) {
    console.log('bench unmanaged: vcsim is not built (test/vcsim/vcsim.sh build); P9 skipped');
    return [];
  }
  const sim = Vcsim.start(['-cluster', '1', '-host', '4', '-standalone-host', '0', '-vm', String(VMS), '-autostart=false', '-page-size', '100']);
  const t = await testEngine({ drivers: [new VsphereDriver({ pageSize: 100 })] });
  try {
    const ok = async (command: string, params: Record<string, string>) => {
      const res = await t.call(command, params);
      if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const zoneid = ((await ok('createZone', { name: 'P9' }))['zone'] as { id: string }).id;
    const podid = ((await ok('createPod', { name: 'P9', zoneid }))['pod'] as { id: string }).id;
    const clusterid = ((await ok('addCluster', {
      zoneid, podid, clustername: 'C0', hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    }))['cluster'] as { id: string }).id;

    const kiln: number[] = [];
    const raw: number[] = [];
    let rows = 0;
    for (let i = 0; i < 5; i++) {
      let start = now();
      const listed = (await ok('listUnmanagedInstances', { clusterid }))['unmanagedinstance'] as unknown[];
      kiln.push(now() - start);
      rows = listed.length;

      start = now();
      const c = await VimClient.connect(sim.options());
      await retrieveInventory(c, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState', 'runtime.host', 'config.hardware.numCPU', 'config.hardware.memoryMB', 'config.hardware.device', 'config.guestFullName', 'config.guestId', 'config.hardware.numCoresPerSocket', 'config.cpuAllocation.reservation', 'guest.net', 'guest.toolsRunningStatus'] }], { pageSize: 100 });
      raw.push(now() - start);
      await c.logout();
      c.close();
    }
    const k = median(kiln);
    const r = median(raw);
    return [{
      name: `P9 listUnmanagedInstances of ${rows} VMware VMs (vcsim, 4 hosts)`, value: k, unit: 'ms median', baseline: r,
      baselineName: 'login + one paged RetrievePropertiesEx of the same VM properties', goal: '≤ 5000 ms', met: k <= 5000 && rows === VMS,
      note: `5 rounds through the engine's registry, with every row's importable check; ${(k / r).toFixed(2)}× the raw read; first round ${kiln[0]!.toFixed(0)} ms`,
    }];
  } finally {
    await t.close();
    sim.stop();
  }
}
