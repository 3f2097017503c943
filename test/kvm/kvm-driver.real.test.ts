/**
 * The KVM driver against real libvirt/QEMU hosts (test/kvm-hosts/hosts.sh setup). Skipped, with a
 * message, only when hosts.json does not exist. Every domain has a unique name and is removed
 * afterwards; nothing else on the hosts is touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvmSession } from '../../drivers/kvm/index.js';
import { buildXml } from '../../drivers/kvm/xml.js';
import { DriverError } from '../../drivers/types.js';
import { ConsoleTap, EventLog, HOSTS_JSON, HOSTS_SH, cleanup, connect, currentFingerprint, guestSpec, loadHosts, randomMac, sleep, uniqueName, waitUntil, type HostsJson } from './real-hosts.js';

const hosts = loadHosts();
if (!hosts) console.warn(`KVM driver real-host tests skipped: ${HOSTS_JSON} not found (run test/kvm-hosts/hosts.sh setup to create the hosts)`);
// The space after the name: the console arrives in chunks, and a chunk may end inside the name
// (CI once matched 'kx' of 'kx-evt-…'); the banner goes on with ' uuid=…'.
const READY = /KILN-GUEST-READY hostname=(\S+) /;

/** Milliseconds since T, for the timing notes the tests print. */
const since = (t: number) => Date.now() - t;
const timings: string[] = [];
const note = (label: string, ms: number) => timings.push(`${label}: ${(ms / 1000).toFixed(2)} s`);
/**
 * How long one boot may take to print its banner, and so the bound of each wait for one. A case's
 * own timeout is its boots' worth of that: vitest's 120 s default ended the life-cycle case (five
 * boots) in CI while the guests of four shards booted under TCG on two cores, with every step
 * still within its own bound.
 */
const BOOT_MS = 90_000;
const boots = (n: number) => ({ timeout: n * BOOT_MS + 60_000 });

describe.skipIf(!hosts)('KVM driver on real hosts', () => {
  const h = hosts as HostsJson;
  let s1: KvmSession;
  let s2: KvmSession;
  const created: string[] = [];

  beforeAll(async () => {
    s1 = await connect(h, 0);
    s2 = await connect(h, 1);
  });

  afterAll(async () => {
    // Bounded: when a host vanished mid-run (hosts.sh stop-host), every call waits for a reconnect.
    await Promise.race([Promise.all(created.map((name) => cleanup([s1, s2].filter(Boolean), name))), sleep(90_000)]);
    await s1?.close();
    await s2?.close();
    if (timings.length) console.log(`KVM driver timings:\n  ${timings.join('\n  ')}`);
  });

  /** Defines and starts NAME on SESSION with the console attached from the first byte. */
  async function boot(session: KvmSession, name: string, spec = guestSpec(h, name)): Promise<ConsoleTap> {
    created.push(name);
    const t = Date.now();
    await session.define(spec);
    note(`define ${name}`, since(t));
    const t2 = Date.now();
    await session.start(name);
    note('start', since(t2));
    const tap = new ConsoleTap(await session.openConsole(name));
    const banner = await tap.waitFor(READY, BOOT_MS);
    note('start -> KILN-GUEST-READY on the console', since(t2));
    expect(banner[1]).toBe(name);
    return tap;
  }

  it('trusts the host key on first use and refuses a changed one', async () => {
    const expected = currentFingerprint(h.hosts[0]!);
    expect(s1.hostKeyFingerprint).toBe(expected);
    expect(s1.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);

    const pinned = await connect(h, 0, { pinnedHostKey: expected });
    expect(pinned.hostKeyFingerprint).toBe(expected);
    await pinned.close();

    const wrong = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const error = await connect(h, 0, { pinnedHostKey: wrong }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).category).toBe('host-key-changed');
    expect((error as DriverError).message).toContain(wrong);
    expect((error as DriverError).message).toContain(expected);
  });

  it('reads the host inventory', async () => {
    const t = Date.now();
    const inventory = await s1.inventory();
    note('inventory', since(t));
    expect(inventory.hostname).toBe(h.hosts[0]!.name);
    expect(inventory.cpuNumber).toBeGreaterThan(0);
    expect(inventory.memoryTotalMiB).toBeGreaterThan(0);
    expect(inventory.hypervisorVersion).toMatch(/QEMU .*libvirt/);
    expect(inventory.storagePools.map((p) => p.name)).toContain(h.poolName);
    expect(inventory.pciDevices.length).toBeGreaterThan(0);
  });

  it('defines and starts a guest from the template, talks to its console, and powers it off every way', boots(5), async () => {
    const name = uniqueName('life');
    const events = new EventLog();
    s1.onEvent(events.listener);
    const spec = guestSpec(h, name);
    const tap = await boot(s1, name, spec);

    // Kiln's display name survives libvirt verbatim (it is escaped, not interpreted).
    const dom = await s1.domain(name);
    expect(dom.displayName).toBe(spec.displayName);
    expect(dom.type).toBe('qemu');
    expect(await s1.powerState(name)).toBe('Running');
    const listed = (await s1.listInstances()).find((i) => i.name === name);
    expect(listed).toMatchObject({ powerState: 'Running', cpuNumber: 1, memoryMiB: 128 });
    expect(listed?.disks[0]).toMatchObject({ id: 'vda', capacityBytes: 64 * 1024 * 1024, imagePath: path.join(h.storagePath, `${name}-root.qcow2`) });
    expect(listed?.nics[0]?.macAddress).toBe(spec.nics[0]?.macAddress);

    // Typed input reaches the guest; its disk is a linked clone of the template.
    await tap.run('echo KILN-ECHO-$((6*7))', /^KILN-ECHO-42$/m);
    await tap.run('head -c 16 /dev/vda; echo', /^KILN-TEMPLATE-V1$/m);

    // VNC through the SSH connection: the RFB greeting arrives on the local port.
    const vnc = await s1.forwardVnc(name);
    const greeting = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(vnc.port, '127.0.0.1');
      socket.once('data', (d) => {
        resolve(d.toString('latin1'));
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(greeting).toMatch(/^RFB 003\.00\d/);
    await vnc.close();

    // ISO in and out of the (always present) CD-ROM drive of a running domain.
    await s1.attachIso(name, h.initrd);
    expect((await s1.domain(name)).disks.find((d) => d.device === 'cdrom')?.path).toBe(h.initrd);
    await s1.detachIso(name);
    expect((await s1.domain(name)).disks.find((d) => d.device === 'cdrom')?.path).toBeUndefined();

    // Graceful stop: ACPI, the guest powers itself off.
    let t = Date.now();
    const mark = Date.now();
    await s1.stop(name, { timeoutMs: 60_000 });
    note('stop (ACPI) until shut off', since(t));
    expect(await s1.powerState(name)).toBe('Stopped');
    await tap.waitFor(/KILN-GUEST-POWEROFF/, 5_000);
    await events.waitFor((e) => e.kind === 'power' && e.name === name && e.state === 'Stopped' && e.reason === 'shutdown', 15_000, mark);

    // Define again (as the engine does on every start) and start; then a forced stop.
    await s1.define(spec);
    await s1.start(name);
    const tap2 = new ConsoleTap(await s1.openConsole(name));
    await tap2.waitFor(READY, BOOT_MS);
    t = Date.now();
    const mark2 = Date.now();
    await s1.stop(name, { forced: true });
    note('forced stop', since(t));
    expect(await s1.powerState(name)).toBe('Stopped');
    await events.waitFor((e) => e.kind === 'power' && e.name === name && e.state === 'Stopped' && e.reason === 'destroyed', 15_000, mark2);

    // Reboot (ACPI) and reset both bring the banner back, and the domain stays running.
    await s1.start(name);
    const tap3 = new ConsoleTap(await s1.openConsole(name));
    await tap3.waitFor(READY, BOOT_MS);
    let from = tap3.mark();
    t = Date.now();
    await s1.reboot(name);
    await tap3.waitFor(READY, BOOT_MS, from);
    note('reboot until the next banner', since(t));
    expect(await s1.powerState(name)).toBe('Running');
    from = tap3.mark();
    t = Date.now();
    await s1.reset(name);
    await tap3.waitFor(READY, BOOT_MS, from);
    note('reset until the next banner', since(t));
    tap3.close();

    // Destroy removes the domain, its disk volume and its serial log.
    const serialLog = path.join(h.hosts[0]!.stateDir, 'log', 'qemu', `${name}-serial.log`);
    expect(readFileSync(serialLog, 'utf8')).toMatch(READY);
    t = Date.now();
    await s1.destroy(name, { removeDisks: 'all' });
    note('destroy + undefine + vol-delete', since(t));
    expect(await s1.powerState(name)).toBe('Missing');
    expect(existsSync(path.join(h.storagePath, `${name}-root.qcow2`))).toBe(false);
    expect((await s1.listInstances()).some((i) => i.name === name)).toBe(false);
    expect(existsSync(serialLog)).toBe(false);
  });

  it('takes, lists, reverts and deletes snapshots with memory', boots(2), async () => {
    const name = uniqueName('snap');
    const tap = await boot(s1, name);
    await tap.run('echo state-A > /tmp/marker; echo WROTE-A', /^WROTE-A$/m);
    let t = Date.now();
    await s1.createSnapshot(name, { name: 's1', description: 'first <one> & "quoted"', withMemory: true });
    note('snapshot with memory (s1)', since(t));
    await tap.run('echo state-B > /tmp/marker; echo WROTE-B', /^WROTE-B$/m);
    await s1.createSnapshot(name, { name: 's2', withMemory: true });

    const list = await s1.listSnapshots(name);
    const s1Info = list.find((s) => s.name === 's1');
    const s2Info = list.find((s) => s.name === 's2');
    expect(s1Info).toMatchObject({ parent: undefined, withMemory: true, current: false, description: 'first <one> & "quoted"' });
    expect(s2Info).toMatchObject({ parent: 's1', withMemory: true, current: true });

    // A disk-only snapshot of a running domain could never be reverted: refused up front.
    await expect(s1.createSnapshot(name, { name: 'nomem', withMemory: false })).rejects.toMatchObject({ category: 'unsupported' });

    t = Date.now();
    await s1.revertSnapshot(name, 's1');
    note('revert to s1 (restarts qemu)', since(t));
    expect(await s1.powerState(name)).toBe('Running');
    // Reverting restarts qemu, which ends the old console session.
    tap.close();
    const again = new ConsoleTap(await s1.openConsole(name));
    await again.runPatiently('cat /tmp/marker', /^state-A$/m);
    expect((await s1.listSnapshots(name)).find((s) => s.current)?.name).toBe('s1');

    // libvirt will not migrate a domain with snapshot records; the driver moves them beside it.
    again.close();
    await s1.migrate(name, { session: s2 });
    const moved = await s2.listSnapshots(name);
    expect(moved.map((s) => [s.name, s.parent, s.current, s.withMemory])).toEqual([['s1', undefined, true, true], ['s2', 's1', false, true]]);
    await expect(s1.listSnapshots(name)).rejects.toMatchObject({ category: 'not-found' });
    const there = new ConsoleTap(await s2.openConsole(name));
    await there.runPatiently('echo state-C > /tmp/marker; echo WROTE-C', /^WROTE-C$/m);
    there.close();
    await s2.revertSnapshot(name, 's2');
    const afterRevert = new ConsoleTap(await s2.openConsole(name));
    await afterRevert.runPatiently('cat /tmp/marker', /^state-B$/m);
    afterRevert.close();

    await s2.deleteSnapshot(name, 's2');
    expect((await s2.listSnapshots(name)).map((s) => s.name)).toEqual(['s1']);
    await s2.deleteSnapshot(name, 's1');
    expect(await s2.listSnapshots(name)).toEqual([]);
    await expect(s2.deleteSnapshot(name, 's1')).rejects.toMatchObject({ category: 'not-found' });
    await s2.destroy(name);
  });

  it('scales vCPUs up and memory live, refuses vCPU hot-unplug, and live-migrates host1 -> host2', boots(2), async () => {
    const name = uniqueName('mig');
    const tap = await boot(s1, name);
    let t = Date.now();
    await s1.scale(name, { cpuNumber: 2, memoryMiB: 200 }, true);
    note('scale live (2 vCPUs, 200 MiB)', since(t));
    const scaled = await s1.domain(name);
    expect(scaled.vcpusCurrent).toBe(2);
    expect((await s1.domain(name, true)).currentMemoryKiB).toBe(200 * 1024);
    // The live figure follows once the balloon driver in the guest has caught up.
    await waitUntil('the balloon to reach 200 MiB', async () => Math.abs((await s1.domain(name)).currentMemoryKiB - 200 * 1024) <= 1024, 20_000);
    await waitUntil('the guest to online its second vCPU', async () => {
      const m = await tap.run('echo CPUS=$(grep -c ^processor /proc/cpuinfo)', /^CPUS=(\d+)$/m);
      return m[1] === '2';
    }, 30_000);
    await expect(s1.scale(name, { cpuNumber: 1 }, true)).rejects.toMatchObject({ category: 'unsupported' });
    await expect(s1.scale(name, { cpuNumber: 3 }, true)).rejects.toMatchObject({ category: 'invalid' });
    await expect(s1.scale(name, { memoryMiB: 512 }, true)).rejects.toMatchObject({ category: 'invalid' });

    await tap.run('echo still-here > /tmp/marker; echo WROTE', /^WROTE$/m);
    tap.close();
    const events2 = new EventLog();
    s2.onEvent(events2.listener);
    t = Date.now();
    await s1.migrate(name, { session: s2 }, { live: true });
    note('live migrate host1 -> host2', since(t));
    expect(await s2.powerState(name)).toBe('Running');
    expect(await s1.powerState(name)).toBe('Missing');
    // Serial output now goes to host2's log; host1's copy is gone.
    expect(existsSync(path.join(h.hosts[0]!.stateDir, 'log', 'qemu', `${name}-serial.log`))).toBe(false);
    expect(existsSync(path.join(h.hosts[1]!.stateDir, 'log', 'qemu', `${name}-serial.log`))).toBe(true);
    await events2.waitFor((e) => e.kind === 'power' && e.name === name && e.state === 'Running' && e.reason === 'migrated', 15_000);

    // Same guest, same memory: the marker is still there and nothing rebooted.
    const tap2 = new ConsoleTap(await s2.openConsole(name));
    await tap2.runPatiently('cat /tmp/marker', /^still-here$/m).catch((error: unknown) => {
      const log = readFileSync(path.join(h.hosts[1]!.stateDir, 'log', 'qemu', `${name}-serial.log`), 'utf8');
      throw new Error(`${String(error)}\n--- serial log on ${h.hosts[1]!.name}:\n${log.slice(-2000)}`);
    });
    expect(tap2.text).not.toMatch(READY);
    tap2.close();

    t = Date.now();
    await s2.destroy(name, { removeDisks: 'all' });
    note('destroy on host2 (after migration)', since(t));
    expect(await s2.powerState(name)).toBe('Missing');
    expect(existsSync(path.join(h.storagePath, `${name}-root.qcow2`))).toBe(false);
  });

  it('reports a crash when qemu is killed and a guest-initiated power-off', boots(2), async () => {
    const name = uniqueName('evt');
    const events = new EventLog();
    s1.onEvent(events.listener);
    const tap = await boot(s1, name);
    tap.close();

    let t = Date.now();
    execFileSync(HOSTS_SH, ['kill-qemu', h.hosts[0]!.name, name], { stdio: 'ignore' });
    const crash = await events.waitFor((e) => e.kind === 'power' && e.name === name && e.state === 'Stopped', 20_000, t);
    note('kill-qemu -> crash event', since(t));
    expect(crash).toMatchObject({ reason: 'crashed' });
    expect(await s1.powerState(name)).toBe('Stopped');

    await s1.start(name);
    const tap2 = new ConsoleTap(await s1.openConsole(name));
    await tap2.waitFor(READY, BOOT_MS);
    t = Date.now();
    tap2.type('poweroff -f');
    const off = await events.waitFor((e) => e.kind === 'power' && e.name === name && e.state === 'Stopped', 30_000, t);
    note('guest "poweroff -f" -> event', since(t));
    expect(off).toMatchObject({ reason: 'shutdown' });
    tap2.close();
    await s1.destroy(name, { removeDisks: 'all' });
  });

  it('notices power changes the event stream missed (reconcile)', boots(2), async () => {
    const name = uniqueName('rec');
    // A second session whose event stream is cut right away: only the reconcile reports.
    const watcher = await connect(h, 0);
    try {
      const tap = await boot(s1, name);
      tap.close();
      const events = new EventLog();
      watcher.onEvent(events.listener);
      // Give the reconcile a round to learn the domain, then kill the stream.
      await sleep(2_500);
      watcher.watcher.disableStream();
      const t = Date.now();
      await s1.stop(name, { forced: true });
      const seen = await events.waitFor((e) => e.kind === 'power' && e.name === name && e.state === 'Stopped', 20_000, t);
      note('reconcile noticed a stop', since(t));
      expect(seen).toMatchObject({ reason: 'destroyed' });
    } finally {
      await watcher.close();
      await cleanup([s1], name);
    }
  });

  it('attaches NICs to a libvirt network the host has, and to user-mode networking otherwise', async () => {
    const name = uniqueName('net');
    const network = uniqueName('n');
    const bridge = `kx${network.slice(-8)}`;
    // A transient isolated network (no <ip>: this host has no dnsmasq); gone after net-destroy.
    await s1.virsh.run(['net-create', '--file', '/dev/stdin'], { stdin: buildXml({ network: { name: network, bridge: { '@_name': bridge, '@_stp': 'off' } } }) });
    try {
      expect((await s1.inventory()).networks).toContainEqual({ name: network, bridge });
      const spec = guestSpec(h, name, { nics: [{ macAddress: randomMac(), network }, { macAddress: randomMac(), network: 'no-such-network' }] });
      created.push(name);
      await s1.define(spec);
      await s1.start(name);
      const listed = (await s1.listInstances()).find((i) => i.name === name);
      expect(listed?.nics.map((n) => [n.macAddress, n.networkName])).toEqual([
        [spec.nics[0]?.macAddress, network],
        [spec.nics[1]?.macAddress, 'user'],
      ]);
      const dom = await s1.domain(name);
      expect(dom.nics.map((n) => n.type)).toEqual(['network', 'user']);
      await s1.destroy(name, { removeDisks: 'all' });
    } finally {
      await cleanup([s1], name);
      await s1.virsh.tryRun(['net-destroy', '--network', network]);
    }
  });

  it('maps virsh errors onto driver categories with virsh\'s own message', async () => {
    const missing = uniqueName('none');
    expect(await s1.powerState(missing)).toBe('Missing');
    const error = await s1.start(missing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).category).toBe('not-found');
    expect((error as DriverError).message).toMatch(/failed to get domain/);
    await expect(s1.openConsole(missing)).rejects.toMatchObject({ category: 'not-found' });
    await expect(s1.listSnapshots(missing)).rejects.toMatchObject({ category: 'not-found' });
    await expect(s1.destroy(missing)).rejects.toMatchObject({ category: 'not-found' });
  });

  it('handles hostile domain, disk and display names end to end', async () => {
    // Everything but '/', which libvirt refuses in names.
    // (sshd runs commands in root's home, so a successful injection would leave /root/kx-pwned.)
    const name = `${uniqueName('h')}'"$(touch kx-pwned) \`touch kx-pwned\`;&|<> -x`;
    created.push(name);
    const spec = guestSpec(h, name, { displayName: name });
    await s1.define(spec);
    expect(await s1.powerState(name)).toBe('Stopped');
    const listed = (await s1.listInstances()).find((i) => i.name === name);
    expect(listed?.disks[0]?.imagePath).toBe(path.join(h.storagePath, `${name}-root.qcow2`));
    expect((await s1.domain(name)).displayName).toBe(name);
    await expect(s1.openConsole(name)).rejects.toMatchObject({ category: 'invalid' });
    const snap = `snap '$(x)' <&> -y`;
    await s1.createSnapshot(name, { name: snap, description: '`y` "z" </description>&amp;\nline 2', withMemory: false });
    expect(await s1.listSnapshots(name)).toMatchObject([{ name: snap, description: '`y` "z" </description>&amp;\nline 2', withMemory: false, current: true }]);
    await s1.revertSnapshot(name, snap);
    await s1.deleteSnapshot(name, snap);
    await s1.destroy(name, { removeDisks: 'all' });
    expect(await s1.powerState(name)).toBe('Missing');
    expect(existsSync(path.join(h.storagePath, `${name}-root.qcow2`))).toBe(false);
    for (const hostile of ["x'; touch /tmp/kx-pwned #", '$(touch /tmp/kx-pwned)', '--all', '-x y']) {
      expect(await s1.powerState(hostile)).toBe('Missing');
    }
    // Nothing ran, here or on host1. host1's /root (root's home, where sshd runs commands) is its
    // own (hosts.sh binds its state directory's home/ over it): this machine's /root is not it.
    expect(existsSync('/tmp/kx-pwned')).toBe(false);
    expect(execFileSync(HOSTS_SH, ['exec', h.hosts[0]!.name, 'sh', '-c', 'ls -d /root/kx-pwned /tmp/kx-pwned 2>/dev/null; true'], { encoding: 'utf8' })).toBe('');
  });
});
