/**
 * Kiln's domain event stream (`virsh event --loop`, drivers/kvm/events.ts) ends with the session
 * that started it. sshd signals nothing to a command without a terminal when its session ends, and
 * virsh event writes nothing until the host's next domain event: before the stream watched its
 * session, every disconnect (Kiln closing a session, a host removed, a reconnect after a cut link)
 * left a `virsh event` running on the host. No domain event happens in these tests, so nothing but
 * the end of the session can end the stream.
 *
 * The harness hosts share this machine's pid space: a host's processes are the ones in its network
 * namespace (hosts.json's netns, /run/netns/NAME), as hosts.sh tells its own daemons apart.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { KvmSession } from '../../drivers/kvm/index.js';
import { harness, kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { connect } from './real-hosts.js';

const hosts = kvmHostsOrSkip();
const host1 = hosts?.hosts[0];
let cut = false;
const open: KvmSession[] = [];

/** A process's network namespace and start time (so a reused pid is not taken for the same process). */
function identity(pid: number): { ns: string; start: string } | undefined {
  try {
    const net = statSync(`/proc/${pid}/ns/net`);
    const start = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[19] ?? '';
    return { ns: `${net.dev}:${net.ino}`, start };
  } catch {
    return undefined;
  }
}

function hostNs(): string {
  const net = statSync(`/run/netns/${(host1 as unknown as { netns: string }).netns}`);
  return `${net.dev}:${net.ino}`;
}

/** Every process on host1 whose command line holds the event stream's `virsh event --loop` (virsh, or a wrapper around it), as "pid start". */
function eventStreams(): string[] {
  // [e]vent: the pattern does not match the command lines of hosts.sh and pgrep's callers, which hold it too.
  let out: string;
  try {
    out = onHost('host1', 'pgrep', '-af', '[e]vent --loop --event lifecycle');
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  const ns = hostNs();
  const found: string[] = [];
  for (const line of out.split('\n')) {
    const pid = Number(line.split(' ')[0]);
    if (!pid) continue;
    const id = identity(pid);
    if (id?.ns === ns) found.push(`${pid} ${id.start}`);
  }
  return found.sort();
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; event streams on host1: ${JSON.stringify(eventStreams())}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const still = (before: string[]) => () => eventStreams().filter((p) => before.includes(p));

describe.skipIf(!hosts)('the KVM event stream ends with its session (no orphan virsh event on the host)', () => {
  afterAll(async () => {
    if (cut) harness('restore-link', 'host1');
    for (const s of open) await s.close().catch(() => undefined);
  });

  it('closing a session ends its virsh event on the host', async () => {
    const others = eventStreams();
    const session = await connect(hosts!, 0);
    open.push(session);
    await until('the session’s event stream on host1', () => eventStreams().some((p) => !others.includes(p)), 30_000);
    const mine = eventStreams().filter((p) => !others.includes(p));
    await session.close();
    // Without the fix it stays until the host's next domain event, which none of this makes.
    await until('the closed session’s event stream to end', () => still(mine)().length === 0, 20_000);
    expect(still(mine)()).toEqual([]);
  }, 120_000);

  it('a connection cut off (link down, then back) leaves no event stream of the lost connection on the host', async () => {
    const others = eventStreams();
    const session = await connect(hosts!, 0);
    open.push(session);
    const connection: string[] = [];
    session.onEvent((e) => {
      if (e.kind === 'connection') connection.push(e.state);
    });
    await until('the session’s event stream on host1', () => eventStreams().some((p) => !others.includes(p)), 30_000);
    const lost = eventStreams().filter((p) => !others.includes(p));

    harness('cut-link', 'host1');
    cut = true;
    await until('Kiln to see the connection down', () => connection.includes('down'), 60_000);
    harness('restore-link', 'host1');
    cut = false;
    await until('Kiln to reconnect', () => connection.lastIndexOf('up') > connection.indexOf('down'), 90_000);

    // The reconnected session runs a fresh stream; the lost connection's must end on its own,
    // though sshd never saw that connection close.
    await until('the lost connection’s event stream to end', () => still(lost)().length === 0, 120_000);
    await until('the reconnected session’s event stream', () => eventStreams().some((p) => !others.includes(p) && !lost.includes(p)), 30_000);
    expect(still(lost)()).toEqual([]);

    await session.close();
    const fresh = eventStreams().filter((p) => !others.includes(p));
    await until('the reconnected session’s event stream to end', () => still(fresh)().length === 0, 20_000);
  }, 400_000);
});
