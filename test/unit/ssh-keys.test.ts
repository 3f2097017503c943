/**
 * SSH key pairs (R59-R60): the keys Kiln generates and accepts are checked against OpenSSH's own
 * ssh-keygen (fingerprints, derived public keys), malformed keys are 431s naming publickey that
 * write nothing, key pairs are per account, and VMs keep the public keys they were given.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, deployDemo, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';
import { publicKeysOfVm } from '../../main/engine/ssh-keys/vm-keys.js';
import { generateRsaKeyPair } from '../../main/engine/ssh-keys/public-key.js';

let t: TestEngine;
let dir: string;
let alice: Caller;
let bob: Caller;

function userOf(name: string): Caller {
  const domainId = (t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).get() as { id: number }).id;
  const { userId } = t.engine.accounts.createAccount({ name, role: 'User', domainId, username: name, password: 'secret-pw' });
  return t.engine.accounts.byUserId(userId)!;
}

/** A fresh OpenSSH key of TYPE made by ssh-keygen: its public line and ssh-keygen's MD5 fingerprint. */
function sshKeygen(type: string, bits?: number): { line: string; md5: string } {
  const file = join(dir, `k-${type}-${bits ?? 0}-${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', 'me@laptop', '-f', file]);
  return { line: readFileSync(`${file}.pub`, 'utf8').trim(), md5: md5Of(`${file}.pub`) };
}

function md5Of(pubFile: string): string {
  // "256 MD5:c5:43:… comment (ED25519)"
  return execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', pubFile], { encoding: 'utf8' }).split(' ')[1]!.replace(/^MD5:/, '');
}

const errorText = (body: Record<string, unknown>) => String((Object.values(body)[0] as { errortext?: string } | undefined)?.errortext ?? body['errortext']);

beforeAll(async () => {
  t = await testEngine();
  dir = mkdtempSync(join(tmpdir(), 'kiln-keys-'));
  alice = userOf('alice');
  bob = userOf('bob');
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('createSSHKeyPair', () => {
  it('returns a 2048-bit RSA private key once; its public half (by ssh-keygen -y) has the fingerprint Kiln shows', async () => {
    const res = await t.call('createSSHKeyPair', { name: 'made-here' }, alice);
    expect(res.status).toBe(200);
    const kp = res.body['keypair'] as { name: string; fingerprint: string; privatekey: string; account: string };
    expect(kp.name).toBe('made-here');
    expect(kp.account).toBe('alice');
    expect(kp.privatekey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(kp.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const priv = join(dir, 'made-here');
    writeFileSync(priv, kp.privatekey);
    chmodSync(priv, 0o600);
    const pub = execFileSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' });
    writeFileSync(`${priv}.pub`, pub);
    expect(md5Of(`${priv}.pub`)).toBe(kp.fingerprint);
    expect(execFileSync('ssh-keygen', ['-l', '-f', `${priv}.pub`], { encoding: 'utf8' })).toMatch(/^2048 .*\(RSA\)/);
    // The private key is not kept anywhere in the database, and the list never shows one.
    const body = kp.privatekey.split('\n')[1]!;
    expect(dbFingerprint(t.engine)).not.toContain(body);
    const listed = (await t.call('listSSHKeyPairs', { name: 'made-here' }, alice)).body['sshkeypair'] as Record<string, unknown>[];
    expect(listed).toHaveLength(1);
    expect(listed[0]!['fingerprint']).toBe(kp.fingerprint);
    expect(listed[0]!['privatekey']).toBeUndefined();
  });

  it('refuses a name the account already has, writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const res = await t.call('createSSHKeyPair', { name: 'made-here' }, alice);
    expect(res.status).toBe(431);
    expect(errorText(res.body)).toContain("A key pair with name 'made-here' already exists");
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});

describe('registerSSHKeyPair', () => {
  it.each([['ed25519', undefined], ['ecdsa', 256], ['ecdsa', 384], ['ecdsa', 521], ['rsa', 3072]] as const)('accepts an OpenSSH %s key (%s bits) with the fingerprint ssh-keygen prints', async (type, bits) => {
    const key = sshKeygen(type, bits);
    const res = await t.call('registerSSHKeyPair', { name: `reg-${type}-${bits ?? ''}`, publickey: key.line }, alice);
    expect(res.status).toBe(200);
    expect((res.body['keypair'] as { fingerprint: string }).fingerprint).toBe(key.md5);
    // The stored line drops the comment, which is not part of the key.
    const stored = t.engine.db.prepare('SELECT public_key FROM ssh_keypairs WHERE name=?').get(`reg-${type}-${bits ?? ''}`) as { public_key: string };
    expect(stored.public_key).toBe(key.line.split(' ').slice(0, 2).join(' '));
  });

  const good = () => sshKeygen('ed25519').line.split(' ');
  const flip = (b64: string, at: number) => {
    const buf = Buffer.from(b64, 'base64');
    buf[at] = buf[at]! ^ 0x01;
    return buf.toString('base64');
  };
  const weak = generateRsaKeyPair(512).publicKey.line;
  it.each<[string, () => string, RegExp]>([
    ['text that is no key', () => 'hello world', /publickey: "hello world" Public key is invalid: not an OpenSSH public key line/],
    ['a PEM key', () => '-----BEGIN PUBLIC KEY----- MIIB -----END PUBLIC KEY-----', /publickey: "-----BEGIN PUBLIC KEY-----.*Public key is invalid: not an OpenSSH public key line/],
    ['key data that is not base64', () => 'ssh-ed25519 AAAA$$$$', /publickey: .*Public key is invalid: not an OpenSSH public key line/],
    ['base64 of the wrong length', () => 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI', /publickey: Public key is invalid: the key data is not base64/],
    ['a truncated key', () => { const [ty, d] = good(); return `${ty} ${Buffer.from(d!, 'base64').subarray(0, 30).toString('base64')}`; }, /publickey: Public key is invalid: the key data ends early/],
    ['an Ed25519 line with RSA data', () => `ssh-ed25519 ${sshKeygen('rsa', 2048).line.split(' ')[1]}`, /publickey: Public key is invalid: the key data says ssh-rsa/],
    ['an ECDSA point off its curve', () => { const [ty, d] = sshKeygen('ecdsa', 256).line.split(' '); return `${ty} ${flip(d!, Buffer.from(d!, 'base64').length - 1)}`; }, /publickey: Public key is invalid/],
    ['a 512-bit RSA key', () => weak, /publickey: Public key is invalid: an RSA key of 512 bits; at least 1024/],
  ])('refuses %s with 431 naming publickey, writing nothing', async (_what, make, message) => {
    const publickey = make();
    const before = dbFingerprint(t.engine);
    const res = await t.call('registerSSHKeyPair', { name: 'bad', publickey }, alice);
    expect(res.status).toBe(431);
    expect(errorText(res.body)).toMatch(message);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('refuses the same key twice in one account, but another account may register it', async () => {
    const key = sshKeygen('ed25519');
    expect((await t.call('registerSSHKeyPair', { name: 'twice-1', publickey: key.line }, alice)).status).toBe(200);
    const again = await t.call('registerSSHKeyPair', { name: 'twice-2', publickey: key.line }, alice);
    expect(again.status).toBe(431);
    expect(errorText(again.body)).toContain(`publickey: A key pair with key '${key.md5}' already exists`);
    expect((await t.call('registerSSHKeyPair', { name: 'twice-1', publickey: key.line }, bob)).status).toBe(200);
  });
});

describe('isolation between accounts', () => {
  it("a user neither lists nor deletes nor deploys with another account's key pair", async () => {
    await t.call('createSSHKeyPair', { name: 'alice-only' }, alice);
    const bobs = ((await t.call('listSSHKeyPairs', {}, bob)).body['sshkeypair'] ?? []) as { name: string; account: string }[];
    expect(bobs.map((k) => k.name)).not.toContain('alice-only');
    expect(bobs.every((k) => k.account === 'bob')).toBe(true);
    const before = dbFingerprint(t.engine);
    const del = await t.call('deleteSSHKeyPair', { name: 'alice-only' }, bob);
    expect(del.status).toBe(431);
    expect(errorText(del.body)).toContain("name: A key pair with name 'alice-only' does not exist");
    const ids = demoIds(t.engine);
    const deploy = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, keypair: 'alice-only' }, bob);
    expect(deploy.status).toBe(431);
    expect(errorText(deploy.body)).toContain("keypair: A key pair with name 'alice-only' was not found.");
    expect(dbFingerprint(t.engine)).toBe(before);
    // The admin sees both accounts' key pairs.
    const all = (await t.call('listSSHKeyPairs', { listall: 'true' })).body['sshkeypair'] as { account: string }[];
    expect(new Set(all.map((k) => k.account))).toEqual(new Set(['alice', 'bob']));
  });

  it('deleteSSHKeyPair removes the caller’s own key pair', async () => {
    await t.call('createSSHKeyPair', { name: 'short-lived' }, bob);
    const res = await t.call('deleteSSHKeyPair', { name: 'short-lived' }, bob);
    expect(res.status).toBe(200);
    expect(res.body['success']).toBe('true');
    expect((await t.call('listSSHKeyPairs', { name: 'short-lived' }, bob)).body['sshkeypair']).toBeUndefined();
  });
});

describe('key pairs on VMs', () => {
  it('deploy keypair= and keypairs= give the VM the keys; reset on a stopped VM replaces them; deleting a key pair leaves the VM its key', async () => {
    const k1 = sshKeygen('ed25519');
    const k2 = sshKeygen('ecdsa', 256);
    const k3 = sshKeygen('rsa', 2048);
    for (const [name, k] of [['one', k1], ['two', k2], ['three', k3]] as const) await t.call('registerSSHKeyPair', { name, publickey: k.line }, alice);
    const vm = await deployDemo(t, { name: 'keyed', keypair: 'one', keypairs: 'two,one' }, alice);
    expect(vm['keypairs']).toBe('one,two');
    const vmId = (t.engine.db.prepare('SELECT id FROM vm_instances WHERE uuid=?').get(vm['id']) as { id: number }).id;
    expect(publicKeysOfVm(t.engine.db, vmId)).toEqual([k1.line, k2.line].map((l) => l.split(' ').slice(0, 2).join(' ')));
    const listed = (await t.call('listVirtualMachines', { id: vm['id']! }, alice)).body['virtualmachine'] as { keypairs: string }[];
    expect(listed[0]!.keypairs).toBe('one,two');

    // Running: refused at once with CloudStack's message, nothing changed.
    const before = dbFingerprint(t.engine);
    const running = await t.call('resetSSHKeyForVirtualMachine', { id: vm['id']!, keypair: 'three' }, alice);
    expect(running.status).toBe(431);
    expect(errorText(running.body)).toContain('should be stopped to do SSH Key reset');
    expect(dbFingerprint(t.engine)).toBe(before);

    await t.run('stopVirtualMachine', { id: vm['id']! }, alice);
    const unknown = await t.call('resetSSHKeyForVirtualMachine', { id: vm['id']!, keypair: 'nope' }, alice);
    expect(unknown.status).toBe(431);
    expect(errorText(unknown.body)).toContain("keypair: A key pair with name 'nope' was not found.");
    const job = await t.run('resetSSHKeyForVirtualMachine', { id: vm['id']!, keypair: 'three' }, alice);
    expect(job['jobstatus']).toBe(1);
    expect((job['jobresult'] as { virtualmachine: { keypairs: string } }).virtualmachine.keypairs).toBe('three');
    expect(publicKeysOfVm(t.engine.db, vmId)).toEqual([k3.line.split(' ').slice(0, 2).join(' ')]);

    // Bob may not reset Alice's VM.
    expect((await t.call('resetSSHKeyForVirtualMachine', { id: vm['id']!, keypair: 'twice-1' }, bob)).status).toBe(531);

    await t.call('deleteSSHKeyPair', { name: 'three' }, alice);
    expect(publicKeysOfVm(t.engine.db, vmId)).toHaveLength(1);
  });
});

describe('getVirtualMachineUserData', () => {
  it('returns the base64 user data to the owner, and 531 to another account', async () => {
    const userdata = Buffer.from('#cloud-config\nruncmd:\n - touch /tmp/marker\n').toString('base64');
    const vm = await deployDemo(t, { name: 'with-data', userdata }, alice);
    expect(vm['userdata']).toBeUndefined();
    const res = await t.call('getVirtualMachineUserData', { virtualmachineid: vm['id']! }, alice);
    expect(res.status).toBe(200);
    expect(res.body['virtualmachineuserdata']).toEqual({ virtualmachineid: vm['id'], userdata });
    expect((await t.call('getVirtualMachineUserData', { virtualmachineid: vm['id']! }, bob)).status).toBe(531);
  });
});
