/**
 * createNetwork isolatedpvlan / isolatedpvlantype (CloudStack's private VLANs on L2 and shared
 * networks) with Debian's `cloudstack` client against a real `kiln serve`: what is stored comes back
 * in listNetworks as CloudStack shows it (isolatedpvlan, isolatedpvlantype, broadcasturi
 * pvlan://<primary>-i<secondary>), and every bad input is a 431 naming the parameter with no
 * network written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient, csError } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
const cs = csClient(() => kiln);

describe('cs: createNetwork with a private VLAN', () => {
  let zoneid = '';
  const networkNames = async () => ((await cs(['listNetworks'])).json['network'] as { name: string }[] | undefined ?? []).map((n) => n.name).sort();

  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
    zoneid = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
  }, 60_000);
  afterAll(async () => {
    await kiln?.stop();
  });

  it('stores the secondary VLAN and lists it as CloudStack does', async () => {
    const created = await cs(['createNetwork', `zoneid=${zoneid}`, 'name=pv-100-501', 'displaytext=pv', 'guestiptype=L2', 'vlan=100', 'isolatedpvlan=501']);
    expect(created.code).toBe(0);
    const shared = await cs(['createNetwork', `zoneid=${zoneid}`, 'name=pv-shared', 'displaytext=pv', 'guestiptype=Shared', 'vlan=110', 'isolatedpvlan=610', 'isolatedpvlantype=community', 'gateway=10.60.0.1', 'netmask=255.255.255.0', 'startip=10.60.0.10']);
    expect(shared.code).toBe(0);
    const plain = await cs(['createNetwork', `zoneid=${zoneid}`, 'name=plain-100', 'displaytext=plain', 'guestiptype=L2', 'vlan=100']);
    expect(plain.code).toBe(0);
    const listed = (await cs(['listNetworks'])).json['network'] as Record<string, unknown>[];
    const byName = (n: string) => listed.find((x) => x['name'] === n)!;
    expect(byName('pv-100-501')).toMatchObject({ vlan: '100', isolatedpvlan: '501', isolatedpvlantype: 'isolated', broadcasturi: 'pvlan://100-i501' });
    expect(byName('pv-shared')).toMatchObject({ vlan: '110', isolatedpvlan: '610', isolatedpvlantype: 'community', broadcasturi: 'pvlan://110-i610' });
    expect(byName('plain-100')).toMatchObject({ vlan: '100', broadcasturi: 'vlan://100' });
    expect(byName('plain-100')).not.toHaveProperty('isolatedpvlan');
  });

  it.each([
    [['guestiptype=L2', 'vlan=100', 'isolatedpvlan=0'], /isolatedpvlan: a VLAN id from 1 to 4094/],
    [['guestiptype=L2', 'vlan=100', 'isolatedpvlan=4095'], /isolatedpvlan: a VLAN id from 1 to 4094/],
    [['guestiptype=L2', 'vlan=100', 'isolatedpvlan=abc'], /isolatedpvlan: a VLAN id from 1 to 4094/],
    [['guestiptype=L2', 'isolatedpvlan=501'], /isolatedpvlan: a private VLAN needs the primary VLAN in vlan/],
    [['guestiptype=Isolated', 'vlan=100', 'isolatedpvlan=501'], /isolatedpvlan: a private VLAN is for L2 and shared networks/],
    [['guestiptype=L2', 'vlan=100', 'isolatedpvlan=100'], /isolatedpvlan: the secondary VLAN 100 is the primary VLAN/],
    [['guestiptype=L2', 'vlan=100', 'isolatedpvlan=501', 'isolatedpvlantype=private'], /isolatedpvlantype: isolated, community or promiscuous/],
  ])('refuses %j with a 431 naming the parameter and writes nothing', async (extra, message) => {
    const before = await networkNames();
    const r = await cs(['createNetwork', `zoneid=${zoneid}`, 'name=bad-pvlan', 'displaytext=bad', ...extra]);
    expect(r.code).not.toBe(0);
    expect(csError(r).errorcode).toBe(431);
    expect(csError(r).errortext).toMatch(message);
    expect(await networkNames()).toEqual(before);
  });
});
