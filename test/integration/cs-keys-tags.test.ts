/**
 * Debian's `cs` client (command `cloudstack`) against a real `kiln serve`: SSH key pairs created
 * and registered (fingerprints checked by ssh-keygen), a VM deployed with one, tags created and
 * listed and used as a list filter, user data sent by GET and, past the GET limit, by POST, and
 * each refusal with its code and no row written.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient, csError } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
let dir: string;

const cs = csClient(() => kiln);

/**
 * What these commands write: tags, key pairs, the keys VMs were given, VMs and their user data. (Not
 * the whole file: a serve's background work changes host and job rows at any time.)
 */
function dbState(): string {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    const queries = ['SELECT * FROM resource_tags', 'SELECT * FROM ssh_keypairs', 'SELECT * FROM vm_ssh_keys', 'SELECT id, uuid, hostname, user_data FROM vm_instances'];
    return queries.map((q) => `${q}:${JSON.stringify(db.prepare(`${q} ORDER BY rowid`).all())}`).join('\n');
  } finally {
    db.close();
  }
}

const errorOf = csError;

describe('cs: SSH key pairs, tags and user data against kiln serve', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-cs-keys-'));
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    ids['template'] = ((await cs(['listTemplates', 'templatefilter=executable', 'name=Debian 12'])).json['template'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await cs(['listServiceOfferings', 'name=Small Instance'])).json['serviceoffering'] as { id: string }[])[0]!.id;
  });
  afterAll(() => {
    kiln?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('createSSHKeyPair: the private key works with ssh-keygen and matches the fingerprint; listSSHKeyPairs shows no private key', async () => {
    const res = await cs(['createSSHKeyPair', 'name=cs-made']);
    expect(res.code).toBe(0);
    const kp = res.json['keypair'] as { name: string; fingerprint: string; privatekey: string };
    const file = join(dir, 'cs-made');
    writeFileSync(file, kp.privatekey);
    chmodSync(file, 0o600);
    writeFileSync(`${file}.pub`, execFileSync('ssh-keygen', ['-y', '-f', file]));
    expect(execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', `${file}.pub`], { encoding: 'utf8' })).toContain(`MD5:${kp.fingerprint} `);
    const listed = await cs(['listSSHKeyPairs', 'name=cs-made']);
    expect(listed.json['sshkeypair']).toEqual([expect.objectContaining({ name: 'cs-made', fingerprint: kp.fingerprint })]);
    expect(JSON.stringify(listed.json)).not.toContain('PRIVATE KEY');
  });

  it('registerSSHKeyPair takes an Ed25519 key with its ssh-keygen fingerprint and refuses a broken one with 431', async () => {
    const file = join(dir, 'ed');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cs@test', '-f', file]);
    const line = readFileSync(`${file}.pub`, 'utf8').trim();
    const md5 = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!.replace('MD5:', '');
    const res = await cs(['registerSSHKeyPair', 'name=cs-ed', `publickey=${line}`]);
    expect(res.code).toBe(0);
    expect((res.json['keypair'] as { fingerprint: string }).fingerprint).toBe(md5);
    const before = dbState();
    const bad = await cs(['registerSSHKeyPair', 'name=cs-bad', `publickey=${line.slice(0, 40)}`]);
    expect(bad.code).not.toBe(0);
    expect(errorOf(bad).errorcode).toBe(431);
    expect(errorOf(bad).errortext).toContain('publickey: Public key is invalid');
    expect(dbState()).toBe(before);
  });

  it('deploys with keypair=, then tags the VM and finds it by tags[0].key/value; bad tags are 431 and write nothing', async () => {
    const deployed = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=cs-keyed', 'keypair=cs-ed']);
    expect(deployed.code).toBe(0);
    const vm = deployed.json['virtualmachine'] as { id: string; keypairs: string };
    expect(vm.keypairs).toBe('cs-ed');
    const tagged = await cs(['createTags', 'resourcetype=UserVm', `resourceids=${vm.id}`, 'tags[0].key=role', 'tags[0].value=frontend']);
    expect(tagged.code).toBe(0);
    expect(tagged.json['success']).toBe(true);
    const tags = await cs(['listTags', `resourceid=${vm.id}`]);
    expect(tags.json['tag']).toEqual([expect.objectContaining({ key: 'role', value: 'frontend', resourcetype: 'UserVm', resourceid: vm.id })]);
    const found = await cs(['listVirtualMachines', 'tags[0].key=role', 'tags[0].value=frontend']);
    expect((found.json['virtualmachine'] as { id: string; tags: { key: string }[] }[]).map((v) => [v.id, v.tags.map((x) => x.key)])).toEqual([[vm.id, ['role']]]);

    // Running: the reset is refused at once with CloudStack's words; stopped, it takes the new key.
    const running = await cs(['resetSSHKeyForVirtualMachine', `id=${vm.id}`, 'keypair=cs-made']);
    expect(errorOf(running)).toMatchObject({ errorcode: 431, errortext: expect.stringContaining('should be stopped to do SSH Key reset') });
    expect((await cs(['stopVirtualMachine', `id=${vm.id}`])).code).toBe(0);
    const reset = await cs(['resetSSHKeyForVirtualMachine', `id=${vm.id}`, 'keypair=cs-made']);
    expect(reset.code).toBe(0);
    expect((reset.json['virtualmachine'] as { keypairs: string }).keypairs).toBe('cs-made');

    const before = dbState();
    for (const [args, text] of [
      [['createTags', 'resourcetype=Router', `resourceids=${vm.id}`, 'tags[0].key=a', 'tags[0].value=b'], 'resourcetype: Invalid resource type Router'],
      [['createTags', 'resourcetype=UserVm', `resourceids=${vm.id}`, 'tags[0].key=role', 'tags[0].value=backend'], 'tags: tag role already exists'],
      [['createTags', 'resourcetype=UserVm', `resourceids=${vm.id}`, 'tags[0].key=empty'], 'tags: Value for the key empty is either null or empty'],
    ] as [string[], string][]) {
      const res = await cs(args);
      expect(res.code).not.toBe(0);
      expect(errorOf(res)).toMatchObject({ errorcode: 431, errortext: expect.stringContaining(text) });
    }
    expect(dbState()).toBe(before);
  });

  it('user data: by GET within the limit, by POST past it (up to 32 KB decoded); getVirtualMachineUserData returns it; 33 KB is 431', async () => {
    const small = Buffer.from('#cloud-config\nhostname: cs-data\n').toString('base64');
    const deployed = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=cs-data', `userdata=${small}`]);
    expect(deployed.code).toBe(0);
    const vmId = (deployed.json['virtualmachine'] as { id: string }).id;
    expect((await cs(['getVirtualMachineUserData', `virtualmachineid=${vmId}`])).json['virtualmachineuserdata']).toEqual({ virtualmachineid: vmId, userdata: small });

    const big = Buffer.alloc(30 * 1024, 'a').toString('base64');
    const overGet = await cs(['updateVirtualMachine', `id=${vmId}`, `userdata=${big}`]);
    expect(overGet.code).not.toBe(0);
    expect(JSON.stringify(overGet.json) + overGet.stderr).toContain('userdata');
    const posted = await cs(['--post', 'updateVirtualMachine', `id=${vmId}`, `userdata=${big}`]);
    expect(posted.code).toBe(0);
    expect((await cs(['getVirtualMachineUserData', `virtualmachineid=${vmId}`])).json['virtualmachineuserdata']).toEqual({ virtualmachineid: vmId, userdata: big });

    const before = dbState();
    const tooBig = await cs(['--post', 'updateVirtualMachine', `id=${vmId}`, `userdata=${Buffer.alloc(33 * 1024, 'a').toString('base64')}`]);
    expect(errorOf(tooBig)).toMatchObject({ errorcode: 431, errortext: expect.stringContaining('userdata: at most 32 KB') });
    expect(dbState()).toBe(before);
  });
});
