/**
 * Debian's `cs` client (command `cloudstack`) against a real `kiln serve`: every backup command
 * with the dummy provider on the demo zone, and each refusal with its code: the framework
 * disabled (530), a user importing an offering (432, as CloudStack hides admin commands), a
 * running VM restore (431), a volume added to a VM with backups (431), a bad schedule (431), and
 * the backup-repository commands' refusals (431).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { csClient, csError, type CsResult } from '../helpers/cs-client.js';

let kiln: KilnProcess;

const cs = csClient(() => kiln);

type Obj = Record<string, unknown>;
const errorOf = csError;
/** An async job's result: cs polls the job and prints what it holds. */
const jobResult = (r: CsResult) => r.json;
/** A failed async job's error, as cs prints the job it polled. */
const jobError = (r: CsResult) => (r.json['queryasyncjobresultresponse'] as { jobresult: { errorcode: number; errortext: string } }).jobresult;

describe('cs: backups against kiln serve (dummy provider)', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    ids['template'] = ((await cs(['listTemplates', 'templatefilter=executable', 'name=Debian 12'])).json['template'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await cs(['listServiceOfferings', 'name=Small Instance'])).json['serviceoffering'] as { id: string }[])[0]!.id;
    const deployed = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=bk-web']);
    ids['vm'] = (jobResult(deployed)['virtualmachine'] as { id: string }).id;
    const other = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=bk-other']);
    ids['other'] = (jobResult(other)['virtualmachine'] as { id: string }).id;
  }, 60_000);
  afterAll(async () => {
    await kiln?.stop();
  });

  it('while backup.framework.enabled is false, the backup commands answer 530 saying so', async () => {
    const refused = await cs(['listBackupProviderOfferings', `zoneid=${ids['zone']}`]);
    expect(refused.code).not.toBe(0);
    expect(errorOf(refused)).toMatchObject({ errorcode: 530, errortext: expect.stringMatching(/Backup and Recovery feature is disabled for the zone Demo/) });
    const create = await cs(['createBackup', `virtualmachineid=${ids['vm']}`]);
    expect(errorOf(create).errorcode).toBe(530);
    const on = await cs(['updateConfiguration', 'name=backup.framework.enabled', 'value=true', `zoneid=${ids['zone']}`]);
    expect(on.code, on.stderr).toBe(0);
  });

  it('providers and their offerings; the root admin imports one, a user may not (432)', async () => {
    expect((await cs(['listBackupProviders'])).json['providers']).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'dummy' })]));
    const offered = (await cs(['listBackupProviderOfferings', `zoneid=${ids['zone']}`])).json['backupoffering'] as Obj[];
    expect(offered.map((o) => o['externalid'])).toEqual(['gold-policy', 'silver-policy']);
    const imported = await cs(['importBackupOffering', `zoneid=${ids['zone']}`, 'externalid=gold-policy', 'name=Gold', 'description=Daily gold', 'allowuserdrivenbackups=true']);
    expect(imported.code, imported.stderr).toBe(0);
    ids['bo'] = (jobResult(imported)['backupoffering'] as { id: string }).id;
    expect((await cs(['listBackupOfferings', `zoneid=${ids['zone']}`])).json['backupoffering']).toEqual([expect.objectContaining({ id: ids['bo'], name: 'Gold', allowuserdrivenbackups: true, provider: 'dummy' })]);

    const account = await cs(['createAccount', 'username=bk-user', 'password=bk-pw-1', 'email=bk@example.org', 'firstname=Bk', 'lastname=User', '--post']);
    const user = (account.json['account'] as { user: { id: string }[] }).user[0]!;
    const keys = (await cs(['registerUserKeys', `id=${user.id}`])).json['userkeys'] as { apikey: string; secretkey: string };
    const asUser = { CLOUDSTACK_KEY: keys.apikey, CLOUDSTACK_SECRET: keys.secretkey };
    const refused = await cs(['importBackupOffering', `zoneid=${ids['zone']}`, 'externalid=silver-policy', 'name=Mine', 'description=x', 'allowuserdrivenbackups=true'], asUser);
    expect(errorOf(refused)).toMatchObject({ errorcode: 432, errortext: expect.stringMatching(/importBackupOffering .*not available for user/) });
    expect(errorOf(await cs(['deleteBackupOffering', `id=${ids['bo']}`], asUser)).errorcode).toBe(432);
    // The user still sees the offerings, to pick one for its VMs.
    expect((await cs(['listBackupOfferings'], asUser)).json['backupoffering']).toEqual([expect.objectContaining({ id: ids['bo'] })]);
  });

  it('assigns the VM, backs it up, lists the backup; deleting an offering in use is refused', async () => {
    const assigned = await cs(['assignVirtualMachineToBackupOffering', `virtualmachineid=${ids['vm']}`, `backupofferingid=${ids['bo']}`]);
    expect(assigned.code, JSON.stringify(assigned.json)).toBe(0);
    const again = await cs(['assignVirtualMachineToBackupOffering', `virtualmachineid=${ids['vm']}`, `backupofferingid=${ids['bo']}`]);
    expect(jobError(again)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/already assigned to backup offering Gold/) });
    const created = await cs(['createBackup', `virtualmachineid=${ids['vm']}`, 'name=nightly-1', 'description=before the upgrade']);
    expect(created.code, JSON.stringify(created.json)).toBe(0);
    expect(jobResult(created)['backup']).toMatchObject({ name: 'nightly-1', status: 'BackedUp', type: 'FULL', virtualmachinename: 'bk-web' });
    const listed = (await cs(['listBackups', `virtualmachineid=${ids['vm']}`])).json['backup'] as Obj[];
    expect(listed).toEqual([expect.objectContaining({ name: 'nightly-1', description: 'before the upgrade', size: 1024000, backupofferingname: 'Gold', zone: 'Demo' })]);
    ids['backup'] = listed[0]!['id'] as string;
    ids['rootvolume'] = (JSON.parse(listed[0]!['volumes'] as string) as { uuid: string }[])[0]!.uuid;
    const inUse = await cs(['deleteBackupOffering', `id=${ids['bo']}`]);
    expect(errorOf(inUse)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/assigned to 1 VM/) });
  });

  it('schedules: create, update, list with the next runs, delete; a monthly day past 28 is a 431', async () => {
    const created = await cs(['createBackupSchedule', `virtualmachineid=${ids['vm']}`, 'intervaltype=DAILY', 'schedule=30:02', 'timezone=Asia/Seoul', 'maxbackups=3']);
    expect(created.code, JSON.stringify(created.json)).toBe(0);
    expect(created.json['backupschedule']).toMatchObject({ intervaltype: 'DAILY', schedule: '30:02', timezone: 'Asia/Seoul', maxbackups: 3, virtualmachinename: 'bk-web' });
    // 02:30 in Seoul is 17:30 UTC.
    expect((created.json['backupschedule'] as { scheduled: string }).scheduled).toMatch(/T17:30:00\+0000$/);
    const updated = await cs(['updateBackupSchedule', `id=${(created.json['backupschedule'] as { id: string }).id}`, 'schedule=00:04', 'maxbackups=5']);
    expect(updated.json['backupschedule']).toMatchObject({ schedule: '00:04', maxbackups: 5, timezone: 'Asia/Seoul' });
    const listed = (await cs(['listBackupSchedule', `virtualmachineid=${ids['vm']}`])).json['backupschedule'] as Obj[];
    expect(listed).toHaveLength(1);
    expect((listed[0]!['nextruns'] as string[])[0]).toMatch(/T19:00:00\+0000$/);
    const bad = await cs(['createBackupSchedule', `virtualmachineid=${ids['vm']}`, 'intervaltype=MONTHLY', 'schedule=00:01:31', 'timezone=UTC']);
    expect(errorOf(bad)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^schedule: the day of the month must be between 1 and 28, not 31/) });
    expect((await cs(['deleteBackupSchedule', `virtualmachineid=${ids['vm']}`])).json).toMatchObject({ success: true });
    expect((await cs(['listBackupSchedule', `virtualmachineid=${ids['vm']}`])).json['backupschedule']).toBeUndefined();
  });

  it('restoreBackup: a running VM is refused (431, saying to stop it); stopped, it is restored', async () => {
    const refused = await cs(['restoreBackup', `id=${ids['backup']}`]);
    expect(errorOf(refused)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/VM bk-web is Running; stop it before restoring it from a backup/) });
    expect((await cs(['stopVirtualMachine', `id=${ids['vm']}`])).code).toBe(0);
    const restored = await cs(['restoreBackup', `id=${ids['backup']}`]);
    expect(restored.code, JSON.stringify(restored.json)).toBe(0);
    expect(restored.json).toMatchObject({ success: true });
  });

  it('a VM with backups cannot get another volume (431); a backed-up volume is restored onto another VM', async () => {
    const disk = ((await cs(['listDiskOfferings', 'name=Small'])).json['diskoffering'] as { id: string }[])[0]!.id;
    const volume = await cs(['createVolume', 'name=bk-extra', `zoneid=${ids['zone']}`, `diskofferingid=${disk}`]);
    expect(volume.code, JSON.stringify(volume.json)).toBe(0);
    const volumeId = (jobResult(volume)['volume'] as { id: string }).id;
    const attach = await cs(['attachVolume', `id=${volumeId}`, `virtualmachineid=${ids['vm']}`]);
    expect(attach.code).not.toBe(0);
    expect(JSON.stringify(attach.json)).toMatch(/"errorcode": ?431.*bk-web has 1 backup/);
    expect((await cs(['deleteVolume', `id=${volumeId}`])).code).toBe(0);

    const restored = await cs(['restoreVolumeFromBackupAndAttachToVM', `backupid=${ids['backup']}`, `volumeid=${ids['rootvolume']}`, `virtualmachineid=${ids['other']}`]);
    expect(restored.code, JSON.stringify(restored.json)).toBe(0);
    const volumes = (await cs(['listVolumes', `virtualmachineid=${ids['other']}`])).json['volume'] as Obj[];
    expect(volumes.map((v) => v['type']).sort()).toEqual(['DATADISK', 'ROOT']);
  });

  it('deleteBackup (and the guide name deleteVMBackup), then removing the VM from its offering and deleting the offering', async () => {
    const second = await cs(['createBackup', `virtualmachineid=${ids['vm']}`, 'name=second']);
    const secondId = (jobResult(second)['backup'] as { id: string }).id;
    expect((await cs(['deleteBackup', `id=${ids['backup']}`])).json).toMatchObject({ success: true });
    expect((await cs(['deleteVMBackup', `id=${secondId}`])).json).toMatchObject({ success: true });
    expect((await cs(['listBackups', `virtualmachineid=${ids['vm']}`])).json['backup']).toBeUndefined();
    expect((await cs(['removeVirtualMachineFromBackupOffering', `virtualmachineid=${ids['vm']}`, 'forced=true'])).json).toMatchObject({ success: true });
    expect((await cs(['deleteBackupOffering', `id=${ids['bo']}`])).json).toMatchObject({ success: true });
  });

  it('backup repositories: listed, and refused with 431 naming the parameter (a path, another type, no KVM host to reach it from, an unknown id)', async () => {
    const zone = `zoneid=${ids['zone']}`;
    expect((await cs(['listBackupRepositories', zone])).json['backuprepository']).toBeUndefined();
    const withPath = await cs(['addBackupRepository', zone, 'name=r1', 'address=ssh://10.0.0.9/srv/backups', 'privatekey=x', '--post']);
    expect(errorOf(withPath)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^address: no path \(\/srv\/backups\)/) });
    const nfs = await cs(['addBackupRepository', zone, 'name=r1', 'address=nfs://10.0.0.9/export', 'type=nfs', 'privatekey=x', '--post']);
    expect(errorOf(nfs)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^type: Kiln reaches backup repositories over SSH/) });
    const noKey = await cs(['addBackupRepository', zone, 'name=r1', 'address=ssh://10.0.0.9', '--post']);
    expect(errorOf(noKey)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^privatekey: /) });
    // The demo zone's hosts are simulated: none has a backup facet to reach the repository from.
    const noHost = await cs(['addBackupRepository', zone, 'name=r1', 'address=ssh://10.0.0.9', 'privatekey=x', '--post']);
    expect(errorOf(noHost)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^zoneid: the zone has no Up host with a backup facet/) });
    const unknown = await cs(['deleteBackupRepository', 'id=3f6e2a7c-0000-4000-8000-000000000000']);
    expect(errorOf(unknown).errorcode).toBe(431);
  });
});
