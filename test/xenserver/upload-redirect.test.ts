/**
 * The xapi transport's PUT to another host of the pool (transport.put's origin, which the client
 * uses to follow /import's 302 to a member): the connection there is pinned by the same trust as
 * the master's, so a member presenting the pool's certificate gets the request, and one presenting
 * another certificate is refused at the handshake with ThumbprintMismatchError, before a byte of
 * the request (its session and task in the query) is written. Two local HTTPS servers, each with
 * its own self-signed certificate (the simulator's makeCertificate).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonRpcTransport } from '../../drivers/xenserver/xapi/transport.js';
import { ThumbprintMismatchError } from '../../drivers/tls-trust.js';
import { makeCertificate } from '../xapi-sim/server.js';

interface Seen { method?: string; url?: string; bytes: number }

function server(cert: { key: string; cert: string }, seen: Seen[]): https.Server {
  return https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const s: Seen = { method: req.method, url: req.url, bytes: 0 };
    seen.push(s);
    // As import.ml: the 200 first, then the body is read.
    res.writeHead(200, { 'task-id': 'OpaqueRef:task', connection: 'close' });
    res.flushHeaders();
    req.on('data', (c: Buffer) => (s.bytes += c.length));
    req.on('end', () => res.end());
  });
}

describe('PUT to another host of the pool, pinned like the master', () => {
  const poolCert = makeCertificate(['127.0.0.1', '127.0.0.2']);
  const otherCert = makeCertificate(['127.0.0.3']);
  const seen: Record<string, Seen[]> = { master: [], member: [], stranger: [] };
  const servers: Record<string, https.Server> = {};
  const port = (name: string) => (servers[name]!.address() as AddressInfo).port;

  beforeAll(async () => {
    servers['master'] = server(poolCert, seen['master']!);
    servers['member'] = server(poolCert, seen['member']!);
    servers['stranger'] = server(otherCert, seen['stranger']!);
    await Promise.all([['master', '127.0.0.1'], ['member', '127.0.0.2'], ['stranger', '127.0.0.3']].map(([name, address]) => new Promise<void>((r) => servers[name!]!.listen(0, address, r))));
  });
  afterAll(() => Object.values(servers).forEach((s) => s.close()));

  it('a member with the pool\'s certificate gets the body after its 200; one with another certificate is refused before the request is sent', async () => {
    const transport = new JsonRpcTransport({ url: `https://127.0.0.1:${port('master')}`, thumbprint: poolCert.thumbprint });
    const body = () => Readable.from([Buffer.alloc(4096, 7)]);
    const toMember = await transport.put('/import?session_id=OpaqueRef:s&task_id=OpaqueRef:t', body, 4096, { origin: new URL(`https://127.0.0.2:${port('member')}`), headersFirst: true });
    expect([toMember.status, toMember.taskId]).toEqual([200, 'OpaqueRef:task']);
    expect(seen['member']).toEqual([{ method: 'PUT', url: '/import?session_id=OpaqueRef:s&task_id=OpaqueRef:t', bytes: 4096 }]);
    const refused = await transport.put('/import?session_id=OpaqueRef:s&task_id=OpaqueRef:t', body, 4096, { origin: new URL(`https://127.0.0.3:${port('stranger')}`), headersFirst: true }).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ThumbprintMismatchError);
    expect((refused as ThumbprintMismatchError).presented).toBe(otherCert.thumbprint);
    expect(seen['stranger']).toEqual([]);
    expect(seen['master']).toEqual([]);
    transport.close();
  });
});
