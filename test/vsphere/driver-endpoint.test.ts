/**
 * The vSphere driver's endpoint against vcsim: the inventory read in one bulk RetrievePropertiesEx
 * (paged) and kept by WaitForUpdatesEx (no per-object reads), the hosts behind a vCenter cluster
 * URL and a standalone host, events for changes made by another client, vCenter going away
 * (hosts disconnected, operations refused with a clear error, recovery when it returns), and a
 * changed certificate refused until accepted; one endpoint per vCenter, user and pin
 * (drivers/common/shared-connections.ts), opened once for concurrent connects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverError, type EndpointEvent } from '../../drivers/types.js';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { asMoRef, retrieveInventory, waitForTask, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { rejectionOf } from '../helpers/rejection.js';
import { recordSoapMethods } from '../helpers/soap-methods.js';

const available = vcsimOrSkip();

const driverError = (p: Promise<unknown>) => rejectionOf(p, DriverError);

const until = async (cond: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.skipIf(!available)('vSphere driver endpoint on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  const base = () => `https://${sim.info.host}:${sim.info.port}`;
  const spec = (path: string, extra: object = {}) => ({
    hostId: 'h1', url: `${base()}${path}`, username: sim.info.username, password: sim.info.password,
    pinnedTrust: { kind: 'tls-certificate' as const, fingerprint: sim.info.thumbprint }, ...extra,
  });

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '2', '-host', '3', '-standalone-host', '1', '-vm', '3', '-page-size', '7', '-shutdown-time', '100ms']);
    admin = await sim.connect();
  });
  afterAll(() => {
    admin?.close();
    sim?.stop();
  });

  it('reads the inventory in one bulk RetrievePropertiesEx (paged) and then only streams changes', async () => {
    const driver = new VsphereDriver({ pageSize: 7, maxWaitSeconds: 1 });
    // Count the SOAP methods the driver sends, by wrapping the shared transport once it exists.
    const recording = recordSoapMethods();
    const { methods } = recording;
    let ep;
    try {
      ep = await driver.connect(spec('/DC0/DC0_C0'));
    } finally {
      recording.stop();
    }
    try {
      const hosts = await ep.hosts();
      expect(hosts.map((h) => h.name)).toEqual(['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2']);
      expect(hosts.every((h) => h.connected && h.cluster === 'DC0_C0')).toBe(true);
      const vms = (await Promise.all(hosts.map((h) => ep.host(h.ref).listInstances()))).flat();
      expect(vms.map((v) => v.name).sort()).toEqual(['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_C0_RP0_VM2']);
      const inventoryReads = methods.filter((m) => m === 'RetrievePropertiesEx');
      // One bulk read; the console probe (AcquireTicket) is the only other call on an object.
      expect(inventoryReads.length).toBe(1);
      const synced = (ep as unknown as { ep: { cache: { lastSync: { objects: number } } } }).ep.cache.lastSync.objects;
      expect(synced).toBeGreaterThan(20);
      // Pages of 7: the rest of the result through ContinueRetrievePropertiesEx.
      expect(methods.filter((m) => m === 'ContinueRetrievePropertiesEx').length).toBe(Math.ceil(synced / 7) - 1);
      const before = methods.length;
      await new Promise((r) => setTimeout(r, 1500));
      // Idle: only WaitForUpdatesEx (and the stream's own setup), never a read of an object.
      expect(methods.slice(before).filter((m) => !['WaitForUpdatesEx', 'CreatePropertyCollector', 'CreateFilter', 'CreateContainerView'].includes(m))).toEqual([]);
    } finally {
      await ep.close();
    }
  });

  it('a datacenter URL gives its clusters\' hosts and the standalone one; an unknown cluster is a not-found naming url', async () => {
    const driver = new VsphereDriver();
    const ep = await driver.connect(spec('/DC0'));
    try {
      const all = await ep.hosts();
      expect(all.length).toBe(7);
      const standalone = all.filter((h) => !h.cluster?.startsWith('DC0_C'));
      expect(standalone.length).toBe(1);
      expect(standalone[0]!.connected).toBe(true);
    } finally {
      await ep.close();
    }
    const none = await driver.connect(spec('/DC0/NoSuchCluster'));
    try {
      const e = await driverError(none.hosts());
      expect(e.category).toBe('not-found');
      expect(e.details.param).toBe('url');
      expect(e.message).toContain('NoSuchCluster');
    } finally {
      await none.close();
    }
  });

  it('validateConnection: the addCluster URL needs a datacenter and a cluster, credentials are named', () => {
    const d = new VsphereDriver();
    expect(d.validateConnection({ url: 'https://vc.example.com/DC%201/C1', username: 'u', password: 'p' }, 'cluster')).toEqual({ url: 'https://vc.example.com/DC%201/C1', name: 'C1' });
    expect(d.validateConnection({ url: 'https://esxi1:8443', username: 'u', password: 'p' }, 'host')).toEqual({ url: 'https://esxi1:8443', name: 'esxi1' });
    const noCluster = (() => { try { d.validateConnection({ url: 'https://vc/DC', username: 'u', password: 'p' }, 'cluster'); } catch (e) { return e as DriverError; } })();
    expect(noCluster?.details.param).toBe('url');
    const noPw = (() => { try { d.validateConnection({ url: 'https://vc/DC/C', username: 'u' }, 'cluster'); } catch (e) { return e as DriverError; } })();
    expect(noPw?.details.param).toBe('password');
    const ssh = (() => { try { d.validateConnection({ url: 'ssh://vc/DC/C', username: 'u', password: 'p' }, 'cluster'); } catch (e) { return e as DriverError; } })();
    expect(ssh?.details.param).toBe('url');
  });

  it('two connects to one vCenter share one session and stream', async () => {
    const driver = new VsphereDriver();
    const a = await driver.connect(spec('/DC0/DC0_C0'));
    const b = await driver.connect(spec('/DC0/DC0_C1', { hostId: 'h2' }));
    try {
      expect((a as unknown as { ep: unknown }).ep).toBe((b as unknown as { ep: unknown }).ep);
      expect((await b.hosts()).map((h) => h.cluster)).toEqual(['DC0_C1', 'DC0_C1', 'DC0_C1']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('concurrent connects share one opening, an endpoint closed twice counts once, and a failed login is not kept for the next connect', async () => {
    const driver = new VsphereDriver();
    const epOf = (e: unknown) => (e as { ep: unknown }).ep;
    // Same vCenter, user and pin, wrong password: refused, and forgotten (the password is not part of the key).
    const refused = await driverError(driver.connect(spec('/DC0/DC0_C0', { password: 'not-the-password' })));
    expect(refused.message).toMatch(/^connecting to /);
    const [a, b] = await Promise.all([driver.connect(spec('/DC0/DC0_C0')), driver.connect(spec('/DC0/DC0_C1', { hostId: 'h2' }))]);
    expect(epOf(a)).toBe(epOf(b));
    await a.close();
    await a.close();
    // b still holds the session, so a new connect joins it rather than opening another.
    const c = await driver.connect(spec('/DC0/DC0_C0', { hostId: 'h3' }));
    try {
      expect(epOf(c)).toBe(epOf(b));
      expect((await c.hosts()).map((h) => h.cluster)).toEqual(['DC0_C0', 'DC0_C0', 'DC0_C0']);
    } finally {
      await b.close();
      await c.close();
    }
  });

  it('a power change made by another client arrives as an event within a second, with who caused it', async () => {
    const driver = new VsphereDriver({ maxWaitSeconds: 5 });
    const ep = await driver.connect(spec('/DC0/DC0_C0'));
    const events: EndpointEvent[] = [];
    const off = ep.onEvent((e) => events.push(e));
    try {
      const [vm] = (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).filter((v) => v.props['name'] === 'DC0_C0_RP0_VM0');
      const t0 = Date.now();
      await waitForTask(admin, asMoRef(await admin.call('PowerOffVM_Task', vm!.obj))!);
      await until(() => events.some((e) => e.kind === 'power' && e.vmRef === vm!.obj.value && e.state === 'Stopped'), 1000, 'the power event');
      console.log(`vSphere power change seen by the driver after ${Date.now() - t0} ms`);
      const ev = events.find((e) => e.kind === 'power' && e.state === 'Stopped');
      expect(ev).toMatchObject({ kind: 'power', name: 'DC0_C0_RP0_VM0', state: 'Stopped', initiator: 'guest' });
      expect(await ep.host((await ep.hosts())[0]!.ref).powerState(vm!.obj.value)).toMatch(/Stopped|Missing/);
      await waitForTask(admin, asMoRef(await admin.call('PowerOnVM_Task', vm!.obj))!);
    } finally {
      off();
      await ep.close();
    }
  });

  it('answers powerState from vCenter right after another client changed it, before its event arrives', async () => {
    const driver = new VsphereDriver({ maxWaitSeconds: 5 });
    const ep = await driver.connect(spec('/DC0/DC0_C0'));
    try {
      const [vm] = (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.host'] }])).filter((v) => v.props['name'] === 'DC0_C0_RP0_VM1');
      const session = ep.host(asMoRef(vm!.props['runtime.host'])!.value);
      expect(await session.powerState(vm!.obj.value)).toBe('Running');
      await waitForTask(admin, asMoRef(await admin.call('PowerOffVM_Task', vm!.obj))!);
      expect(await session.powerState(vm!.obj.value)).toBe('Stopped');
      await waitForTask(admin, asMoRef(await admin.call('PowerOnVM_Task', vm!.obj))!);
      expect(await session.powerState(vm!.obj.value)).toBe('Running');
    } finally {
      await ep.close();
    }
  });

  it('vCenter killed: hosts disconnected, operations refused clearly; back: connected again and in sync', async () => {
    const driver = new VsphereDriver({ maxWaitSeconds: 1 });
    const ep = await driver.connect(spec('/DC0/DC0_C0'));
    const events: EndpointEvent[] = [];
    ep.onEvent((e) => events.push(e));
    try {
      const hosts = await ep.hosts();
      let session = ep.host(hosts[0]!.ref);
      for (const h of hosts) if ((await ep.host(h.ref).listInstances()).length > 0) session = ep.host(h.ref);
      const [vm] = await session.listInstances();
      sim.kill();
      await until(() => events.some((e) => e.kind === 'connection' && e.state === 'down'), 5000, 'connection down');
      expect(events.filter((e) => e.kind === 'host' && e.state === 'disconnected').map((e) => (e as { hostRef: string }).hostRef).sort()).toEqual(hosts.map((h) => h.ref).sort());
      const refused = await driverError(session.start(vm!.ref));
      expect(refused.category).toBe('unreachable');
      expect(refused.message).toMatch(/vCenter 127\.0\.0\.1:\d+ is unreachable/);
      expect((await driverError(ep.hosts())).category).toBe('unreachable');

      sim.restart();
      await until(() => events.some((e) => e.kind === 'connection' && e.state === 'up'), 15000, 'connection up');
      expect(events.filter((e) => e.kind === 'host' && e.state === 'connected').length).toBe(hosts.length);
      // A fresh vcsim: the same inventory again, read through the re-logged-in session.
      expect((await ep.hosts()).map((h) => h.connected)).toEqual([true, true, true]);
      expect((await session.listInstances()).length).toBeGreaterThan(0);
      admin.close();
      admin = await sim.connect();
    } finally {
      await ep.close();
    }
  }, 30_000);

  it('TOFU: without a pin the presented thumbprint is reported; a changed certificate is refused until the new one is accepted', async () => {
    const driver = new VsphereDriver();
    const anchor = await driver.probeTrust(`${base()}/DC0/DC0_C0`);
    expect(anchor).toEqual({ kind: 'tls-certificate', fingerprint: sim.info.thumbprint });
    const first = await driver.connect(spec('/DC0/DC0_C0', { pinnedTrust: undefined }));
    expect(first.trust).toEqual(anchor);
    await first.close();

    sim.rekey();
    admin.close();
    const refused = await driverError(driver.connect(spec('/DC0/DC0_C0', { pinnedTrust: anchor })));
    expect(refused.category).toBe('host-key-changed');
    expect(refused.details.presented).toEqual({ kind: 'tls-certificate', fingerprint: sim.info.thumbprint });
    expect(refused.message).toContain('has changed');
    // The admin accepts the new one: connecting with it pinned works.
    const accepted = await driver.connect(spec('/DC0/DC0_C0', { pinnedTrust: refused.details.presented }));
    expect((await accepted.hosts()).length).toBe(3);
    await accepted.close();
    admin = await sim.connect();
  }, 20_000);
});
