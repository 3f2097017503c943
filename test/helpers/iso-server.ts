/**
 * An ISO registered in a KVM test zone the way a user registers one: served over http on
 * 127.0.0.1 (registerIso takes a URL), downloaded into the zone's image store, waited for.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KvmZone } from './kvm-zone.js';

export interface RegisteredIso {
  id: string;
  /** The volume the ISO becomes in the host's pool on first use (for the test to delete). */
  volume: string;
  /** Stops serving it. */
  close(): Promise<void>;
}

export async function registerServedIso(z: KvmZone, name: string, iso: Buffer): Promise<RegisteredIso> {
  const server = createServer((req, res) => {
    if (req.url !== '/image.iso') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': String(iso.length) }).end(iso);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  try {
    const os = (z.t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).get() as { uuid: string }).uuid;
    const res = await z.t.call('registerIso', { name, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/image.iso`, zoneid: z.zoneid, ostypeid: os });
    if (res.status !== 200) throw new Error(`registerIso: ${JSON.stringify(res.body)}`);
    const id = (res.body['iso'] as { id: string }[])[0]!.id;
    await z.t.engine.images.wait((z.t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').get(id) as { id: number }).id);
    return { id, volume: `kiln-iso-${id}.iso`, close };
  } catch (error) {
    await close();
    throw error;
  }
}
