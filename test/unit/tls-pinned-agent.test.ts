/**
 * PinnedAgent's handshake deadline must end with the handshake: a request timeout on a kept-alive
 * socket is the request's own ("no answer"), never reported as a TLS handshake that did not finish.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinnedAgent, ThumbprintTrust } from '../../drivers/tls-trust.js';

let dir: string;
let server: https.Server;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    // /slow never answers within the client's timeout; anything else answers at once.
    if (req.url === '/slow') setTimeout(() => res.end('late'), 2_000).unref();
    else res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(agent: PinnedAgent, path: string, timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, agent, timeout }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', reject);
  });
}

describe('PinnedAgent', () => {
  it('a request that times out on a reused socket reports its own timeout, not a TLS handshake', async () => {
    const agent = new PinnedAgent(new ThumbprintTrust());
    try {
      expect(await get(agent, '/', 300)).toBe('ok');
      expect(agent.connectionsOpened).toBe(1);
      const error = await get(agent, '/slow', 300).then(() => undefined, (e: unknown) => e as Error);
      expect(agent.connectionsOpened).toBe(1); // the kept-alive socket was reused
      expect(error?.message).toBe('no answer within 300 ms');
    } finally {
      agent.destroy();
    }
  });
});
