/**
 * The simulator's PUT /import (xapi's import.ml / stream_vdi.ml) with XVAs built as `xe vm-export`
 * writes them (test/helpers/xva.ts): a good one makes a halted VM with its VDI (the bytes' digest,
 * zero chunks left out and filled in again), VBD and VIF, and the task's result is the VM; a
 * chunk with a wrong checksum, a short archive and a first member that is not ova.xml fail the
 * task with xapi's errors and leave no VM, VDI, VBD or VIF; another host's local SR is a 302 to it.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildXva } from '../helpers/xva.js';
import { decodeResponseValue } from './wire.js';
import { Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';

type Rec = Record<string, unknown>;
const MiB = 2 ** 20;

let sim: RunningSim;
let s: Session;
beforeAll(async () => {
  sim = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, hosts: 2 });
  s = await Session.login(sim.info().url, 'root', 'pw');
});
afterAll(() => sim.stop());

function put(query: string, body: Buffer): Promise<{ status: number; taskId?: string; location?: string }> {
  const url = new URL(`/import?${query}`, sim.info().url);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, taskId: res.headers['task-id'] as string | undefined, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function settled(task: string): Promise<Rec> {
  for (;;) {
    const t = await s.call<Rec>('task.get_record', task);
    if (t['status'] !== 'pending') return t;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const counts = () => Object.fromEntries(['VM', 'VDI', 'VBD', 'VIF', 'network'].map((c) => [c, sim.sim.store.count(c)]));

/** 3 MiB: a first chunk of data, a zero chunk xapi leaves out, a last chunk of data. */
function diskBytes(): Buffer {
  const b = Buffer.alloc(3 * MiB);
  b.fill(0x5a, 0, MiB);
  b.write('kiln-xva', 10, 'latin1');
  b.fill(0xa5, 2 * MiB, 3 * MiB);
  return b;
}

describe('PUT /import of an XVA', () => {
  it('imports a VM with its disk and NIC: halted, the disk\'s bytes as exported, the task\'s result the VM', async () => {
    const bytes = diskBytes();
    const { archive, members } = buildXva({ name: 'from-xva', vcpus: 2, memoryMiB: 768, os: 'Debian Bookworm 12', disks: [{ name: 'from-xva root', bytes }], nics: [{ network: 'Pool-wide network associated with eth0' }] });
    // The zero chunk in the middle is not in the archive.
    expect(members.filter((m) => m.endsWith('.xxhash')).map((m) => m.split('/')[1])).toEqual(['00000000.xxhash', '00000002.xxhash']);
    const before = counts();
    const reply = await put(`session_id=${s.ref}`, archive);
    expect(reply.status).toBe(200);
    const task = await settled(reply.taskId!);
    expect(task['status']).toBe('success');
    const [vm] = decodeResponseValue(task['result'] as string) as string[];
    const r = await s.call<Rec>('VM.get_record', vm);
    expect([r['name_label'], r['power_state'], r['VCPUs_at_startup'], r['memory_static_max'], (r['other_config'] as Rec)['base_template_name']]).toEqual(['from-xva', 'Halted', 2, 768 * MiB, 'Debian Bookworm 12']);
    const vbd = await s.call<Rec>('VBD.get_record', (r['VBDs'] as string[])[0]!);
    const vdi = await s.call<Rec>('VDI.get_record', vbd['VDI']);
    const defaultSr = (await s.call<Rec>('pool.get_record', (await s.call<string[]>('pool.get_all'))[0]))['default_SR'];
    expect([vbd['userdevice'], vbd['bootable'], vdi['name_label'], vdi['virtual_size'], vdi['SR']]).toEqual(['0', true, 'from-xva root', 3 * MiB, defaultSr]);
    expect(sim.sim.store.row('VDI', vbd['VDI']).hidden['sha256']).toBe(createHash('sha256').update(bytes).digest('hex'));
    const vif = await s.call<Rec>('VIF.get_record', (r['VIFs'] as string[])[0]!);
    expect(await s.call('network.get_name_label', vif['network'])).toBe('Pool-wide network associated with eth0');
    expect(counts()).toEqual({ ...before, VM: before['VM']! + 1, VDI: before['VDI']! + 1, VBD: before['VBD']! + 1, VIF: before['VIF']! + 1 });
  });

  it('a chunk whose checksum is wrong fails the task (IMPORT_ERROR naming the block) and leaves nothing behind', async () => {
    const { archive } = buildXva({ name: 'corrupt-xva', disks: [{ name: 'corrupt root', bytes: diskBytes() }], nics: [{ network: 'a network the pool lacks' }] });
    // A byte of the first chunk's data changed after its checksum was written.
    const at = archive.indexOf(Buffer.from('kiln-xva', 'latin1'));
    archive[at] ^= 0xff;
    const before = counts();
    const task = await settled((await put(`session_id=${s.ref}`, archive)).taskId!);
    expect(task['status']).toBe('failure');
    expect(task['error_info']).toEqual(['IMPORT_ERROR', expect.stringMatching(/^Block Ref:\d+\/00000000 checksum failed: original = [0-9A-F]{16}; recomputed = [0-9A-F]{16}$/)]);
    expect(counts()).toEqual(before);
    expect(await s.call<string[]>('VM.get_by_name_label', 'corrupt-xva')).toEqual([]);
    expect(await s.call<string[]>('network.get_by_name_label', 'a network the pool lacks')).toEqual([]);
  });

  it('a short archive is IMPORT_ERROR_PREMATURE_EOF, another first member IMPORT_ERROR_UNEXPECTED_FILE; nothing is left', async () => {
    const { archive } = buildXva({ name: 'short-xva', disks: [{ name: 'short root', bytes: diskBytes() }] });
    const before = counts();
    const short = await settled((await put(`session_id=${s.ref}`, archive.subarray(0, archive.length - 2 * MiB))).taskId!);
    expect([short['status'], short['error_info']]).toEqual(['failure', ['IMPORT_ERROR_PREMATURE_EOF']]);
    const renamed = Buffer.from(archive);
    renamed.write('ova.txt', 0, 'latin1');
    const unexpected = await settled((await put(`session_id=${s.ref}`, renamed)).taskId!);
    expect([unexpected['status'], unexpected['error_info']]).toEqual(['failure', ['IMPORT_ERROR_UNEXPECTED_FILE', 'ova.xml', 'ova.txt']]);
    expect(counts()).toEqual(before);
  });

  it('no session is a 401; another host\'s local SR is a redirect to that host', async () => {
    const { archive } = buildXva({ name: 'x', disks: [{ name: 'x', bytes: Buffer.alloc(MiB) }] });
    expect((await put('session_id=OpaqueRef:nope', archive)).status).toBe(401);
    const h2 = (await s.call<string[]>('host.get_all'))[1]!;
    const local2 = (await s.call<string[]>('SR.get_by_name_label', `Local storage on ${await s.call<string>('host.get_name_label', h2)}`))[0]!;
    const moved = await put(`session_id=${s.ref}&sr_id=${local2}`, archive);
    expect(moved.status).toBe(302);
    expect(new URL(moved.location!).hostname).toBe(await s.call('host.get_address', h2));
  });
});
