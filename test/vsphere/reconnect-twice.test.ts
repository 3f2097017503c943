/**
 * A vCenter lost twice, on one Kiln: the connection is cut (a TCP relay between Kiln and vcsim
 * drops every connection and refuses new ones), restored, cut again and restored again. Each cut
 * shows the host Disconnected in listHosts and each restore Up again, found by Kiln's own HA and
 * reconcile passes (every second here) and the endpoint's change stream, with nothing else asking.
 */
import { describe, expect, it } from 'vitest';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { relayedVcenter } from './relayed-vcenter.js';

const available = vcsimOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('a vCenter cut off and back twice, on one Kiln', () => {
  const v = relayedVcenter({
    configure: async (t) => {
      await t.ok('updateConfiguration', { name: 'ha.monitor.interval', value: '1' });
      await t.ok('updateConfiguration', { name: 'host.check.timeout', value: '5' });
    },
    started: (t) => t.engine.background.ha.start(),
  });

  /** The states listHosts shows for the vCenter's hosts. */
  const states = async () => (((await v.t.call('listHosts', { hypervisor: 'VMware' })).body['host'] as { state: string }[] | undefined) ?? []).map((h) => h.state);

  async function until(state: string, ms = 45_000): Promise<void> {
    const start = Date.now();
    let seen: string[] = [];
    while (Date.now() - start < ms) {
      seen = await states();
      if (seen.length > 0 && seen.every((s) => s === state)) return;
      await sleep(250);
    }
    throw new Error(`the hosts never all went ${state}: listHosts shows ${JSON.stringify(seen)}`);
  }

  it('shows each loss as Disconnected and each return as Up', async () => {
    await until('Up');
    for (const round of [1, 2, 3]) {
      v.relay.cutOff();
      await until('Disconnected').catch((e: Error) => { throw new Error(`cut ${round}: ${e.message}`); });
      v.relay.restore();
      await until('Up').catch((e: Error) => { throw new Error(`restore ${round}: ${e.message}`); });
    }
    expect(await states()).toEqual(['Up']);
  }, 240_000);
});
