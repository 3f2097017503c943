/**
 * Debian's `cs` client registers a template by URL against a real `kiln serve`, as a CloudStack
 * user would: the answer says not ready, listTemplates shows the download's status until it is
 * complete, and a VM deploys from it. Host paths and file:// get CloudStack's 431 with the
 * parameter named. A `kill -9` of the server mid-download leaves no download "in progress" for
 * ever: the restarted server downloads it again.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
let server: Server;
let base: string;
/** While true, /slow.qcow2 sends half and then waits. */
let holdSlow = true;

/** A qcow2 header (what Kiln checks) and LENGTH bytes in all. */
function qcow2(length: number): Buffer {
  const image = Buffer.alloc(length);
  image.writeUInt32BE(0x514649fb, 0);
  image.writeUInt32BE(3, 4);
  image.writeBigUInt64BE(BigInt(256 * 1024 * 1024), 24);
  image.writeUInt32BE(104, 100);
  for (let i = 4096; i < length; i += 4096) image.writeUInt32BE(i, i);
  return image;
}
const image = qcow2(2 * 1024 * 1024);
const sha256 = createHash('sha256').update(image).digest('hex');

const cs = csClient(() => kiln);

async function first<T>(args: string[], key: string): Promise<T> {
  const res = await cs(args);
  const list = res.json[key] as T[] | undefined;
  if (!list?.[0]) throw new Error(`${args[0]}: ${JSON.stringify(res.json)}`);
  return list[0];
}

interface Template { id: string; isready: boolean; status: string }

async function untilReady(id: string, timeoutMs = 30_000): Promise<Template> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await first<Template>(['listTemplates', 'templatefilter=self', `id=${id}`], 'template');
    if (t.isready || /Failed/.test(t.status) || Date.now() > deadline) return t;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('registering a template by URL with the cs client', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/guest.qcow2' && req.url !== '/slow.qcow2') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(image.length) });
      if (req.url === '/slow.qcow2' && holdSlow) return void res.write(image.subarray(0, image.length / 2));
      res.end(image);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = (await first<{ id: string }>(['listZones'], 'zone')).id;
    ids['os'] = (await first<{ id: string }>(['listOsTypes', 'description=Other Linux (64-bit)'], 'ostype')).id;
    ids['offering'] = (await first<{ id: string }>(['listServiceOfferings', 'name=Small Instance'], 'serviceoffering')).id;
  }, 60_000);

  afterAll(async () => {
    await kiln?.stop();
    // The restarted server was given the data dir, so stop() leaves it; the test owns it.
    if (kiln) rmSync(kiln.dataDir, { recursive: true, force: true });
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const register = (name: string, url: string, extra: string[] = []) =>
    cs(['registerTemplate', `name=${name}`, `displaytext=${name}`, 'format=QCOW2', 'hypervisor=Simulator', `ostypeid=${ids['os']}`, `zoneid=${ids['zone']}`, `url=${url}`, ...extra]);

  it('downloads it, shows the status until it is ready, and deploys a VM from it', async () => {
    const res = await register('cs-guest', `${base}/guest.qcow2`, [`checksum={SHA-256}${sha256}`]);
    expect(res.code).toBe(0);
    const registered = (res.json['template'] as Template[])[0]!;
    expect(registered.isready).toBe(false);
    const ready = await untilReady(registered.id);
    expect(ready).toMatchObject({ isready: true, status: 'Download Complete', checksum: `{SHA-256}${sha256}`, size: 256 * 1024 * 1024 });
    const deployed = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${registered.id}`, `serviceofferingid=${ids['offering']}`, 'name=cs-from-url']);
    expect(deployed.json['virtualmachine']).toMatchObject({ state: 'Running', templateid: registered.id });
  });

  it('refuses host paths and file:// with 431 naming url', async () => {
    for (const [url, text] of [['/etc/shadow', /^url: host paths are disabled/], ['file:///etc/passwd', /^url: file:\/\/ URLs are refused/], ['/dev/sda', /^url: device paths/]] as const) {
      const res = await register('cs-hostile', url);
      expect(res.code).not.toBe(0);
      const error = Object.values(res.json)[0] as { errorcode: number; errortext: string };
      expect(error.errorcode).toBe(431);
      expect(error.errortext).toMatch(text);
    }
  });

  it('downloads again after the server is killed mid-download (kill -9), instead of staying in progress', { timeout: 90_000 }, async () => {
    const res = await register('cs-slow', `${base}/slow.qcow2`);
    const id = (res.json['template'] as Template[])[0]!.id;
    const deadline = Date.now() + 10_000;
    let status = '';
    while (status !== '50% Downloaded' && Date.now() < deadline) {
      status = (await first<Template>(['listTemplates', 'templatefilter=self', `id=${id}`], 'template')).status;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('50% Downloaded');
    kiln.child.kill('SIGKILL');
    await new Promise((r) => kiln.child.once('exit', r));
    holdSlow = false;
    const dataDir = kiln.dataDir;
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    const after = await untilReady(id);
    expect(after).toMatchObject({ isready: true, status: 'Download Complete' });
  });
});
