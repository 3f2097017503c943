/**
 * The XenServer driver's storage and import facets against the xapi simulator, below the engine:
 * each host session's primary storage is the pool's shared SR (CLUSTER, the default) and its own
 * local SR (HOST), never another host's; its inventory lists the same SRs; a VM with a disk on a
 * host's local SR is listed by that host's ImportFacet with its disk on that SR; importArchive
 * sends an XVA to /import and the VM is that host's, halted and named; a corrupt one is xapi's
 * error and leaves no VM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import type { Endpoint, StoredImage } from '../../drivers/types.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { buildXva } from '../helpers/xva.js';
import { Session } from '../xapi-sim/rpc-client.js';
import { Readable } from 'node:stream';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('XenServer driver: local SRs and XVA import (xapi simulator)', () => {
  let sim: XapiSim;
  let ep: Endpoint;
  let x: Session;
  const refs: Record<string, string> = {};

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xs-a' }, { name: 'xs-b' }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    x = await Session.login(sim.url, sim.username, sim.password);
    ep = await new XenServerDriver({ eventTimeoutSeconds: 1 }).connect({ hostId: 'local-srs', url: sim.url, username: sim.username, password: sim.password });
    for (const h of await ep.hosts()) refs[h.name] = h.ref;
  }, 60_000);
  afterAll(async () => {
    await ep?.close();
    await sim?.stop();
  });

  it('each host\'s primary storage: the shared SR (CLUSTER, default) and its own local SR (HOST), not the other host\'s', async () => {
    for (const [name, other] of [['xs-a', 'xs-b'], ['xs-b', 'xs-a']] as const) {
      const session = ep.host(refs[name]!);
      const pools = (await session.primaryStorage!.pools()).map((p) => ({ name: p.name, scope: p.scope, type: p.type, capacityBytes: p.capacityBytes, isDefault: p.isDefault ?? false }));
      expect(pools.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: `Local storage on ${name}`, scope: 'HOST', type: 'LVM', capacityBytes: 500 * GiB, isDefault: false },
        { name: 'NFS virtual disk storage', scope: 'CLUSTER', type: 'NetworkFilesystem', capacityBytes: 2048 * GiB, isDefault: true },
      ]);
      const inventory = (await session.inventory()).storagePools.map((p) => [p.name, p.shared]);
      expect(inventory).not.toContainEqual([`Local storage on ${other}`, false]);
      expect(inventory).toContainEqual([`Local storage on ${name}`, false]);
    }
  });

  const archive = (bytes: Buffer, name: string): StoredImage => ({ name, format: 'raw', sizeBytes: bytes.length, sha256: '', open: () => Readable.from([bytes]) });

  it('importArchive brings an XVA in as a halted VM of the host, named; ImportFacet lists it with its disk and NIC', async () => {
    const disk = Buffer.alloc(2 * MiB, 0x11);
    const { archive: xva } = buildXva({ name: 'exported', vcpus: 2, memoryMiB: 256, os: 'Debian Bookworm 12', disks: [{ name: 'imported root', bytes: disk }], nics: [{ network: 'Pool-wide network associated with eth0' }] });
    const facet = ep.host(refs['xs-b']!).import!;
    const ref = await facet.importArchive!(archive(xva, 'exported.xva'), { name: 'brought-in' });
    expect([await x.call('VM.get_name_label', ref), await x.call('VM.get_power_state', ref), await x.call('VM.get_affinity', ref)]).toEqual(['brought-in', 'Halted', refs['xs-b']]);
    const listed = (await facet.list()).find((i) => i.ref === ref)!;
    expect({ name: listed.name, cpus: listed.cpuNumber, memory: listed.memoryMiB, os: listed.osDisplayName, power: listed.powerState }).toEqual({ name: 'brought-in', cpus: 2, memory: 256, os: 'Debian Bookworm 12', power: 'Stopped' });
    expect(listed.disks.map((d) => [d.label, d.capacityBytes, d.position, d.datastore])).toEqual([['imported root', 2 * MiB, 0, (await x.call<string[]>('SR.get_by_name_label', 'NFS virtual disk storage'))[0]]]);
    expect(listed.nics.map((n) => [n.networkName, n.adapterType, n.pciSlot])).toEqual([['Pool-wide network associated with eth0', 'netfront', '0']]);
    // Another host does not list it.
    expect((await ep.host(refs['xs-a']!).import!.list()).map((i) => i.ref)).not.toContain(ref);
  });

  it('a corrupt XVA is xapi\'s error and leaves no VM', async () => {
    const { archive: xva } = buildXva({ name: 'broken', disks: [{ name: 'broken root', bytes: Buffer.alloc(MiB, 0x22) }] });
    xva[xva.indexOf(Buffer.alloc(64, 0x22))] ^= 0xff;
    const before = (await x.call<string[]>('VM.get_all')).length;
    await expect(ep.host(refs['xs-a']!).import!.importArchive!(archive(xva, 'broken.xva'), { name: 'broken' })).rejects.toThrow(/IMPORT_ERROR \[Block Ref:\d+\/00000000 checksum failed/);
    expect((await x.call<string[]>('VM.get_all')).length).toBe(before);
  });
});
