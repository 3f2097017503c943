/**
 * The driver conformance suite on the simulator. The independent view of the hosts is the
 * simulator's world file (simulator.json), read afresh from disk on every look, not the
 * driver's objects in memory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { SimDomain, SimHost } from '../../drivers/simulator/world.js';
import type { VmSpec } from '../../drivers/types.js';
import { conformanceSuite, type ConformanceTarget } from './contract.js';

const HOSTS = ['conf-a', 'conf-b'];

interface SavedWorld {
  hosts: Record<string, SimHost>;
  disks?: Record<string, string>;
}

conformanceSuite({
  label: 'Simulator',
  skipReason: () => undefined,
  readyMarker: /KILN-GUEST-READY/,
  uniqueName: (tag) => `sim-${tag}-${randomBytes(3).toString('hex')}`,
  timeouts: { bootMs: 5_000, stopMs: 5_000, eventMs: 2_000 },
  async connect(): Promise<ConformanceTarget> {
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-conformance-sim-'));
    const stateFile = path.join(dir, 'simulator.json');
    const driver = new SimulatorDriver({ stateFile });
    const endpoints = await Promise.all(HOSTS.map((name) => driver.connect({ hostId: `conformance-${name}`, url: `simulator://${name}?cpus=8&memory=16384` })));
    const world = () => JSON.parse(readFileSync(stateFile, 'utf8')) as SavedWorld;
    // A simulated host's ref is its name; a VM's is its domain name.
    const domain = (host: string, name: string): SimDomain | undefined => world().hosts[host]?.domains[name];
    return {
      driver,
      endpoints,
      guest: (name): VmSpec => ({
        internalName: name,
        displayName: `conformance ${name}`,
        uuid: randomUUID(),
        cpuNumber: 1,
        cpuSpeedMhz: 1000,
        memoryMiB: 128,
        maxCpuNumber: 2,
        maxMemoryMiB: 256,
        disks: [{ name: `${name}-root`, sizeBytes: 64 * 1024 * 1024, device: 'disk', bus: 'virtio' }],
        nics: [{ macAddress: '52:54:00:00:00:01', network: 'sim-bridge' }],
      }),
      async platformMove(handle, toHostRef) {
        // The simulator's stand-in for DRS or xapi HA moving a VM by itself (a host's ref is its name).
        const from = HOSTS.find((h) => domain(h, handle.name));
        if (!from) throw new Error(`${handle.name} is on no simulated host`);
        driver.platformMigrate(handle.name, from, toHostRef);
      },
      observe: {
        async vm(host, vm) {
          const d = domain(host, vm.name);
          if (!d) return undefined;
          return { power: d.power, uuid: d.spec.uuid, cpuNumber: d.spec.cpuNumber, memoryMiB: d.spec.memoryMiB, disks: d.spec.disks.filter((x) => x.device === 'disk').map((x) => x.name) };
        },
        async diskExists(_host, disk) {
          return Object.prototype.hasOwnProperty.call(world().disks ?? {}, disk);
        },
        async snapshots(host, vm) {
          return (domain(host, vm.name)?.snapshots ?? []).map((s) => ({ name: s.name, parent: s.parent, current: s.current }));
        },
      },
      async cleanup() {
        // The world lives in a private directory that close() removes.
      },
      async close() {
        await Promise.all(endpoints.map((e) => e.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
