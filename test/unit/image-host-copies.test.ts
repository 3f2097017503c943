/**
 * A deleted template's or ISO's copies on hosts (images/host-copies.ts), on the simulator: an
 * image no VM uses leaves no copy on the hosts' storage; a forced deleteTemplate keeps the copy
 * its VM still uses, written down, and removes it with the VM's expunge; a delete while every host
 * is down settles at once (the image gone from the API, the copies written down with the hosts'
 * error, a WARN event naming them) and the copies go when the hosts connect again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import { TINY_QCOW2, tinyIso } from '../helpers/tiny-images.js';

const ISO = tinyIso();
const QCOW2 = TINY_QCOW2;

let t: TestEngine;
let server: Server;
let base: string;
let ids: ReturnType<typeof demoIds>;
let os: string;

const staged = () => Object.keys(t.engine.simulator.world.images).sort();
const pending = () => t.engine.db.prepare('SELECT h.name AS host, r.image_name AS image, r.last_error AS reason FROM image_copy_removals r JOIN hosts h ON h.id=r.host_id ORDER BY h.name').all() as { host: string; image: string; reason: string }[];
const events = (type: string) => ((t.engine.db.prepare('SELECT level, description FROM events WHERE type=? ORDER BY id').all(type)) as { level: string; description: string }[]);
const simHosts = () => t.engine.db.prepare(`SELECT name FROM hosts WHERE hypervisor='Simulator' AND removed IS NULL`).pluck().all() as string[];

async function register(kind: 'ISO' | 'QCOW2', name: string): Promise<string> {
  const command = kind === 'ISO' ? 'registerIso' : 'registerTemplate';
  const extra: Record<string, string> = kind === 'ISO' ? {} : { format: 'QCOW2', hypervisor: 'Simulator' };
  const body = await t.ok(command, { name, url: `${base}/${kind === 'ISO' ? 'disc.iso' : 'disk.qcow2'}`, zoneid: ids.zoneid, ostypeid: os, ...extra });
  const id = (body[kind === 'ISO' ? 'iso' : 'template'] as { id: string }[])[0]!.id;
  await t.engine.images.wait(t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').pluck().get(id) as number);
  return id;
}

const deploy = async (params: Record<string, string>) =>
  ((await t.job('deployVirtualMachine', { zoneid: ids.zoneid, serviceofferingid: ids.small, ...params }))['virtualmachine'] as { id: string }).id;
const imageName = (id: string) => t.engine.db.prepare('SELECT image_path FROM templates WHERE uuid=?').pluck().get(id) as string;

describe('host copies of deleted images (simulator)', () => {
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = req.url === '/disc.iso' ? ISO : req.url === '/disk.qcow2' ? QCOW2 : undefined;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await testEngine();
    ids = demoIds(t.engine);
    os = t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).pluck().get() as string;
  });
  afterAll(async () => {
    await t?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('publishes removeImage as a host capability', async () => {
    const hosts = (await t.ok('listHosts', { type: 'Routing' }))['host'] as { capabilities: Record<string, unknown> }[];
    expect(hosts.length).toBeGreaterThan(0);
    for (const h of hosts) expect(h.capabilities['removeImage']).toBe(true);
  });

  it('deleteIso and deleteTemplate remove the copies hosts made of an image no VM uses', async () => {
    const iso = await register('ISO', 'copy-iso');
    const template = await register('QCOW2', 'copy-tmpl');
    const vm = await deploy({ templateid: template, name: 'copy-user' });
    await t.job('attachIso', { id: iso, virtualmachineid: vm });
    expect(staged()).toEqual(expect.arrayContaining([imageName(iso), imageName(template)]));
    await t.job('detachIso', { virtualmachineid: vm });
    await t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
    const isoName = imageName(iso);
    const templateName = imageName(template);
    await t.job('deleteIso', { id: iso });
    await t.job('deleteTemplate', { id: template });
    expect(staged()).not.toContain(isoName);
    expect(staged()).not.toContain(templateName);
    expect(pending()).toEqual([]);
  });

  it('a forced deleteTemplate keeps the copy its VM uses, written down, and removes it when the VM is expunged', async () => {
    const template = await register('QCOW2', 'forced-tmpl');
    const name = imageName(template);
    const vm = await deploy({ templateid: template, name: 'keeps-copy' });
    const refused = await t.call('deleteTemplate', { id: template });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toBe('id: template forced-tmpl is used by VM keeps-copy; expunge them first, or give forced=true');
    const done = await t.run('deleteTemplate', { id: template, forced: 'true' });
    expect(done['jobstatus']).toBe(1);
    expect(((await t.ok('listTemplates', { templatefilter: 'all', id: template }))['template'] as unknown[] | undefined) ?? []).toEqual([]);
    expect(staged()).toContain(name);
    expect(pending().map((p) => p.reason)).toEqual(simHosts().map(() => 'used by VM keeps-copy'));
    expect(events('TEMPLATE.DELETE').at(-1)).toMatchObject({ level: 'WARN', description: expect.stringMatching(/^template forced-tmpl: its copy is still to remove on host sim-host-\d \(used by VM keeps-copy\)/) });
    await t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
    expect(staged()).not.toContain(name);
    expect(pending()).toEqual([]);
    expect(events('TEMPLATE.DELETE').at(-1)).toMatchObject({ level: 'INFO', description: expect.stringMatching(/^template forced-tmpl: its copy on host sim-host-\d removed \(left before: used by VM keeps-copy\)/) });
  });

  it('a delete while the hosts are down settles at once and the copies go when the hosts connect again', async () => {
    const iso = await register('ISO', 'down-iso');
    const name = imageName(iso);
    const vm = await deploy({ templateid: ids.templateid, name: 'iso-stager' });
    await t.job('attachIso', { id: iso, virtualmachineid: vm });
    await t.job('detachIso', { virtualmachineid: vm });
    await t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
    expect(staged()).toContain(name);
    for (const h of simHosts()) t.engine.simulator.setHostUp(h, false);
    try {
      const done = await t.run('deleteIso', { id: iso });
      expect(done['jobstatus']).toBe(1);
      expect(((await t.ok('listIsos', { isofilter: 'all', id: iso }))['iso'] as unknown[] | undefined) ?? []).toEqual([]);
      expect(t.engine.db.prepare('SELECT state, removed IS NOT NULL AS gone FROM templates WHERE uuid=?').get(iso)).toEqual({ state: 'Inactive', gone: 1 });
      expect(staged()).toContain(name);
      expect(pending()).toEqual(simHosts().sort().map((host) => ({ host, image: name, reason: expect.stringContaining(`simulated host ${host} is down`) })));
      expect(events('ISO.DELETE').at(-1)).toMatchObject({ level: 'WARN', description: expect.stringContaining(`ISO down-iso: its copy is still to remove on host`) });
      // Still down: the sweep leaves them written down.
      await t.engine.background.sweep();
      expect(pending()).toHaveLength(simHosts().length);
    } finally {
      for (const h of simHosts()) t.engine.simulator.setHostUp(h, true);
    }
    // A host that connects again does what it owes (no sweep needed): one reconnect removes the
    // shared copy, and the other hosts' rows go as each of them connects.
    const hostIds = t.engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='Simulator' AND removed IS NULL ORDER BY id`).pluck().all() as number[];
    for (const id of hostIds) {
      await t.engine.hosts.drop(id);
      await t.engine.hosts.session(id);
    }
    await expect.poll(pending).toEqual([]);
    expect(staged()).not.toContain(name);
    expect(events('ISO.DELETE').at(-1)).toMatchObject({ level: 'INFO', description: expect.stringMatching(/^ISO down-iso: its copy on host sim-host-\d removed \(left before: .*simulated host sim-host-\d is down\)$/) });
  });
});
