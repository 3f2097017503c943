/**
 * A VMware zone through the API, for the engine-level vSphere tests (in-process engine or a real
 * `kiln serve`, whichever `call` reaches): a zone and pod, addCluster of vcsim's DC0_C0 with its
 * pinned thumbprint, the L2 network "VM Network" (the port group of that name, as a VMware VM
 * reaches a Kiln network), and a RAW template served over HTTP that Kiln downloads into its image
 * store (rootDiskController=pvscsi and nicAdapter=E1000 as its R30 details, dynamically scalable).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { asMoRef, asObject, retrieveInventory, type MoRef, type VimClient } from '../../drivers/vsphere/soap/index.js';
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

/** addCluster of vcsim's cluster at INVENTORY (e.g. DC0/DC0_C1, with its pinned thumbprint) as Kiln cluster NAME in the zone's pod: its id and Kiln's host ids by vCenter host name. */
export async function addVmwareCluster(call: ApiCall, sim: Vcsim, at: { zoneid: string; podid: string }, name: string, inventory: string): Promise<{ clusterid: string; hosts: Record<string, string> }> {
  const cluster = await ok(call, 'addCluster', {
    zoneid: at.zoneid, podid: at.podid, clustername: name, hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/${inventory}`,
    username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
  });
  const clusterid = (cluster['cluster'] as { id: string }).id;
  const hostList = (await ok(call, 'listHosts', { clusterid }))['host'] as { id: string; name: string }[];
  return { clusterid, hosts: Object.fromEntries(hostList.map((h) => [h.name, h.id])) };
}

/**
 * A datastore NAME made over SOAP (CreateLocalDatastore, backed by DIR) on each of vcsim's hosts
 * whose name ON accepts (vcsim itself mounts its -ds datastores on every host); the last one's moref.
 */
export async function localDatastore(admin: VimClient, name: string, dir: string, on: (host: string) => boolean): Promise<MoRef> {
  const hosts = await retrieveInventory(admin, [{ type: 'HostSystem', pathSet: ['name', 'configManager'] }]);
  let made: MoRef | undefined;
  for (const h of hosts.filter((x) => on(String(x.props['name'])))) {
    made = asMoRef(await admin.call('CreateLocalDatastore', asMoRef(asObject(h.props['configManager'])['datastoreSystem'])!, { name, path: dir }));
  }
  if (!made) throw new Error(`no host for datastore ${name}`);
  return made;
}

/** The zone "VMware Zone", its pod "VMware Pod" and vcsim's DC0_C0 as cluster C0 (addVmwareCluster): nothing else (no network, template or offering). */
export async function vmwareCluster(call: ApiCall, sim: Vcsim): Promise<{ zoneid: string; podid: string; clusterid: string; hosts: Record<string, string> }> {
  const zoneid = ((await ok(call, 'createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
  const podid = ((await ok(call, 'createPod', { name: 'VMware Pod', zoneid }))['pod'] as { id: string }).id;
  return { zoneid, podid, ...(await addVmwareCluster(call, sim, { zoneid, podid }, 'C0', 'DC0/DC0_C0')) };
}

export async function vmwareZone(call: ApiCall, sim: Vcsim, imageUrl: string): Promise<VmwareZone> {
  const { zoneid, podid, clusterid, hosts } = await vmwareCluster(call, sim);
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
  return { zoneid, podid, clusterid, networkid, templateid, offerings, hosts };
}

/** COMMAND through T, its job waited for (a call that starts none, as a refusal, is a failed job whose result is the body), and the call's HTTP status. */
export async function callJob(t: TestEngine, command: string, params: Record<string, string>): Promise<{ job: Record<string, unknown>; status: number }> {
  const res = await t.call(command, params);
  if (typeof res.body['jobid'] !== 'string') return { job: { jobstatus: 2, jobresult: res.body }, status: res.status };
  return { job: await t.engine.jobs.wait(res.body['jobid']), status: res.status };
}

/** listVirtualMachines' record of VM ID. */
export async function listedVm<T>(t: TestEngine, id: string): Promise<T> {
  return ((await t.call('listVirtualMachines', { id })).body['virtualmachine'] as T[])[0]!;
}

/** listVolumes' record of VM ID's ROOT volume. */
export async function rootVolume<T>(t: TestEngine, id: string): Promise<T> {
  return ((await t.call('listVolumes', { virtualmachineid: id, type: 'ROOT' })).body['volume'] as T[])[0]!;
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
  /** A new directory under the system's temporary one (e.g. for a datastore), removed after the suite. */
  tempDir(prefix: string): string;
}

export interface VmwareEngineSuiteOptions {
  /** Run once vcsim is up and its admin session open, before the engine and the zone (e.g. datastores made over SOAP, for addCluster to find). */
  before?: (s: VmwareEngineSuite) => Promise<void>;
  /** beforeAll's timeout (ms). */
  timeout?: number;
}

/**
 * The engine-level vSphere suite's fixture, in its describe: vcsim started with FLAGS, an admin
 * session, the image server (with MORE files), an in-process engine with the vSphere driver and
 * the VMware zone; all of it stopped afterwards (with the suite's temporary directories). The
 * fields are filled in by beforeAll.
 */
export function vmwareEngineSuite(flags: string[], more: Record<string, Buffer> = {}, options: VmwareEngineSuiteOptions = {}): VmwareEngineSuite {
  const dirs: string[] = [];
  const s = {
    tempDir: (prefix: string) => {
      const dir = mkdtempSync(path.join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  } as VmwareEngineSuite;
  beforeAll(async () => {
    s.sim = Vcsim.start(flags);
    s.admin = await s.sim.connect();
    await options.before?.(s);
    s.images = await imageServer(more);
    s.t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    s.z = await vmwareZone((c, p) => s.t.call(c, p), s.sim, s.images.url);
  }, options.timeout ?? 60_000);
  afterAll(async () => {
    await s.t?.close();
    s.admin?.close();
    await s.images?.close();
    s.sim?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return s;
}
