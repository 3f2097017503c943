/**
 * Issue 16, "many hosts at once" (bench P10): the HA and reconcile pass reuses each KVM host's one
 * SSH connection and its virsh shell. Counted, never timed: across passes no host is connected
 * again; a warm pass opens no exec channel on any host (its reads go through the running shell);
 * a cold pass reaches each host with one connection and starts virsh there only as the shell and
 * the event stream, never as an exec or a script per read. The power-state listing the pass uses
 * agrees with the full listing for a domain the test defines.
 */
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { SshConnection } from '../../drivers/kvm/ssh-connection.js';
import type { KvmSession } from '../../drivers/kvm/session.js';
import { cleanup, guestSpec, uniqueName } from '../kvm/real-hosts.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let connects: MockInstance;
let execs: MockInstance;
let channels: MockInstance;

/** The command lines of exec and channel calls made since the spies were last cleared. */
const lines = (spy: MockInstance) => spy.mock.calls.map((call) => String(call[0]));
const hostIds = () => z.t.engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='KVM' AND removed IS NULL ORDER BY id`).pluck().all() as number[];
const sessionOf = async (id: number) => (await z.t.engine.hosts.session(id)) as KvmSession;

describe.skipIf(!hosts)('the HA pass over pooled KVM connections', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!);
    connects = vi.spyOn(SshConnection.prototype as unknown as { connectOnce(): Promise<unknown> }, 'connectOnce');
    execs = vi.spyOn(SshConnection.prototype, 'exec');
    channels = vi.spyOn(SshConnection.prototype, 'openChannel');
  }, 120_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    if (z) await cleanUp(z.t);
    await z?.t.close();
  }, 120_000);

  it('warm passes reuse each host connection and start no process on the hosts', async () => {
    await z.t.engine.background.ha.pass();
    vi.clearAllMocks();
    for (let i = 0; i < 3; i++) await z.t.engine.background.ha.pass();
    expect(connects).not.toHaveBeenCalled();
    expect(lines(execs)).toEqual([]);
    expect(lines(channels)).toEqual([]);
    for (const id of hostIds()) expect((await sessionOf(id)).virsh.shell!.starts).toBe(1);
    const states = z.t.engine.db.prepare(`SELECT state FROM hosts WHERE hypervisor='KVM'`).pluck().all();
    expect(states).toEqual(hostIds().map(() => 'Up'));
  });

  it('a cold pass connects once per host and starts virsh only as the shell and the event stream', async () => {
    for (const id of hostIds()) await z.t.engine.hosts.drop(id);
    vi.clearAllMocks();
    await z.t.engine.background.ha.pass();
    expect(connects).toHaveBeenCalledTimes(hostIds().length);
    // Two long-lived channels per host: the virsh shell and `virsh event --loop`.
    const opened = lines(channels).map((line) => (line.includes(' event --loop') ? 'event stream' : line.includes('TERM=dumb') ? 'shell' : line));
    expect(opened.sort()).toEqual(hostIds().flatMap(() => ['event stream', 'shell']).sort());
    // No read as its own virsh process, and no batch script: what the host was asked by exec is not virsh.
    expect(lines(execs).filter((line) => /\bvirsh\b|VIRSH=/.test(line))).toEqual([]);
    for (const id of hostIds()) expect((await sessionOf(id)).virsh.shell!.starts).toBe(1);
  });

  it('lists a defined domain with the same name, UUID and state as the full listing', async () => {
    const session = await sessionOf(hostIds()[0]!);
    const name = uniqueName('power');
    try {
      await session.define(guestSpec(hosts!, name));
      const full = (await session.listInstances()).find((i) => i.name === name);
      const power = (await session.listPowerStates()).find((i) => i.name === name);
      expect(full).toMatchObject({ ref: name, powerState: 'Stopped' });
      expect(full?.uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(power).toEqual({ ref: name, name, uuid: full!.uuid, powerState: 'Stopped' });
    } finally {
      await cleanup([session], name);
    }
  });
});
