/**
 * deleteTemplate and deleteIso with Debian's `cs` client against a real `kiln serve` on the
 * simulator: a downloaded ISO and template are deleted (gone from listIsos/listTemplates, their
 * copy in the zone's image store removed), an ISO still downloading too (no partial file left); a template a VM uses and an ISO a VM has attached are
 * refused with the VM named and nothing changed, until forced=true for the template; another
 * account's image is a 531, an unknown id or a built-in template a 431, each leaving the state as
 * it was.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { csClient, csError } from '../helpers/cs-client.js';

let kiln: KilnProcess;
let dir: string;
let server: Server;
let base: string;
const cs = csClient(() => kiln);
const ids: Record<string, string> = {};
let asUser: Record<string, string>;

/** What a delete writes: the image rows and the VMs that name them. */
function dbState(): string {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return JSON.stringify([db.prepare('SELECT id, uuid, state, removed, store_path FROM templates ORDER BY id').all(), db.prepare('SELECT id, template_id, iso_id, state FROM vm_instances ORDER BY id').all()]);
  } finally {
    db.close();
  }
}

function storePath(uuid: string): string {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT store_path FROM templates WHERE uuid=?').pluck().get(uuid) as string;
  } finally {
    db.close();
  }
}

async function register(command: 'registerIso' | 'registerTemplate', name: string, path: string): Promise<string> {
  const extra = command === 'registerTemplate' ? ['format=QCOW2', 'hypervisor=Simulator'] : [];
  const res = await cs([command, `name=${name}`, `url=${base}${path}`, `zoneid=${ids['zone']}`, `ostypeid=${ids['os']}`, ...extra]);
  const key = command === 'registerIso' ? 'iso' : 'template';
  const id = (res.json[key] as { id: string }[])[0]!.id;
  const list = command === 'registerIso' ? ['listIsos', 'isofilter=all'] : ['listTemplates', 'templatefilter=all'];
  for (let i = 0; i < 200; i++) {
    const row = ((await cs([...list, `id=${id}`])).json[key] as { isready: boolean; status: string }[])[0]!;
    if (row.isready) return id;
    if (row.status.startsWith('Download Failed')) throw new Error(row.status);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} never became ready`);
}

const listed = async (command: 'listIsos' | 'listTemplates', id: string) => {
  const res = await cs([command, command === 'listIsos' ? 'isofilter=all' : 'templatefilter=all', `id=${id}`]);
  return ((res.json[command === 'listIsos' ? 'iso' : 'template'] as unknown[] | undefined) ?? []).length;
};

describe('cs: deleteTemplate and deleteIso against kiln serve', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-cs-image-delete-'));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'README.TXT'), 'Kiln delete test ISO\n');
    execFileSync('genisoimage', ['-quiet', '-V', 'KILN_DELETE', '-o', join(dir, 'disc.iso'), join(dir, 'root')]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'disk.qcow2'), '64M']);
    const files: Record<string, Buffer> = { '/disc.iso': readFileSync(join(dir, 'disc.iso')), '/disk.qcow2': readFileSync(join(dir, 'disk.qcow2')) };
    server = createServer((req, res) => {
      // A download that never finishes: a first chunk of a 64 MiB body, then nothing.
      if (req.url === '/stalled.iso') return void res.writeHead(200, { 'content-length': String(64 << 20) }).write(Buffer.alloc(64 * 1024));
      const body = files[req.url ?? ''];
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    ids['builtin'] = ((await cs(['listTemplates', 'templatefilter=executable', 'name=Debian 12'])).json['template'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await cs(['listServiceOfferings', 'name=Small Instance'])).json['serviceoffering'] as { id: string }[])[0]!.id;
    ids['os'] = ((await cs(['listOsTypes', 'description=Other Linux (64-bit)'])).json['ostype'] as { id: string }[])[0]!.id;
    const created = await cs(['createAccount', 'username=del-user', 'password=del-pw-1', 'email=del@example.org', 'firstname=Del', 'lastname=User', '--post']);
    const user = (created.json['account'] as { user: { id: string }[] }).user[0]!;
    const keys = (await cs(['registerUserKeys', `id=${user.id}`])).json['userkeys'] as { apikey: string; secretkey: string };
    asUser = { CLOUDSTACK_KEY: keys.apikey, CLOUDSTACK_SECRET: keys.secretkey };
  });
  afterAll(async () => {
    kiln?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('deletes a downloaded ISO: gone from listIsos and from the image store', async () => {
    const id = await register('registerIso', 'to-delete', '/disc.iso');
    const file = storePath(id);
    expect(existsSync(file)).toBe(true);
    const res = await cs(['deleteIso', `id=${id}`]);
    expect(res.code).toBe(0);
    expect(res.json).toMatchObject({ success: true });
    expect(await listed('listIsos', id)).toBe(0);
    expect(existsSync(file)).toBe(false);
    const events = (await cs(['listEvents', 'type=ISO.DELETE'])).json['event'] as { description: string }[];
    expect(events.map((e) => e.description)).toContain('ISO to-delete deleted');
  });

  it('deletes an ISO while it downloads: the download stops and leaves no partial file', async () => {
    const res = await cs(['registerIso', 'name=stalled', `url=${base}/stalled.iso`, `zoneid=${ids['zone']}`, `ostypeid=${ids['os']}`]);
    const id = (res.json['iso'] as { id: string }[])[0]!.id;
    const storeDir = join(kiln.dataDir, 'image-store', `zone-${ids['zone']}`);
    const partial = () => (existsSync(storeDir) ? readdirSync(storeDir).filter((f) => f.startsWith(id)) : []);
    await expect.poll(partial, { timeout: 10_000 }).toEqual([`${id}.iso.part`]);
    const deleted = await cs(['deleteIso', `id=${id}`]);
    expect(deleted.json).toMatchObject({ success: true });
    expect(await listed('listIsos', id)).toBe(0);
    expect(partial()).toEqual([]);
  });

  it('refuses a template a VM uses and an ISO a VM has attached, naming the VM, with nothing changed; forced=true deletes the template', async () => {
    const template = await register('registerTemplate', 'used-template', '/disk.qcow2');
    const iso = await register('registerIso', 'attached-iso', '/disc.iso');
    const vm = (await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${template}`, `serviceofferingid=${ids['offering']}`, 'name=uses-it'])).json['virtualmachine'] as { id: string };
    expect((await cs(['attachIso', `id=${iso}`, `virtualmachineid=${vm.id}`])).code).toBe(0);
    const templateFile = storePath(template);
    const before = dbState();

    const inUse = await cs(['deleteTemplate', `id=${template}`]);
    expect(csError(inUse)).toMatchObject({ errorcode: 431, errortext: 'id: template used-template is used by VM uses-it; expunge them first, or give forced=true' });
    const attached = await cs(['deleteIso', `id=${iso}`]);
    expect(csError(attached)).toMatchObject({ errorcode: 431, errortext: 'id: ISO attached-iso is attached to VM uses-it; detach it first' });
    expect(dbState()).toBe(before);
    expect(await listed('listTemplates', template)).toBe(1);
    expect(await listed('listIsos', iso)).toBe(1);
    expect(existsSync(templateFile)).toBe(true);

    const forced = await cs(['deleteTemplate', `id=${template}`, 'forced=true']);
    expect(forced.json).toMatchObject({ success: true });
    expect(await listed('listTemplates', template)).toBe(0);
    expect(existsSync(templateFile)).toBe(false);
    // The VM made from it keeps running.
    expect(((await cs(['listVirtualMachines', `id=${vm.id}`])).json['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
  });

  it("refuses another account's image (531), an unknown id and a built-in template (431), with nothing changed", async () => {
    const iso = await register('registerIso', 'admins-iso', '/disc.iso');
    const before = dbState();
    const others = await cs(['deleteIso', `id=${iso}`], asUser);
    expect(csError(others)).toMatchObject({ errorcode: 531, errortext: 'Account del-user does not have permission to access ISO admins-iso' });
    // A public template the user can see and deploy from is still not theirs to delete.
    const publicOne = await cs(['deleteTemplate', `id=${ids['builtin']}`], asUser);
    expect(csError(publicOne).errorcode).toBe(531);
    const unknown = await cs(['deleteTemplate', 'id=00000000-0000-4000-8000-000000000000']);
    expect(csError(unknown)).toMatchObject({ errorcode: 431, errortext: expect.stringContaining('Invalid parameter id value=00000000-0000-4000-8000-000000000000') });
    const types = ((await cs(['listTemplates', 'templatefilter=all'])).json['template'] as { name: string; templatetype: string }[]).map((t) => `${t.name}:${t.templatetype}`);
    expect(types).toContain('Debian 12:BUILTIN');
    const builtIn = await cs(['deleteTemplate', `id=${ids['builtin']}`]);
    expect(csError(builtIn)).toMatchObject({ errorcode: 431, errortext: 'id: template Debian 12 is built in and cannot be deleted' });
    const wrongKind = await cs(['deleteTemplate', `id=${iso}`]);
    expect(csError(wrongKind)).toMatchObject({ errorcode: 431, errortext: `id: ${iso} is an ISO; use deleteIso` });
    expect(dbState()).toBe(before);
    expect(await listed('listIsos', iso)).toBe(1);
  });
});
