/**
 * XenServer on the xapi simulator (test/xapi-sim).
 *
 * Inventory sync of a pool with 500 VMs through Kiln's driver (connect: login, one event.from
 * with token "" for every watched class, into the inventory; the endpoint ready to list hosts and
 * VMs) against login plus one VM.get_all_records in the same run. Goal ≤ 1.5×. The driver's one
 * batch carries the VMs and the pool's hosts, storage and GPUs; per-VM objects (metrics, VBDs,
 * VDIs, consoles) are read for one VM when an operation needs them.
 */
import { XenServerDriver } from '../drivers/xenserver/index.js';
import { WATCHED } from '../drivers/xenserver/pool.js';
import { XapiClient } from '../drivers/xenserver/xapi/client.js';
import { XapiSim } from '../test/helpers/xapi-sim.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();

export async function benchXenserver(): Promise<BenchResult[]> {
  const vms = Array.from({ length: 500 }, (_, i) => ({ name: `bench-${i}`, host: i % 2, power_state: (i % 3 === 0 ? 'Running' : 'Halted') as 'Running' | 'Halted', memoryMiB: 128 }));
  const sim = await XapiSim.start({ hosts: [{ memoryGiB: 256 }, { memoryGiB: 256 }], vms });
  try {
    const raw: number[] = [];
    const kiln: number[] = [];
    let count = 0;
    let objects = 0;
    for (let i = 0; i < 7; i++) {
      let t = now();
      const c = await XapiClient.connect({ url: sim.url, username: sim.username, password: sim.password, thumbprint: sim.thumbprint });
      count = Object.keys(await c.getAllRecords('VM')).length;
      raw.push(now() - t);
      await c.logout();
      c.close();

      t = now();
      const ep = await new XenServerDriver().connect({ hostId: 'bench', url: sim.url, username: sim.username, password: sim.password, pinnedTrust: sim.thumbprint ? { kind: 'tls-certificate', fingerprint: sim.thumbprint } : undefined });
      await ep.hosts();
      kiln.push(now() - t);
      objects = (ep as unknown as { pool: { inventory: { size: number } } }).pool.inventory.size;
      await ep.close();
    }
    if (process.env['KILN_BENCH_TRACE']) console.log(`sync kiln ${kiln.map((x) => x.toFixed(0)).join(',')} raw ${raw.map((x) => x.toFixed(0)).join(',')}`);
    const k = median(kiln.slice(2));
    const r = median(raw.slice(2));
    return [{
      name: `inventory sync of a pool with ${count} VMs through the XenServer driver (event.from)`, value: k, unit: 'ms median', baseline: r,
      baselineName: 'login + one VM.get_all_records', goal: '≤ 1.5× the raw read', met: k / r <= 1.5,
      note: `5 rounds after 2 warm-up, xapi simulator; the driver's batch holds ${objects} objects of ${WATCHED.length} classes, the baseline ${count} VM records`,
    }];
  } finally {
    await sim.stop();
  }
}
