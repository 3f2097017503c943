/**
 * Deleting a template or ISO removes Kiln's copy from the hosts' storage pool (the storage
 * facet's removeImage: virsh vol-delete) on the real KVM test hosts (KILN_KVM_WORK's set; the
 * default one in CI). A forced deleteTemplate keeps the pool volume the VM's root disk is a linked
 * clone of (its backing file), and the VM's expunge removes it; deleteIso removes the ISO's volume
 * once it is detached. Only this test's own images and VM are created and deleted.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { copyName, deleteIsoRemovesCopy, forcedDeleteKeepsCopyUntilExpunge, powerOff, registerDownloaded, type CopyZone } from '../helpers/image-copies.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let server: Server;
let base: string;
const mine: string[] = [];

/** The volumes of the shared pool as each host sees it (both must agree once a copy is gone). */
function poolVolumes(host: string): string[] {
  onHost(host, 'virsh', 'pool-refresh', hosts!.poolName);
  return onHost(host, 'virsh', 'vol-list', hosts!.poolName).split('\n').slice(2).map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}
const probe = async (name: string) => poolVolumes('host1').includes(name) || poolVolumes('host2').includes(name);

describe.skipIf(!hosts)('image copies in a KVM pool (real hosts)', () => {
  let copies: CopyZone;

  beforeAll(async () => {
    const image = readFileSync(hosts!.templateImage);
    const iso = Buffer.alloc(64 * 1024);
    iso.write('\u0001CD001', 32768, 'latin1');
    server = createServer((req, res) => {
      const body = req.url === '/guest.qcow2' ? image : req.url === '/tools.iso' ? iso : undefined;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    z = await kvmZone(hosts!);
    copies = { t: z.t, zoneid: z.zoneid, serviceofferingid: z.tiny, networkid: z.network, deploy: { hostid: z.hostIds['host1']! }, probe };
  }, 120_000);

  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
    // Whatever a failed case left of this test's own images goes (the hosts share the pool's directory).
    const left = hosts ? poolVolumes('host1') : [];
    for (const volume of mine.filter((v) => left.includes(v))) onHost('host1', 'virsh', 'vol-delete', '--pool', hosts!.poolName, volume);
    for (const h of ['host1', 'host2']) onHost(h, 'virsh', 'pool-refresh', hosts!.poolName);
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  }, 300_000);

  it('publishes removeImage for both hosts', async () => {
    const listed = (await z.t.ok('listHosts', { zoneid: z.zoneid }))['host'] as { capabilities: Record<string, unknown> }[];
    expect(listed.map((h) => h.capabilities['removeImage'])).toEqual([true, true]);
  });

  it('a forced deleteTemplate keeps the pool volume the VM\'s disk is backed by; the VM\'s expunge removes it', { timeout: 240_000 }, async () => {
    const id = await registerDownloaded(z.t, 'registerTemplate', {
      name: 'kvm-copy-forced', format: 'QCOW2', hypervisor: 'KVM', zoneid: z.zoneid, url: `${base}/guest.qcow2`,
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    });
    mine.push(copyName(z.t, id));
    await forcedDeleteKeepsCopyUntilExpunge(copies, id, 'kvm-copy-user');
  });

  it('deleteIso removes the ISO\'s pool volume once it is detached', { timeout: 240_000 }, async () => {
    const vm = ((await z.t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-iso-user', hostid: z.hostIds['host1']! }))['virtualmachine'] as { id: string }).id;
    const iso = await registerDownloaded(z.t, 'registerIso', { name: 'kvm-copy-iso', zoneid: z.zoneid, url: `${base}/tools.iso` });
    mine.push(copyName(z.t, iso));
    await deleteIsoRemovesCopy(copies, iso, vm);
    await powerOff(z.t, vm);
    await z.t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
  });
});
