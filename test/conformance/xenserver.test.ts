/**
 * The driver conformance suite on XenServer, against the xapi simulator (test/xapi-sim): one pool
 * of two hosts, VMs cloned from a template with a disk. The independent view is a separate
 * JSON-RPC session of the simulator's own wire client (test/xapi-sim/rpc-client.ts), not the
 * driver: VM records (where it runs or lives, its size, Kiln's uuid in other_config), its disks
 * (VDIs by uuid) and its snapshots (xapi's parent chain). The simulator runs no guest OS:
 * guestUp makes its Xen tools report in, as a booted guest's would; a platform move is a
 * pool_migrate by another client (XenCenter, xapi itself), which Kiln did not ask for.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { PowerState, VmSpec } from '../../drivers/types.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session, SimError } from '../xapi-sim/rpc-client.js';
import { conformanceSuite, type ConformanceTarget, type ObservedSnapshot, type ObservedVm, type VmHandle } from './contract.js';

const TEMPLATE = 'Kiln conformance template';
const POWER: Record<string, PowerState> = { Running: 'Running', Halted: 'Stopped', Paused: 'Paused', Suspended: 'Paused' };
const NULL = 'OpaqueRef:NULL';
const MiB = 1024 * 1024;

type Rec = Record<string, unknown>;

conformanceSuite({
  label: 'XenServer (xapi simulator)',
  skipReason: () => undefined,
  readyMarker: /$^/,
  uniqueName: (tag) => `i-conf-${tag}-${randomBytes(3).toString('hex')}`,
  timeouts: { bootMs: 10_000, stopMs: 10_000, eventMs: 5_000 },
  async connect(): Promise<ConformanceTarget> {
    const { XenServerDriver } = await import('../../drivers/xenserver/index.js');
    const sim = await XapiSim.start({ hosts: 2, vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 10 });
    try {
      const admin = await Session.login(sim.url, sim.username, sim.password);
      const driver = new XenServerDriver({ eventTimeoutSeconds: 1 });
      const ep = await driver.connect({ hostId: 'conformance-xapi', url: sim.url, username: sim.username, password: sim.password, pinnedTrust: sim.thumbprint ? { kind: 'tls-certificate', fingerprint: sim.thumbprint } : undefined });
      const record = async (ref: string | undefined): Promise<Rec | undefined> => {
        if (!ref) return undefined;
        try {
          return await admin.call<Rec>('VM.get_record', ref);
        } catch (e) {
          if (e instanceof SimError && e.code === 'HANDLE_INVALID') return undefined;
          throw e;
        }
      };
      const observeVm = async (hostRef: string, handle: VmHandle): Promise<ObservedVm | undefined> => {
        const v = await record(handle.ref);
        if (!v) return undefined;
        const home = v['resident_on'] !== NULL ? v['resident_on'] : v['affinity'];
        if (home !== hostRef) return undefined;
        const metrics = v['power_state'] === 'Running' ? await admin.call<Rec>('VM_metrics.get_record', v['metrics']) : undefined;
        const disks: string[] = [];
        for (const vbd of v['VBDs'] as string[]) {
          const b = await admin.call<Rec>('VBD.get_record', vbd);
          if (b['type'] !== 'Disk' || b['VDI'] === NULL) continue;
          // "<uuid> <name_label>": the disk's identity, and the volume name Kiln gave it.
          const vdi = await admin.call<Rec>('VDI.get_record', b['VDI']);
          disks.push(`${String(vdi['uuid'])} ${String(vdi['name_label'])}`);
        }
        return {
          power: POWER[String(v['power_state'])] ?? 'Unknown',
          uuid: (v['other_config'] as Record<string, string>)['kiln_uuid'],
          cpuNumber: Number(metrics?.['VCPUs_number'] || v['VCPUs_at_startup']),
          memoryMiB: Math.round(Number(v['memory_dynamic_max']) / MiB),
          disks,
        };
      };
      return {
        driver,
        endpoints: [ep],
        unknownRef: () => 'OpaqueRef:00000000-0000-0000-0000-00000000dead',
        guest: (name): VmSpec => ({
          internalName: name, displayName: name, uuid: randomUUID(), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 128, maxCpuNumber: 2, maxMemoryMiB: 256,
          disks: [{ name: `${name}-root.vhd`, sizeBytes: 10 * 2 ** 30, device: 'disk', backingImage: TEMPLATE }], nics: [],
        }),
        async guestUp(_hostRef, handle) {
          await sim.control('vm-tools', { vm: handle.ref, tools: true });
          // The driver learns it through its event feed.
          await new Promise((resolve) => setTimeout(resolve, 300));
        },
        async platformMove(handle, toHostRef) {
          // Another client of the pool (XenCenter, xe) moves the VM: Kiln did not ask for it.
          await admin.callAsync('VM.pool_migrate', handle.ref, toHostRef, { live: 'true' });
        },
        observe: {
          vm: observeVm,
          async diskExists(_hostRef, disk) {
            try {
              await admin.call('VDI.get_by_uuid', disk.split(' ')[0]);
              return true;
            } catch (e) {
              if (e instanceof SimError && e.code === 'UUID_INVALID') return false;
              throw e;
            }
          },
          async snapshots(_hostRef, handle) {
            const v = await record(handle.ref);
            if (!v) return [];
            const all = await admin.call<Record<string, Rec>>('VM.get_all_records');
            const mine = Object.entries(all).filter(([, s]) => s['is_a_snapshot'] === true && s['snapshot_of'] === handle.ref);
            const names = new Map(mine.map(([ref, s]) => [ref, String(s['name_label'])]));
            return mine.map(([ref, s]): ObservedSnapshot => ({ name: String(s['name_label']), parent: names.get(String(s['parent'])), current: v['parent'] === ref }));
          },
        },
        async cleanup() {
          // The pool goes with the simulator in close().
        },
        async close() {
          await ep.close();
          await sim.stop();
        },
      };
    } catch (error) {
      await sim.stop();
      throw error;
    }
  },
});
