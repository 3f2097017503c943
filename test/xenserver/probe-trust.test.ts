/**
 * probeTrust, the "trust this certificate?" step of adding a XenServer pool: the thumbprint the
 * pool master presents (the one a connect without a pin then pins), and, for an address nothing
 * answers on, an 'unreachable' error naming it (drivers/tls-trust.ts probeCertificateTrust, which
 * the vSphere driver's probeTrust uses too).
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { XapiSim } from '../helpers/xapi-sim.js';

/** A local port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('XenServer driver: probeTrust', () => {
  let sim: XapiSim;
  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: 1 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('gives the certificate thumbprint the pool master presents, the one a first connect pins', async () => {
    const driver = new XenServerDriver();
    const anchor = await driver.probeTrust(sim.url);
    expect(anchor).toEqual({ kind: 'tls-certificate', fingerprint: sim.thumbprint });
    const ep = await driver.connect({ hostId: 'probe', url: sim.url, username: sim.username, password: sim.password });
    try {
      expect(ep.trust).toEqual(anchor);
    } finally {
      await ep.close();
    }
  });

  it("is 'unreachable', naming the address, where nothing answers", async () => {
    const port = await closedPort();
    const e = await new XenServerDriver().probeTrust(`https://127.0.0.1:${port}`).catch((x: unknown) => x);
    expect(e).toMatchObject({ category: 'unreachable' });
    expect((e as Error).message).toContain(`127.0.0.1:${port} cannot be reached for its certificate`);
  });
});
