/**
 * Debian's `cs` client (command `cloudstack`, HMAC-SHA1 with signature version 3) against a
 * real `kiln serve` process: the VM story from deploy to expunge, then bad input, each of which
 * must leave the database exactly as it was.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { csClient, type CsResult } from '../helpers/cs-client.js';
import { tablesFingerprint } from '../helpers/engine.js';

let kiln: KilnProcess;

const cs = csClient(() => kiln);

/** Everything in the database but sessions, to prove a refused call changed nothing. */
function dbState(): string {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return tablesFingerprint(db);
  } finally {
    db.close();
  }
}

function errorOf(result: CsResult): { errorcode: number; errortext: string } {
  return Object.values(result.json)[0] as { errorcode: number; errortext: string };
}

describe('the cs client against kiln serve', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    kiln = await startKiln({ args: ['--no-ui'] });
    const zone = await cs(['listZones']);
    ids['zone'] = (zone.json['zone'] as { id: string }[])[0]!.id;
    const templates = await cs(['listTemplates', 'templatefilter=executable', 'name=Debian 12']);
    ids['template'] = (templates.json['template'] as { id: string }[])[0]!.id;
    const offerings = await cs(['listServiceOfferings', 'name=Small Instance']);
    ids['offering'] = (offerings.json['serviceoffering'] as { id: string }[])[0]!.id;
  });
  afterAll(() => kiln?.stop());

  it('lists the demo VMs', async () => {
    const res = await cs(['listVirtualMachines']);
    expect(res.code).toBe(0);
    expect((res.json['virtualmachine'] as { name: string; state: string }[]).map((v) => [v.name, v.state])).toEqual([
      ['demo-web', 'Running'],
      ['demo-db', 'Running'],
    ]);
  });

  it('runs the story: deploy, list, stop, start, reboot, destroy, recover, destroy with expunge', async () => {
    const deployed = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=cs-story', 'displayname=CS story']);
    expect(deployed.code).toBe(0);
    const vm = deployed.json['virtualmachine'] as { id: string; state: string; name: string; displayname: string };
    expect(vm).toMatchObject({ name: 'cs-story', displayname: 'CS story', state: 'Running' });

    const listed = await cs(['listVirtualMachines', `id=${vm.id}`]);
    expect(listed.json['count']).toBe(1);

    // --async returns the job id; queryAsyncJobResult follows it to the end.
    const stopping = await cs(['stopVirtualMachine', `id=${vm.id}`, '--async']);
    const jobid = stopping.json['jobid'] as string;
    expect(jobid).toMatch(/^[0-9a-f-]{36}$/);
    let job: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) {
      job = (await cs(['queryAsyncJobResult', `jobid=${jobid}`])).json;
      if (job['jobstatus'] !== 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job).toMatchObject({ jobstatus: 1, jobresultcode: 0, jobinstancetype: 'VirtualMachine', jobinstanceid: vm.id, jobresult: { virtualmachine: { state: 'Stopped' } } });

    expect((await cs(['startVirtualMachine', `id=${vm.id}`])).json['virtualmachine']).toMatchObject({ state: 'Running' });
    expect((await cs(['rebootVirtualMachine', `id=${vm.id}`])).json['virtualmachine']).toMatchObject({ state: 'Running' });
    expect((await cs(['destroyVirtualMachine', `id=${vm.id}`])).json['virtualmachine']).toMatchObject({ state: 'Destroyed' });
    expect((await cs(['recoverVirtualMachine', `id=${vm.id}`])).json['virtualmachine']).toMatchObject({ state: 'Stopped' });
    const expunged = await cs(['destroyVirtualMachine', `id=${vm.id}`, 'expunge=true']);
    expect(expunged.code).toBe(0);
    expect(expunged.json).toMatchObject({ success: true });
    // cs prints nothing for an empty list; the VM is gone from the API and expunged in the DB.
    const gone = await cs(['listVirtualMachines', `id=${vm.id}`]);
    expect(gone.code).toBe(0);
    expect(gone.json['virtualmachine']).toBeUndefined();
    const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
    expect(db.prepare('SELECT state FROM vm_instances WHERE uuid=?').get(vm.id)).toEqual({ state: 'Expunged' });
    expect(db.prepare('SELECT COUNT(*) AS n FROM nics n JOIN vm_instances v ON v.id=n.vm_id WHERE v.uuid=? AND n.removed IS NULL').get(vm.id)).toEqual({ n: 0 });
    db.close();
    const events = await cs(['listEvents', `resourceid=${vm.id}`]);
    const types = (events.json['event'] as { type: string }[]).map((e) => e.type);
    for (const type of ['VM.CREATE', 'VM.START', 'VM.STOP', 'VM.REBOOT', 'VM.DESTROY', 'VM.RECOVER', 'VM.EXPUNGE']) expect(types).toContain(type);
  });

  it('expunges a VM that is already Destroyed with destroyVirtualMachine expunge=true (what Ansible cs_instance state=expunged sends)', async () => {
    const deployed = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=cs-expunge-later']);
    const vm = deployed.json['virtualmachine'] as { id: string };
    expect((await cs(['destroyVirtualMachine', `id=${vm.id}`])).json['virtualmachine']).toMatchObject({ state: 'Destroyed' });
    const expunged = await cs(['destroyVirtualMachine', `id=${vm.id}`, 'expunge=true']);
    expect(expunged.code).toBe(0);
    expect(expunged.json).toMatchObject({ success: true });
    const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
    expect(db.prepare('SELECT state FROM vm_instances WHERE uuid=?').get(vm.id)).toEqual({ state: 'Expunged' });
    db.close();
  });

  it('takes, lists, reverts to and deletes a VM snapshot', async () => {
    const web = ((await cs(['listVirtualMachines', 'name=demo-web'])).json['virtualmachine'] as { id: string }[])[0]!;
    const taken = await cs(['createVMSnapshot', `virtualmachineid=${web.id}`, 'name=cs-snap', 'description=from the cs client', 'snapshotmemory=true']);
    expect(taken.code).toBe(0);
    const snap = taken.json['vmsnapshot'] as { id: string };
    expect(snap).toMatchObject({ displayname: 'cs-snap', type: 'DiskAndMemory', current: true, state: 'Ready', virtualmachineid: web.id });
    const listed = await cs(['listVMSnapshot', `virtualmachineid=${web.id}`]);
    expect(listed.json).toMatchObject({ count: 1, vmSnapshot: [{ id: snap.id, description: 'from the cs client' }] });
    expect((await cs(['revertToVMSnapshot', `vmsnapshotid=${snap.id}`])).json['virtualmachine']).toMatchObject({ id: web.id, state: 'Running' });
    expect((await cs(['deleteVMSnapshot', `vmsnapshotid=${snap.id}`])).json).toMatchObject({ success: true });
    expect((await cs(['listVMSnapshot', `virtualmachineid=${web.id}`])).json['vmSnapshot']).toBeUndefined();
  });

  it('changes passwords with updateUser: an admin without the current one, a user (signing with its own keys) only with it', async () => {
    const created = await cs(['createAccount', 'username=cs-user', 'password=first-pw', 'email=cs@example.org', 'firstname=Cs', 'lastname=User', '--post']);
    expect(created.code).toBe(0);
    const user = (created.json['account'] as { user: { id: string }[] }).user[0]!;
    const loginStatus = async (password: string) => (await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams({ command: 'login', username: 'cs-user', password, response: 'json' }) })).status;
    const reset = await cs(['updateUser', `id=${user.id}`, 'password=second-pw', '--post']);
    expect(reset.code).toBe(0);
    expect(reset.json['user']).toMatchObject({ id: user.id, username: 'cs-user', state: 'enabled' });
    expect(await loginStatus('second-pw')).toBe(200);
    expect(await loginStatus('first-pw')).toBe(531);

    const keys = (await cs(['registerUserKeys', `id=${user.id}`])).json['userkeys'] as { apikey: string; secretkey: string };
    const asUser = { CLOUDSTACK_KEY: keys.apikey, CLOUDSTACK_SECRET: keys.secretkey };
    const refused = await cs(['updateUser', `id=${user.id}`, 'password=third-pw', '--post'], asUser);
    expect(errorOf(refused)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^currentpassword:/) });
    const changed = await cs(['updateUser', `id=${user.id}`, 'password=third-pw', 'currentpassword=second-pw', '--post'], asUser);
    expect(changed.code).toBe(0);
    expect(await loginStatus('third-pw')).toBe(200);
  });

  it('lists the hypervisor capabilities and changes maxguestslimit, which checkClusterHeadroom then uses', async () => {
    const list = await cs(['listHypervisorCapabilities']);
    expect(list.code, list.stderr).toBe(0);
    const sim = (list.json['hypervisorCapabilities'] as { id: string; hypervisor: string; hypervisorversion: string; maxguestslimit: number }[]).find((c) => c.hypervisor === 'Simulator')!;
    expect(sim).toMatchObject({ hypervisorversion: 'default', maxguestslimit: 50 });
    const updated = await cs(['updateHypervisorCapabilities', `id=${sim.id}`, 'maxguestslimit=40']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.json['hypervisorcapabilities']).toMatchObject({ id: sim.id, maxguestslimit: 40 });
    const cluster = ((await cs(['listClusters'])).json['cluster'] as { id: string }[])[0]!;
    expect(((await cs(['checkClusterHeadroom', `clusterid=${cluster.id}`])).json['clusterheadroom'] as { maxguestsperhost: number }).maxguestsperhost).toBe(40);
    expect((await cs(['updateHypervisorCapabilities', `id=${sim.id}`, 'maxguestslimit=50'])).code).toBe(0);
  });

  it('gives 431 naming a missing required parameter, and writes nothing', async () => {
    const before = dbState();
    const res = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`]);
    expect(res.code).not.toBe(0);
    expect(errorOf(res)).toMatchObject({ errorcode: 431 });
    expect(errorOf(res).errortext).toMatch(/missing parameter serviceofferingid/);
    expect(dbState()).toBe(before);
  });

  it('gives 432 for an unknown command, and writes nothing', async () => {
    const before = dbState();
    const res = await cs(['launchRocket', 'target=moon']);
    expect(errorOf(res)).toMatchObject({ errorcode: 432 });
    expect(dbState()).toBe(before);
  });

  it('gives 401 for a wrong signature and for an expired request, and writes nothing', async () => {
    const before = dbState();
    const wrong = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`], { CLOUDSTACK_SECRET: 'not-the-secret' });
    expect(errorOf(wrong)).toMatchObject({ errorcode: 401 });
    const expired = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'signatureVersion=3', 'expires=2001-01-01T00:00:00+0000']);
    expect(errorOf(expired)).toMatchObject({ errorcode: 401 });
    expect(errorOf(expired).errortext).toMatch(/expired/);
    expect(dbState()).toBe(before);
  });

  it('gives 431 for a malformed UUID and for an oversized parameter, and writes nothing', async () => {
    const before = dbState();
    const bad = await cs(['startVirtualMachine', 'id=12345']);
    expect(errorOf(bad)).toMatchObject({ errorcode: 431 });
    expect(errorOf(bad).errortext).toMatch(/parameter id value=12345/);
    const big = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, `displayname=${'x'.repeat(300)}`, '--post']);
    expect(errorOf(big)).toMatchObject({ errorcode: 431 });
    expect(errorOf(big).errortext).toMatch(/displayname is 300 characters long/);
    expect(dbState()).toBe(before);
  });

  it('gives 431 naming hostid for a migration to the host the VM runs on, and writes nothing', async () => {
    const vm = ((await cs(['listVirtualMachines', 'name=demo-web'])).json['virtualmachine'] as { id: string; hostid: string; hostname: string }[])[0]!;
    const before = dbState();
    for (const command of ['migrateVirtualMachine', 'migrateVirtualMachineWithVolume']) {
      const res = await cs([command, `virtualmachineid=${vm.id}`, `hostid=${vm.hostid}`]);
      expect(res.code).not.toBe(0);
      expect(errorOf(res)).toMatchObject({ errorcode: 431, cserrorcode: 4350, errortext: `hostid: cannot migrate VM demo-web to host ${vm.hostname}: the VM already runs on this host; choose another host` });
    }
    expect(dbState()).toBe(before);
  });

  it('gives 431 for control characters in a name and in a map key, and writes nothing', async () => {
    // (A NUL cannot travel in a command-line argument; ESC and SOH are C0 controls as well.)
    const before = dbState();
    const name = await cs(['createAffinityGroup', 'name=a\u001b<b>', 'type=host anti-affinity']);
    expect(errorOf(name)).toMatchObject({ errorcode: 431 });
    expect(errorOf(name).errortext).toBe('Unable to execute API command createaffinitygroup due to invalid value. Invalid parameter name value=a\\u001b<b>: contains the control character U+001B; this parameter takes no control characters, tabs or line breaks');
    const key = await cs(['createServiceOffering', 'name=ctl', 'displaytext=ctl', 'cpunumber=1', 'cpuspeed=1000', 'memory=512', 'serviceofferingdetails[0].\u0001<x>=v']);
    expect(errorOf(key)).toMatchObject({ errorcode: 431 });
    expect(errorOf(key).errortext).toMatch(/Invalid parameter serviceofferingdetails\[0\]\.\\u0001<x>: a key is letters, digits and _ \. : - only/);
    expect(dbState()).toBe(before);
  });

  it('names the command when an id names nothing, as CloudStack does', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const res = await cs(['stopVirtualMachine', `id=${missing}`]);
    expect(errorOf(res)).toMatchObject({ errorcode: 431, errortext: `Unable to execute API command stopvirtualmachine due to invalid value. Invalid parameter id value=${missing} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.` });
  });
});
