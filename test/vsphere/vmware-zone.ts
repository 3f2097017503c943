/**
 * A VMware zone through the API, for the engine-level vSphere tests (in-process engine or a real
 * `kiln serve`, whichever `call` reaches): a zone and pod, addCluster of vcsim's DC0_C0 with its
 * pinned thumbprint, the L2 network "VM Network" (the port group of that name, as a VMware VM
 * reaches a Kiln network), and a RAW template served over HTTP that Kiln downloads into its image
 * store (rootDiskController=pvscsi and nicAdapter=E1000 as its R30 details, dynamically scalable).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { VimClient } from '../../drivers/vsphere/soap/index.js';
import { afterAll, beforeAll } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Vcsim } from '../helpers/vcsim.js';

export type ApiCall = (command: string, params?: Record<string, string>) => Promise<{ status: number; body: Record<string, unknown> }>;

/** A RAW disk image (no qcow2 header): 1 MiB of a repeating pattern, so its copy on the datastore can be compared byte for byte. */
export const RAW_IMAGE = Buffer.alloc(1024 * 1024, 'kiln-vmware-template;');
export const RAW_SHA256 = createHash('sha256').update(RAW_IMAGE).digest('hex');

/** An ISO 9660 image as Kiln's image check sees one (the CD001 volume descriptor at sector 16). */
export const ISO_IMAGE = (() => {
  const iso = Buffer.alloc(64 * 1024);
  iso[32768] = 1;
  iso.write('CD001', 32769, 'latin1');
  return iso;
})();

/** Serves RAW_IMAGE at /disk.img, ISO_IMAGE at /boot.iso and MORE (path → bytes) on 127.0.0.1 (the image store downloads them). */
export async function imageServer(more: Record<string, Buffer> = {}): Promise<{ url: string; isoUrl: string; base: string; close(): Promise<void> }> {
  const files: Record<string, Buffer> = { '/disk.img': RAW_IMAGE, '/boot.iso': ISO_IMAGE, ...more };
  const server: Server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `${base}/disk.img`, isoUrl: `${base}/boot.iso`, base, close: () => new Promise((r) => server.close(() => r())) };
}

export interface VmwareZone {
  zoneid: string;
  podid: string;
  clusterid: string;
  networkid: string;
  templateid: string;
  offerings: Record<string, string>;
  /** Kiln's host ids by vCenter host name. */
  hosts: Record<string, string>;
}

async function ok(call: ApiCall, command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await call(command, params);
  if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function vmwareZone(call: ApiCall, sim: Vcsim, imageUrl: string): Promise<VmwareZone> {
  const zoneid = ((await ok(call, 'createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
  const podid = ((await ok(call, 'createPod', { name: 'VMware Pod', zoneid }))['pod'] as { id: string }).id;
  const cluster = await ok(call, 'addCluster', {
    zoneid, podid, clustername: 'C0', hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
    username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
  });
  const clusterid = (cluster['cluster'] as { id: string }).id;
  const hostList = (await ok(call, 'listHosts', { clusterid }))['host'] as { id: string; name: string }[];
  const networkid = ((await ok(call, 'createNetwork', { name: 'VM Network', zoneid, guestiptype: 'L2' }))['network'] as { id: string }).id;
  const ostypeid = ((await ok(call, 'listOsTypes', {}))['ostype'] as { id: string }[])[0]!.id;
  const registered = await ok(call, 'registerTemplate', {
    name: 'vmw-tmpl', displaytext: 'VMware template', format: 'RAW', hypervisor: 'VMware', ostypeid, url: imageUrl, zoneid,
    checksum: `{SHA-256}${RAW_SHA256}`, isdynamicallyscalable: 'true', size: String(RAW_IMAGE.length),
    'details[0].rootDiskController': 'pvscsi', 'details[0].nicAdapter': 'E1000',
  });
  const templateid = (registered['template'] as { id: string }[])[0]!.id;
  for (let i = 0; ; i++) {
    const t = ((await ok(call, 'listTemplates', { templatefilter: 'all', id: templateid }))['template'] as { isready: boolean; status: string }[])[0]!;
    if (t.isready) break;
    if (i > 200) throw new Error(`template not ready: ${t.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const offerings = Object.fromEntries(((await ok(call, 'listServiceOfferings', {}))['serviceoffering'] as { id: string; name: string }[]).map((o) => [o.name, o.id]));
  return { zoneid, podid, clusterid, networkid, templateid, offerings, hosts: Object.fromEntries(hostList.map((h) => [h.name, h.id])) };
}

/** A file on vcsim's datastore DS (DC0), read over its file service with ADMIN's session: what Kiln uploaded there. */
export function datastoreGet(sim: Vcsim, path: string, admin: VimClient, ds = 'LocalDS_0'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: sim.info.host, port: sim.info.port, path: `/folder/${path}?dcPath=DC0&dsName=${ds}`, rejectUnauthorized: false, headers: { Cookie: `vmware_soap_session=${admin.transport.sessionCookie}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

/** What vmwareEngineSuite gives its tests once beforeAll has run. */
export interface VmwareEngineSuite {
  sim: Vcsim;
  /** An admin session of vcsim's own, to check what vCenter holds. */
  admin: VimClient;
  t: TestEngine;
  z: VmwareZone;
  images: Awaited<ReturnType<typeof imageServer>>;
}

/**
 * The engine-level vSphere suite's fixture, in its describe: vcsim started with FLAGS, an admin
 * session, the image server (with MORE files), an in-process engine with the vSphere driver and
 * the VMware zone; all of it stopped afterwards. The fields are filled in by beforeAll.
 */
export function vmwareEngineSuite(flags: string[], more: Record<string, Buffer> = {}): VmwareEngineSuite {
  const s = {} as VmwareEngineSuite;
  beforeAll(async () => {
    s.sim = Vcsim.start(flags);
    s.admin = await s.sim.connect();
    s.images = await imageServer(more);
    s.t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    s.z = await vmwareZone((c, p) => s.t.call(c, p), s.sim, s.images.url);
  }, 60_000);
  afterAll(async () => {
    await s.t?.close();
    s.admin?.close();
    await s.images?.close();
    s.sim?.stop();
  });
  return s;
}
