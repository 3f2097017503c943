/**
 * The XenServer driver's image staging (StorageFacet.stageImage, images.ts) and define from an
 * image against the xapi simulator, where each failure must leave nothing behind: a second staging
 * of the same image sends nothing; a failed import or a failed completion leaves no VDI; a
 * half-made image VDI (no digest) is replaced; a QCOW2 image is imported as the raw disk it holds
 * (one Kiln cannot convert is refused before anything is made); a define
 * whose disk copy fails destroys the VM it cloned.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, HostSession, StoredImage } from '../../drivers/types.js';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

type Rec = Record<string, unknown>;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const image = (name: string, bytes: Buffer, format: StoredImage['format'] = 'raw'): StoredImage => ({
  name, format, sizeBytes: bytes.length, sha256: sha(bytes), open: () => Readable.from([bytes]),
});
/** A QCOW2 image of the store, with the random access its conversion needs. */
const qcow2Image = (name: string, bytes: Buffer): StoredImage => ({
  ...image(name, bytes, 'qcow2'),
  readAt: async (position, length) => bytes.subarray(position, position + length),
});

describe('XenServer driver: Kiln images in the pool', () => {
  let sim: XapiSim;
  let admin: Session;
  let ep: Endpoint;
  let h0: HostSession;
  const vdisNamed = async (name: string) => Object.values(await admin.call<Record<string, Rec>>('VDI.get_all_records')).filter((v) => v['name_label'] === name);
  const calls = async () => sim.control<string[]>('calls', { reset: true });

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: 2, eventTimeoutClampS: 1, taskDelayMs: 2 });
    admin = await Session.login(sim.url, sim.username, sim.password);
    ep = await new XenServerDriver({ eventTimeoutSeconds: 1 }).connect({ hostId: 'img', url: sim.url, username: sim.username, password: sim.password });
    h0 = ep.host(sim.info.hosts[0]!.ref);
  });
  afterAll(async () => {
    await ep?.close();
    await sim?.stop();
  });

  it('stages an image once per pool: a second staging (from the other host too) sends nothing', async () => {
    const img = image('tmpl-a.raw', Buffer.alloc(64 * 1024, 'a;'));
    await h0.storage!.stageImage(img);
    await calls();
    await ep.host(sim.info.hosts[1]!.ref).storage!.stageImage(img);
    expect((await calls()).filter((c) => /VDI\.create|task\.create/.test(c))).toEqual([]);
    expect((await vdisNamed('tmpl-a.raw')).map((v) => (v['other_config'] as Record<string, string>)['kiln_image_sha256'])).toEqual([img.sha256]);
  });

  it('a failed import and a failed completion leave no VDI; a half-made one is replaced by the next staging', async () => {
    const img = image('tmpl-b.raw', Buffer.alloc(32 * 1024, 'b;'));
    // The import cannot start (its task is refused): the VDI made for it goes.
    await sim.control('fault', { method: 'task.create', error: ['INTERNAL_ERROR', 'no tasks'] });
    await expect(h0.storage!.stageImage(img)).rejects.toMatchObject({ message: expect.stringContaining('no tasks') });
    expect(await vdisNamed('tmpl-b.raw')).toEqual([]);
    // The bytes are in, but marking the image complete fails: the VDI goes.
    await sim.control('fault', { method: 'VDI.add_to_other_config', error: ['INTERNAL_ERROR', 'database locked'] });
    await expect(h0.storage!.stageImage(img)).rejects.toMatchObject({ category: 'failed', message: expect.stringContaining('INTERNAL_ERROR') });
    expect(await vdisNamed('tmpl-b.raw')).toEqual([]);
    // A crash between the steps leaves a VDI of Kiln's without a digest: the next staging replaces it.
    const sr = (Object.values(await admin.call<Record<string, Rec>>('pool.get_all_records'))[0]!)['default_SR'];
    const stale = await admin.call<string>('VDI.create', { name_label: 'tmpl-b.raw', name_description: '', SR: sr, virtual_size: 4096, type: 'user', sharable: false, read_only: false, other_config: { kiln_image: 'raw' }, xenstore_data: {}, sm_config: {}, tags: [] });
    await h0.storage!.stageImage(img);
    const after = await vdisNamed('tmpl-b.raw');
    expect(after).toHaveLength(1);
    expect(after[0]!['uuid']).not.toBe(await admin.call<string>('VDI.get_uuid', stale).catch(() => 'gone'));
  });

  it('a QCOW2 image goes to xapi as the raw disk it holds; one Kiln cannot convert is refused before anything is made', async () => {
    // qemu-img writes a compressed QCOW2 of a 2 MiB disk with a hole in it.
    const dir = mkdtempSync(join(tmpdir(), 'kiln-xen-qcow2-'));
    const guest = Buffer.concat([randomBytes(512 * 1024), Buffer.alloc(1024 * 1024), Buffer.alloc(512 * 1024, 'xen-qcow2;')]);
    writeFileSync(join(dir, 'g.raw'), guest);
    execFileSync('qemu-img', ['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', join(dir, 'g.raw'), join(dir, 'g.qcow2')]);
    const file = readFileSync(join(dir, 'g.qcow2'));
    rmSync(dir, { recursive: true, force: true });
    await h0.storage!.stageImage(qcow2Image('tmpl-q.qcow2', file));
    const [vdi] = await vdisNamed('tmpl-q.qcow2');
    expect(vdi).toMatchObject({ virtual_size: guest.length });
    const ref = Object.entries(await admin.call<Record<string, Rec>>('VDI.get_all_records')).find(([, v]) => v['name_label'] === 'tmpl-q.qcow2')![0];
    expect((await sim.control<{ hidden: Rec }>('record', { ref })).hidden).toMatchObject({ sha256: sha(guest), bytes: guest.length });

    // A QCOW2 header naming a backing file: refused with the reason, no VDI made.
    const backed = Buffer.from(file);
    backed.writeBigUInt64BE(512n, 8);
    await calls();
    await expect(h0.storage!.stageImage(qcow2Image('tmpl-c.qcow2', backed))).rejects.toMatchObject({ category: 'invalid', message: expect.stringMatching(/names a backing file/) });
    expect((await calls()).filter((c) => /VDI\.create/.test(c))).toEqual([]);
  });

  it('a define whose root disk copy fails leaves no VM and no disk', async () => {
    await h0.storage!.stageImage(image('tmpl-d.raw', Buffer.alloc(4096, 'd;')));
    const vmsBefore = Object.keys(await admin.call<Record<string, Rec>>('VM.get_all_records')).length;
    await sim.control('fault', { method: 'Async.VDI.copy', error: ['SR_FULL', '1', '0'] });
    const name = `img-${randomUUID().slice(0, 8)}`;
    await expect(h0.define({ internalName: name, displayName: name, uuid: randomUUID(), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 256, disks: [{ name: `${name}.vhd`, sizeBytes: 2 ** 20, device: 'disk', backingImage: 'tmpl-d.raw' }], nics: [] }))
      .rejects.toMatchObject({ category: 'insufficient-capacity' });
    expect(Object.keys(await admin.call<Record<string, Rec>>('VM.get_all_records'))).toHaveLength(vmsBefore);
    expect(await vdisNamed(`${name}.vhd`)).toEqual([]);
  });
});
