/**
 * The driver conformance suite on vSphere, against vcsim (test/vcsim): one endpoint on cluster
 * DC0_C0 with two ESXi hosts, VMs deployed from a template made over SOAP. The independent view
 * is a separate admin SOAP session (properties of the VM, its snapshot tree) and the datastore's
 * directory, which vcsim keeps on the local disk. vcsim runs no guest OS: guestUp sets the VMware
 * Tools status a booted guest reports, as test/vsphere/driver-vm.test.ts does.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Endpoint, PowerState, VmSpec } from '../../drivers/types.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, getProperties, retrieveInventory, typed, vm as vim, waitForTask, type VimClient, type VimValue } from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { createVmWithDevices, defaultPlacement } from '../helpers/vcsim-fixtures.js';
import { conformanceSuite, type ConformanceTarget, type ObservedSnapshot, type ObservedVm, type VmHandle } from './contract.js';

const DRIVER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../drivers/vsphere/index.ts');
const POWER: Record<string, PowerState> = { poweredOn: 'Running', poweredOff: 'Stopped', suspended: 'Paused' };

function skipReason(): string | undefined {
  if (!existsSync(DRIVER)) return 'drivers/vsphere has no driver yet (drivers/vsphere/index.ts; helper H is writing it)';
  if (!vcsimOrSkip()) return 'vcsim is not built (test/vcsim/vcsim.sh build)';
  return undefined;
}

conformanceSuite({
  label: 'vSphere (vcsim)',
  skipReason,
  readyMarker: /$^/,
  uniqueName: (tag) => `i-conf-${tag}-${randomBytes(3).toString('hex')}`,
  timeouts: { bootMs: 20_000, stopMs: 20_000, eventMs: 10_000 },
  async connect(): Promise<ConformanceTarget> {
    const { VsphereDriver } = await import('../../drivers/vsphere/index.js');
    const sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '1', '-shutdown-time', '150ms', '-task-time', '200ms']);
    let admin: VimClient | undefined;
    let endpoint: Endpoint | undefined;
    try {
      admin = await sim.connect();
      const a = admin;
      const where = await defaultPlacement(a);
      const src = await createVmWithDevices(a, where, { name: 'conf-template-src', disksGiB: [1], nics: [] });
      await waitForTask(a, (await vim.clone(a, src, { folder: where.folder, name: 'conf-template', location: { pool: where.pool }, template: true })).ref);
      const driver = new VsphereDriver({ maxWaitSeconds: 2 });
      const ep = await driver.connect({
        hostId: 'conformance-vcsim', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`, username: sim.info.username, password: sim.info.password,
        pinnedTrust: { kind: 'tls-certificate', fingerprint: sim.info.thumbprint },
      });
      endpoint = ep;
      const datastoreDirs = new Map((await retrieveInventory(a, [{ type: 'Datastore', pathSet: ['name', 'info.url'] }])).map((d) => [asString(d.props['name']) ?? '', (asString(d.props['info.url']) ?? '').replace(/^ds:\/\//, '')]));
      const props = async (handle: VmHandle, paths: string[]): Promise<Record<string, VimValue> | undefined> => {
        if (!handle.ref) return undefined;
        try {
          return await getProperties(a, new MoRef('VirtualMachine', handle.ref), paths);
        } catch (error) {
          if (/ManagedObjectNotFound|not found/i.test(String((error as Error).message ?? error)) || (error as { faultType?: string }).faultType === 'ManagedObjectNotFound') return undefined;
          throw error;
        }
      };
      const observeVm = async (hostRef: string, handle: VmHandle): Promise<ObservedVm | undefined> => {
        const p = await props(handle, ['runtime.powerState', 'runtime.host', 'config.uuid', 'config.hardware.numCPU', 'config.hardware.memoryMB', 'config.hardware.device']);
        if (!p || asMoRef(p['runtime.host'])?.value !== hostRef) return undefined;
        const disks = asArray(p['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk').map((d) => asString(asObject(d['backing'])['fileName']) ?? '');
        return { power: POWER[String(p['runtime.powerState'])] ?? 'Unknown', uuid: asString(p['config.uuid']), cpuNumber: asNumber(p['config.hardware.numCPU']) ?? 0, memoryMiB: asNumber(p['config.hardware.memoryMB']) ?? 0, disks };
      };
      const walk = (nodes: VimValue[], parent: string | undefined, current: string | undefined, out: ObservedSnapshot[]) => {
        for (const node of nodes.map(asObject)) {
          const name = asString(node['name']) ?? '';
          out.push({ name, parent, current: asMoRef(node['snapshot'])?.value === current });
          walk(asArray(node['childSnapshotList']), name, current, out);
        }
        return out;
      };
      return {
        driver,
        endpoints: [ep],
        unknownRef: () => 'vm-987654',
        guest: (name): VmSpec => ({
          internalName: name, displayName: name, uuid: randomUUID(), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 128, maxCpuNumber: 2, maxMemoryMiB: 256,
          disks: [{ name: `${name}-root`, sizeBytes: 2 ** 30, device: 'disk', backingImage: 'conf-template' }], nics: [],
        }),
        async guestUp(_hostRef, handle) {
          const ref = new MoRef('VirtualMachine', handle.ref ?? '');
          await waitForTask(a, (await vim.reconfigure(a, ref, { extraConfig: [{ key: 'SET.guest.toolsRunningStatus', value: typed('xsd:string', 'guestToolsRunning') }] })).ref);
          // The driver learns it through its update stream; give that a moment.
          await new Promise((resolve) => setTimeout(resolve, 500));
        },
        async platformMove(handle, toHostRef) {
          // What DRS does: a vMotion vCenter starts by itself, not through Kiln's session.
          await waitForTask(a, (await vim.migrate(a, new MoRef('VirtualMachine', handle.ref ?? ''), { host: new MoRef('HostSystem', toHostRef) })).ref);
        },
        observe: {
          vm: observeVm,
          async diskExists(_hostRef, disk) {
            const m = /^\[([^\]]+)\]\s*(.*)$/.exec(disk);
            const dir = m ? datastoreDirs.get(m[1]!) : undefined;
            if (!m || !dir) throw new Error(`cannot place ${disk} on a datastore directory (${JSON.stringify([...datastoreDirs])})`);
            return existsSync(path.join(dir, m[2]!));
          },
          async snapshots(_hostRef, handle) {
            const p = await props(handle, ['snapshot']);
            const info = p?.['snapshot'];
            if (!info) return [];
            const o = asObject(info);
            return walk(asArray(o['rootSnapshotList']), undefined, asMoRef(o['currentSnapshot'])?.value, []);
          },
        },
        async cleanup() {
          // vcsim and its datastore directory go with close().
        },
        async close() {
          await endpoint?.close();
          admin?.close();
          sim.stop();
        },
      };
    } catch (error) {
      await endpoint?.close().catch(() => undefined);
      admin?.close();
      sim.stop();
      throw error;
    }
  },
});
