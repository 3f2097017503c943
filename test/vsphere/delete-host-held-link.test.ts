/**
 * A vCenter whose link stops answering (a TCP relay between Kiln and vcsim holds every
 * connection: nothing fails, nothing comes back), and its host deleted meanwhile. Closing the
 * connection logs out over that link, which would wait for the transport's minute; deleteHost
 * answers after Kiln's few seconds instead, the event log says the close was abandoned, and
 * Kiln keeps no connection open through the relay.
 */
import { describe, expect, it } from 'vitest';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { relayedVcenter } from './relayed-vcenter.js';

const available = vcsimOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('deleteHost while the vCenter link answers nothing', () => {
  const v = relayedVcenter();

  it('answers within seconds, with a WARN that the close was abandoned', async () => {
    const host = ((await v.t.ok('listHosts', { hypervisor: 'VMware' }))['host'] as { id: string; name: string; state: string }[])[0]!;
    expect(host.state).toBe('Up');
    v.relay.hold();
    const started = Date.now();
    await v.t.ok('deleteHost', { id: host.id, forced: 'true' });
    // Kiln waits 5 s for the close; the transport would give up after 60 s on each of its calls.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await v.t.ok('listHosts', { hypervisor: 'VMware' }))['host']).toBeUndefined();
    const events = ((await v.t.ok('listEvents', { type: 'HOST.DISCONNECT' }))['event'] as { level: string; description: string }[] | undefined) ?? [];
    expect(events.map((e) => [e.level, e.description])).toEqual([
      ['WARN', `host ${host.name}: closing the connection to ${v.url} did not finish within 5 s (no answer over the link); abandoned, its sockets destroyed`],
    ]);
    // Its sockets destroyed: nothing of Kiln's is left waiting on the held link.
    for (let i = 0; i < 20 && v.relay.connections > 0; i++) await sleep(100);
    expect(v.relay.connections).toBe(0);
  }, 150_000);
});
