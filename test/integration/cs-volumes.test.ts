/**
 * Debian's `cs` client (command `cloudstack`) against a real `kiln serve` (simulator zone): every
 * volume command (createVolume, attachVolume, resizeVolume, detachVolume, deleteVolume,
 * listVolumes) and each of their refusals with its code, and no volume row written by a refusal.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient, type CsResult } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;

const client = csClient(() => kiln);
/** cs signing with the admin's keys, or with KEYS. */
const cs = (args: string[], keys?: { key: string; secret: string }): Promise<CsResult> => client(args, keys ? { CLOUDSTACK_KEY: keys.key, CLOUDSTACK_SECRET: keys.secret } : {});

/** The volume rows (what a refusal must leave alone). */
function volumeRows(): string {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return JSON.stringify(db.prepare('SELECT * FROM volumes ORDER BY id').all());
  } finally {
    db.close();
  }
}

/** cs prints a refusal as {"<command>response": {errorcode, errortext}}; a failed job as its jobresult. */
function errorOf(r: CsResult): { errorcode: number; errortext: string } {
  const inner = Object.values(r.json)[0] as Record<string, unknown>;
  const result = (inner?.['jobresult'] as Record<string, unknown> | undefined) ?? inner;
  return result as { errorcode: number; errortext: string };
}

async function refused(args: string[], code: number, text: string, keys?: { key: string; secret: string }): Promise<void> {
  const before = volumeRows();
  const res = await cs(args, keys);
  expect(res.code, JSON.stringify(res.json)).not.toBe(0);
  expect(errorOf(res), args.join(' ')).toMatchObject({ errorcode: code, errortext: expect.stringContaining(text) });
  expect(volumeRows()).toBe(before);
}

describe('cs: volumes against kiln serve', () => {
  const ids: Record<string, string> = {};
  const GiB = 1024 ** 3;

  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    ids['template'] = ((await cs(['listTemplates', 'templatefilter=executable', 'name=Debian 12'])).json['template'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await cs(['listServiceOfferings', 'name=Small Instance'])).json['serviceoffering'] as { id: string }[])[0]!.id;
    const disks = (await cs(['listDiskOfferings'])).json['diskoffering'] as { id: string; name: string }[];
    ids['custom'] = disks.find((d) => d.name === 'Custom')!.id;
    ids['small'] = disks.find((d) => d.name === 'Small')!.id;
    const vm = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=cs-disks']);
    ids['vm'] = (vm.json['virtualmachine'] as { id: string }).id;
  });
  afterAll(() => kiln?.stop());

  it('createVolume, attachVolume, resizeVolume, detachVolume, deleteVolume; listVolumes shows each state', async () => {
    const created = await cs(['createVolume', `zoneid=${ids['zone']}`, `diskofferingid=${ids['custom']}`, 'size=2', 'name=cs-data']);
    expect(created.code).toBe(0);
    const volume = created.json['volume'] as { id: string; state: string; size: number; type: string };
    expect(volume).toMatchObject({ state: 'Allocated', size: 2 * GiB, type: 'DATADISK' });
    ids['volume'] = volume.id;
    expect(((await cs(['listVolumes', 'state=Allocated'])).json['volume'] as { id: string }[]).map((v) => v.id)).toEqual([volume.id]);

    const attached = await cs(['attachVolume', `id=${volume.id}`, `virtualmachineid=${ids['vm']}`]);
    expect(attached.code).toBe(0);
    expect(attached.json['volume']).toMatchObject({ id: volume.id, state: 'Ready', deviceid: 1, virtualmachineid: ids['vm'], vmname: 'cs-disks' });
    const onVm = (await cs(['listVolumes', `virtualmachineid=${ids['vm']}`])).json['volume'] as { type: string; deviceid: number; state: string }[];
    expect(onVm.map((v) => `${v.type}:${v.deviceid}:${v.state}`)).toEqual(['ROOT:0:Ready', 'DATADISK:1:Ready']);

    const grown = await cs(['resizeVolume', `id=${volume.id}`, 'size=3']);
    expect(grown.code).toBe(0);
    expect(grown.json['volume']).toMatchObject({ size: 3 * GiB, state: 'Ready' });
    const shrunk = await cs(['resizeVolume', `id=${volume.id}`, 'size=1', 'shrinkok=true']);
    expect(shrunk.json['volume']).toMatchObject({ size: 1 * GiB });

    const detached = await cs(['detachVolume', `id=${volume.id}`]);
    expect(detached.code).toBe(0);
    expect(detached.json['volume']).toMatchObject({ id: volume.id, state: 'Ready' });
    expect((detached.json['volume'] as { virtualmachineid?: string }).virtualmachineid).toBeUndefined();

    const deleted = await cs(['deleteVolume', `id=${volume.id}`]);
    expect(deleted.code).toBe(0);
    expect(deleted.json['success']).toBe('true');
    expect((await cs(['listVolumes', `id=${volume.id}`])).json['volume']).toBeUndefined();
  });

  it('refuses with 431 naming the parameter, 531 for another account, and writes nothing', async () => {
    const spare = (await cs(['createVolume', `zoneid=${ids['zone']}`, `diskofferingid=${ids['small']}`, 'name=cs-spare'])).json['volume'] as { id: string };
    const onVm = (await cs(['createVolume', `diskofferingid=${ids['custom']}`, 'size=1', `virtualmachineid=${ids['vm']}`, 'name=cs-on-vm'])).json['volume'] as { id: string; virtualmachineid: string; state: string };
    expect(onVm).toMatchObject({ virtualmachineid: ids['vm'], state: 'Ready' });
    const root = ((await cs(['listVolumes', `virtualmachineid=${ids['vm']}`, 'type=ROOT'])).json['volume'] as { id: string }[])[0]!.id;

    await refused(['createVolume', `zoneid=${ids['zone']}`, `diskofferingid=${ids['custom']}`], 431, 'size: disk offering Custom is custom; give size');
    await refused(['createVolume', `zoneid=${ids['zone']}`, `diskofferingid=${ids['small']}`, 'size=9'], 431, 'size: disk offering Small has a fixed size of 5 GiB');
    await refused(['attachVolume', `id=${onVm.id}`, `virtualmachineid=${ids['vm']}`], 431, 'is already attached to VM cs-disks');
    await refused(['attachVolume', `id=${root}`, `virtualmachineid=${ids['vm']}`], 431, 'only data disks can be attached');
    await refused(['attachVolume', `id=${spare.id}`, `virtualmachineid=${ids['vm']}`, 'deviceid=1'], 431, 'deviceid: VM cs-disks already has a disk at device 1');
    await refused(['detachVolume', `id=${spare.id}`], 431, 'is not attached to any VM');
    await refused(['detachVolume', `id=${root}`], 431, 'only data disks can be detached');
    await refused(['resizeVolume', `id=${onVm.id}`, 'size=1'], 431, 'size: volume cs-on-vm is already 1 GiB');
    await refused(['deleteVolume', `id=${onVm.id}`], 431, 'detach it first');
    await refused(['deleteVolume', 'id=00000000-0000-4000-8000-000000000000'], 431, 'Invalid parameter id value=00000000-0000-4000-8000-000000000000');

    // A volume belongs to one account: another user neither sees nor touches it.
    const account = await cs(['createAccount', 'username=cs-vol-user', 'password=pw-12345', 'email=u@example.com', 'firstname=U', 'lastname=V', 'accounttype=0']);
    const userId = ((account.json['account'] as { user: { id: string }[] }).user[0]!).id;
    const keys = (await cs(['registerUserKeys', `id=${userId}`])).json['userkeys'] as { apikey: string; secretkey: string };
    const user = { key: keys.apikey, secret: keys.secretkey };
    expect((await cs(['listVolumes'], user)).json['volume']).toBeUndefined();
    await refused(['deleteVolume', `id=${spare.id}`], 531, 'does not have permission', user);
    await refused(['attachVolume', `id=${spare.id}`, `virtualmachineid=${ids['vm']}`], 531, 'does not have permission', user);

    // R35: with a VM snapshot, no attach or detach.
    expect((await cs(['createVMSnapshot', `virtualmachineid=${ids['vm']}`, 'name=cs-snap'])).code).toBe(0);
    await refused(['attachVolume', `id=${spare.id}`, `virtualmachineid=${ids['vm']}`], 431, 'virtualmachineid: VM cs-disks has 1 VM snapshot');
    await refused(['detachVolume', `id=${onVm.id}`], 431, 'id: VM cs-disks has 1 VM snapshot');
  });
});
