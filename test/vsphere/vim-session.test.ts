/**
 * Sessions and trust against vcsim: login, faults by type, re-login after the server drops the
 * session, trust on first use and a changed certificate refused.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MoRef, SoapConnectionError, ThumbprintMismatchError, TlsConnectError, VimClient, VimFault, asMoRef, asObject, asString, getProperties, probeThumbprint, retrieveInventory,
} from '../../drivers/vsphere/soap/index.js';
import { SoapTransport } from '../../drivers/vsphere/soap/transport.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { rejectionOf } from '../helpers/rejection.js';

const available = vcsimOrSkip();

const fault = (p: Promise<unknown>) => rejectionOf(p, VimFault);

async function sessionKey(client: VimClient): Promise<string> {
  const props = await getProperties(client, client.sessionManager, ['currentSession']);
  return asString(asObject(props['currentSession'])['key'])!;
}

describe.skipIf(!available)('vim25 sessions and trust on vcsim', () => {
  let sim: Vcsim;
  beforeAll(() => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-vm', '1', '-standalone-host', '0']);
  });
  afterAll(() => sim?.stop());

  it('logs in and reads the service content over the pinned connection', async () => {
    const client = await sim.connect();
    try {
      expect(client.serviceContent.about.apiType).toBe('VirtualCenter');
      expect(client.serviceContent.rootFolder).toBeInstanceOf(MoRef);
      expect(client.thumbprint).toBe(sim.info.thumbprint);
      expect(await sessionKey(client)).toMatch(/^[0-9a-f-]{36}$/);
      // Keep-alive: sequential calls share one TLS connection.
      for (let i = 0; i < 10; i++) await getProperties(client, client.serviceContent.rootFolder, ['name']);
      expect(client.transport.agent.connectionsOpened).toBe(1);
      await client.logout();
      // Logged out: no credentials to log in again with, so the fault reaches the caller.
      const f = await fault(retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }]));
      expect(f.type).toBe('NotAuthenticated');
    } finally {
      client.close();
    }
  });

  it('maps faults by type: a wrong password is InvalidLogin, an unknown object ManagedObjectNotFound', async () => {
    const login = await fault(sim.connect({ password: 'not-the-password' }));
    expect(login.type).toBe('InvalidLogin');
    expect(login.method).toBe('Login');
    const client = await sim.connect();
    try {
      const nf = await fault(client.call('PowerOnVM_Task', new MoRef('VirtualMachine', 'vm-does-not-exist')));
      expect(nf.type).toBe('ManagedObjectNotFound');
      expect(nf.detail['obj']).toEqual(new MoRef('VirtualMachine', 'vm-does-not-exist'));
    } finally {
      client.close();
    }
  });

  it('logs in again once when the session is terminated from another session, and retries the call', async () => {
    const a = await sim.connect();
    const b = await sim.connect();
    try {
      const before = await sessionKey(a);
      let renewed = 0;
      a.onSessionRenewed(() => renewed++);
      const generation = a.sessionGeneration;
      await b.call('TerminateSession', b.sessionManager, { sessionId: [before] });
      // Two calls at once both meet NotAuthenticated; one re-login serves both.
      const [vms, hosts] = await Promise.all([
        retrieveInventory(a, [{ type: 'VirtualMachine', pathSet: ['name'] }]),
        retrieveInventory(a, [{ type: 'HostSystem', pathSet: ['name'] }]),
      ]);
      expect(vms.map((v) => v.props['name'])).toEqual(['DC0_C0_RP0_VM0']);
      expect(hosts).toHaveLength(2);
      expect(a.sessionGeneration).toBe(generation + 1);
      expect(renewed).toBe(1);
      expect(await sessionKey(a)).not.toBe(before);
    } finally {
      a.close();
      b.close();
    }
  });

  it('logs in again when the session expired idle (vcsim -session-idle)', async () => {
    const idle = Vcsim.start(['-cluster', '1', '-host', '1', '-vm', '1', '-standalone-host', '0', '-session-idle', '300ms']);
    const client = await idle.connect();
    try {
      const before = await sessionKey(client);
      await new Promise((r) => setTimeout(r, 1000));
      const vms = await retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }]);
      expect(vms).toHaveLength(1);
      expect(client.sessionGeneration).toBe(2);
      expect(await sessionKey(client)).not.toBe(before);
    } finally {
      client.close();
      idle.stop();
    }
  });

  it('trusts on first use: without a pin the presented thumbprint is taken, and probing shows the same one', async () => {
    expect(await probeThumbprint(sim.info.host, sim.info.port)).toBe(sim.info.thumbprint);
    const client = await sim.connect({ thumbprint: undefined });
    try {
      expect(client.thumbprint).toBe(sim.info.thumbprint);
    } finally {
      client.close();
    }
  });

  it('refuses a certificate that is not the pinned one, before sending anything, and names the one presented', async () => {
    const wrong = Array(32).fill('AB').join(':');
    let err: unknown;
    try {
      await sim.connect({ thumbprint: wrong });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ThumbprintMismatchError);
    const m = err as ThumbprintMismatchError;
    expect(m.expected).toBe(wrong);
    expect(m.presented).toBe(sim.info.thumbprint);
    expect(m.message).toContain('has changed');
  });

  it('writes no byte of the request (cookie, password) on a connection whose certificate does not match', async () => {
    // A TLS listener with vcsim's own certificate that records whatever a client sends.
    let received = 0;
    const server = tls.createServer({ cert: readFileSync(path.join(sim.workDir, 'cert.pem')), key: readFileSync(path.join(sim.workDir, 'key.pem')) }, (socket) => {
      socket.on('data', (d: Buffer) => (received += d.length));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const wrong = await VimClient.connect({ url: `https://127.0.0.1:${port}/sdk`, thumbprint: Array(32).fill('CD').join(':'), username: 'kiln', password: 'secret' }).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(ThumbprintMismatchError);
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toBe(0);
      // The same listener does receive the request once the pin matches (so the counter works).
      const right = VimClient.connect({ url: `https://127.0.0.1:${port}/sdk`, thumbprint: sim.info.thumbprint, timeoutMs: 500 }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toBeGreaterThan(0);
      await right;
    } finally {
      server.close();
    }
  });

  it('gives up on a server that accepts the connection but never does the TLS handshake', async () => {
    const silent = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const err = await VimClient.connect({ url: `https://127.0.0.1:${port}/sdk`, thumbprint: sim.info.thumbprint, timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TlsConnectError);
      expect((err as Error).message).toContain('no TLS handshake within 300 ms');
    } finally {
      silent.close();
    }
  });

  it('a kept-alive connection the server dropped while idle is replaced, and the request sent once more', async () => {
    // A server that answers the first request on a connection and resets the connection on the
    // next one, as a server closing idle keep-alive connections races with a client's request.
    let connections = 0;
    let requests = 0;
    const server = https.createServer({ cert: readFileSync(path.join(sim.workDir, 'cert.pem')), key: readFileSync(path.join(sim.workDir, 'key.pem')) }, (req, res) => {
      requests++;
      const sock = req.socket as tls.TLSSocket & { served?: boolean };
      if (sock.served) {
        sock.destroy();
        return;
      }
      sock.served = true;
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const transport = new SoapTransport({ url: `https://127.0.0.1:${port}/sdk`, thumbprint: sim.info.thumbprint });
    try {
      expect((await transport.post('<a/>')).body).toBe('ok');
      expect((await transport.post('<b/>')).body).toBe('ok');
      expect({ connections, requests }).toEqual({ connections: 2, requests: 3 });
    } finally {
      transport.close();
      server.close();
    }
  });

  it('after the server gets a new certificate, the old pin is refused and the new thumbprint is reported', async () => {
    const old = sim.info.thumbprint;
    const oldPin = await sim.connect();
    oldPin.close();
    sim.rekey();
    expect(sim.info.thumbprint).not.toBe(old);
    let err: unknown;
    try {
      await sim.connect({ thumbprint: old });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ThumbprintMismatchError);
    expect((err as ThumbprintMismatchError).presented).toBe(sim.info.thumbprint);
    // Accepting the new one (what the admin's confirmation does) connects again.
    const accepted = await sim.connect({ thumbprint: (err as ThumbprintMismatchError).presented });
    try {
      expect(asMoRef(accepted.serviceContent.rootFolder)?.type).toBe('Folder');
    } finally {
      accepted.close();
    }
  });

  it('vCenter going away: calls fail with a connection error; back on its address, the client logs in again by itself', async () => {
    const client = await sim.connect();
    try {
      await getProperties(client, client.serviceContent.rootFolder, ['name']); // a kept-alive connection is open
      sim.kill();
      const down = await getProperties(client, client.serviceContent.rootFolder, ['name']).catch((e: unknown) => e);
      expect(down).toBeInstanceOf(SoapConnectionError);
      expect((down as SoapConnectionError).host).toBe(`127.0.0.1:${sim.info.port}`);
      expect(['ECONNREFUSED', 'ECONNRESET']).toContain((down as SoapConnectionError).code);
      sim.restart();
      const generation = client.sessionGeneration;
      const vms = await retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }]);
      expect(vms.map((v) => v.props['name'])).toEqual(['DC0_C0_RP0_VM0']);
      expect(client.sessionGeneration).toBe(generation + 1);
    } finally {
      client.close();
    }
  });

  it('keeps the certificate across a plain restart, so a pinned client reconnects', async () => {
    const pinned = sim.info.thumbprint;
    sim.restart();
    expect(sim.info.thumbprint).toBe(pinned);
    const client = await sim.connect({ thumbprint: pinned });
    client.close();
  });
});
