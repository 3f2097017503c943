/**
 * vSphere on vcsim (skipped without a built vcsim, test/vcsim/vcsim.sh build).
 *
 * P5: inventory sync of 1,000 VMs through Kiln's driver (connect: login, the bulk
 * RetrievePropertiesEx over a ContainerView, paged, into the cache; the endpoint ready to list
 * hosts and VMs) against the raw calls for the same properties in the same run (login, one
 * RetrievePropertiesEx with ContinueRetrievePropertiesEx). Goal ≤ 1.5×.
 * Power latency: a power change made by another client, seen by the driver through
 * WaitForUpdatesEx. Goal ≤ 1 s (median).
 * P1-style lifecycle: clone-deploy, start, stop (forced), destroy through the driver against the
 * raw SOAP tasks doing the same (CloneVM_Task, ReconfigVM_Task, PowerOn/PowerOff, Destroy_Task).
 */
import type { EndpointEvent } from '../drivers/types.js';
import { VsphereDriver } from '../drivers/vsphere/index.js';
import { INVENTORY_PROPERTIES } from '../drivers/vsphere/inventory.js';
import { MoRef, VimClient, asMoRef, retrieveInventory, vm as vim, waitForTask } from '../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../test/helpers/vcsim.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();

export async function benchVsphere(): Promise<BenchResult[]> {
  if (!vcsimOrSkip()) {
    console.log('bench vsphere: vcsim is not built (test/vcsim/vcsim.sh build); P5 and the vSphere lifecycle skipped');
    return [];
  }
  // 2 clusters × 5 hosts, 500 VMs per cluster pool: 1,000 VMs.
  const sim = Vcsim.start(['-cluster', '2', '-host', '5', '-standalone-host', '0', '-vm', '500', '-autostart=false', '-page-size', '100']);
  const results: BenchResult[] = [];
  try {
    const spec = {
      hostId: 'bench', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`, username: sim.info.username, password: sim.info.password,
      pinnedTrust: { kind: 'tls-certificate' as const, fingerprint: sim.info.thumbprint },
    };
    const raw: number[] = [];
    const kiln: number[] = [];
    let vmCount = 0;
    for (let i = 0; i < 5; i++) {
      let t = now();
      const c = await VimClient.connect(sim.options());
      const objects = await retrieveInventory(c, INVENTORY_PROPERTIES, { pageSize: 100 });
      raw.push(now() - t);
      vmCount = objects.filter((o) => o.obj.type === 'VirtualMachine').length;
      await c.logout();
      c.close();

      t = now();
      const ep = await new VsphereDriver({ pageSize: 100 }).connect(spec);
      await ep.hosts();
      kiln.push(now() - t);
      await ep.close();
    }
    if (process.env['KILN_BENCH_TRACE']) console.log(`sync kiln ${kiln.map((x) => x.toFixed(0)).join(',')} raw ${raw.map((x) => x.toFixed(0)).join(',')}`);
    const k = median(kiln);
    const r = median(raw);
    results.push({ name: `P5 inventory sync of ${vmCount} VMs through the vSphere driver`, value: k, unit: 'ms median', baseline: r, baselineName: 'login + one bulk RetrievePropertiesEx (paged) of the same properties', goal: '≤ 1.5× the raw bulk read', met: k / r <= 1.5, note: '5 rounds, vcsim, page size 100' });

    // Power change latency through the stream.
    const driver = new VsphereDriver({ maxWaitSeconds: 30 });
    const ep = await driver.connect(spec);
    if (process.env['KILN_BENCH_TRACE']) ep.onEvent((e) => console.log('event', JSON.stringify(e)));
    const admin = await VimClient.connect(sim.options());
    try {
      // Steady state: the stream has sent its first full state (see InventoryCache.live: vcsim drops changes made before).
      await (ep as unknown as { ep: { cache: { live: Promise<void> } } }).ep.cache.live;
      const hosts = await ep.hosts();
      const vms = (await Promise.all(hosts.map((h) => ep.host(h.ref).listInstances()))).flat().slice(0, 10);
      const latencies: number[] = [];
      for (const v of vms) {
        let resolveSeen!: () => void;
        const seen = new Promise<void>((res) => { resolveSeen = res; });
        const off = ep.onEvent((e: EndpointEvent) => { if (e.kind === 'power' && e.vmRef === v.ref && e.state === 'Running') resolveSeen(); });
        const t = now();
        await waitForTask(admin, (await vim.powerOn(admin, new MoRef('VirtualMachine', v.ref))).ref);
        if (process.env['KILN_BENCH_TRACE']) console.log(`powered on ${v.ref} (${v.powerState}): ${(now() - t).toFixed(1)} ms`);
        const timedOut = await Promise.race([seen.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000))]);
        latencies.push(timedOut ? Infinity : now() - t);
        if (timedOut && process.env['KILN_BENCH_TRACE']) console.log(`MISSED ${v.ref} #${latencies.length - 1}`);
        off();
        if (process.env['KILN_BENCH_TRACE']) console.log(`power ${v.ref}: ${(now() - t).toFixed(1)} ms`);
      }
      const l = median(latencies);
      results.push({ name: 'vSphere power change made by another client, seen by the driver (WaitForUpdatesEx)', value: l, unit: 'ms median', goal: '≤ 1000 ms', met: l <= 1000, note: `${latencies.length} changes of a 1,000-VM inventory, max ${Math.max(...latencies).toFixed(1)} ms${latencies.includes(Infinity) ? ' (some not seen within 10 s)' : ''}` });

      // Lifecycle: through the driver vs the raw tasks.
      const session = ep.host(hosts[0]!.ref);
      const template = vms[0]!.ref;
      const folder = asMoRef((await retrieveInventory(admin, [{ type: 'Datacenter', pathSet: ['vmFolder'] }]))[0]!.props['vmFolder'])!;
      const pool = asMoRef((await retrieveInventory(admin, [{ type: 'ClusterComputeResource', pathSet: ['name', 'resourcePool'] }])).find((c) => c.props['name'] === 'DC0_C0')!.props['resourcePool'])!;
      const hostRef = new MoRef('HostSystem', hosts[0]!.ref);
      const kilnRounds: number[] = [];
      const rawRounds: number[] = [];
      for (let i = 0; i < 5; i++) {
        let t = now();
        const made = await session.define({
          internalName: `bench-k-${i}`, displayName: 'b', uuid: '', cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 64,
          disks: [{ name: 'root', sizeBytes: 2 ** 30, device: 'disk', backingImage: template }], nics: [],
        });
        await session.start(made.ref);
        await session.stop(made.ref, { forced: true });
        await session.destroy(made.ref);
        kilnRounds.push(now() - t);
        if (process.env['KILN_BENCH_TRACE']) console.log(`kiln round ${i}: ${(now() - t).toFixed(1)} ms`);

        t = now();
        const clone = asMoRef(await waitForTask(admin, (await vim.clone(admin, new MoRef('VirtualMachine', template), { folder, name: `bench-r-${i}`, location: { pool, host: hostRef } })).ref))!;
        await waitForTask(admin, (await vim.reconfigure(admin, clone, { numCPUs: 1, memoryMB: 64 })).ref);
        await waitForTask(admin, (await vim.powerOn(admin, clone)).ref);
        await waitForTask(admin, (await vim.powerOff(admin, clone)).ref);
        await waitForTask(admin, (await vim.destroy(admin, clone)).ref);
        rawRounds.push(now() - t);
        if (process.env['KILN_BENCH_TRACE']) console.log(`raw round ${i}: ${(now() - t).toFixed(1)} ms`);
      }
      const lk = median(kilnRounds);
      const lr = median(rawRounds);
      results.push({ name: 'vSphere lifecycle (clone deploy, start, forced stop, destroy) through the driver', value: lk, unit: 'ms median', baseline: lr, baselineName: 'the same raw SOAP tasks', goal: '≤ 1.2× raw SOAP (P1-style)', met: lk / lr <= 1.2, note: '5 rounds, vcsim' });
    } finally {
      admin.close();
      await ep.close();
    }
  } finally {
    sim.stop();
  }
  return results;
}
