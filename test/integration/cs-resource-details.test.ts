/**
 * Debian's `cs` client (command `cloudstack`) against a real `kiln serve`: a zone's details set
 * with addResourceDetail come back from listResourceDetails resourcetype=Zone as `resourcedetail`
 * rows (by resourceid, by key and value, paged with the total as count), and a resource type Kiln
 * keeps no details for is a 431 naming resourcetype.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csArgs, csClient, csError } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
let zone: string;

const cs = csClient(() => kiln);

describe('cs: listResourceDetails resourcetype=Zone against kiln serve', () => {
  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
    zone = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
  });
  afterAll(() => kiln?.stop());

  it('lists the details addResourceDetail set, filtered and paged, and refuses another resource type', async () => {
    const added = await cs(csArgs('addResourceDetail', { resourcetype: 'Zone', resourceid: zone, 'details[0].key': 'owner', 'details[0].value': 'lab', 'details[1].key': 'rack', 'details[1].value': 'A4' }));
    expect(added.code, added.stderr).toBe(0);
    const row = (key: string, value: string) => ({ resourceid: zone, resourcetype: 'Zone', key, value, fordisplay: true });
    expect((await cs(csArgs('listResourceDetails', { resourcetype: 'Zone', resourceid: zone }))).json).toEqual({ count: 2, resourcedetail: [row('owner', 'lab'), row('rack', 'A4')] });
    expect((await cs(csArgs('listResourceDetails', { resourcetype: 'Zone', key: 'rack', value: 'A4' }))).json).toEqual({ count: 1, resourcedetail: [row('rack', 'A4')] });
    expect((await cs(csArgs('listResourceDetails', { resourcetype: 'Zone', page: '2', pagesize: '1' }))).json).toEqual({ count: 2, resourcedetail: [row('rack', 'A4')] });
    const refused = await cs(csArgs('listResourceDetails', { resourcetype: 'Host' }));
    expect(refused.code).not.toBe(0);
    expect(csError(refused)).toMatchObject({ errorcode: 431, errortext: 'resourcetype: "Host" is not a resource type Kiln keeps details for with listResourceDetails: Zone' });
  });
});
