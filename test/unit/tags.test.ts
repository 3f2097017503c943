/**
 * Resource tags (R34) on UserVm, VMSnapshot, Volume, Template and ISO: what createTags writes is
 * what listTags, the resources' own responses and their tags[0].key/value filters show; refusals
 * are 431/531 and write nothing; one account never sees or changes another's tags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, deployDemo, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let alice: Caller;
let bob: Caller;
let vm: string;
let otherVm: string;
let bobVm: string;
let snapshot: string;
let volume: string;
let ids: ReturnType<typeof demoIds>;

function userOf(name: string): Caller {
  const domainId = (t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).get() as { id: number }).id;
  const { userId } = t.engine.accounts.createAccount({ name, role: 'User', domainId, username: name, password: 'secret-pw' });
  return t.engine.accounts.byUserId(userId)!;
}

const errorText = (body: Record<string, unknown>) => String(body['errortext']);
type Tag = { key: string; value: string; resourcetype: string; resourceid: string; account: string };
const tagParams = (pairs: Record<string, string>) => Object.fromEntries(Object.entries(pairs).flatMap(([k, v], i) => [[`tags[${i}].key`, k], [`tags[${i}].value`, v]]));

async function tag(resourcetype: string, resourceids: string, pairs: Record<string, string>, caller: Caller = alice) {
  const res = await t.call('createTags', { resourcetype, resourceids, ...tagParams(pairs) }, caller);
  if (res.status !== 200) return res;
  const job = await t.engine.jobs.wait(res.body['jobid'] as string);
  return { status: job['jobstatus'] === 1 ? 200 : 530, body: job };
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  alice = userOf('alice');
  bob = userOf('bob');
  vm = (await deployDemo(t, { name: 'tagged' }, alice))['id']!;
  otherVm = (await deployDemo(t, { name: 'plain' }, alice))['id']!;
  bobVm = (await deployDemo(t, { name: 'bobs' }, bob))['id']!;
  const snap = await t.run('createVMSnapshot', { virtualmachineid: vm, name: 'before-upgrade' }, alice);
  snapshot = (snap['jobresult'] as { vmsnapshot: { id: string } }).vmsnapshot.id;
  volume = ((await t.call('listVolumes', { virtualmachineid: vm }, alice)).body['volume'] as { id: string }[])[0]!.id;
});
afterAll(() => t.close());

describe('createTags and listTags', () => {
  it('tags a VM: listTags, the VM response and listVirtualMachines tags[0].key/value show it', async () => {
    expect((await tag('UserVm', vm, { env: 'prod', team: 'web' })).status).toBe(200);
    const listed = (await t.call('listTags', { resourceid: vm }, alice)).body['tag'] as Tag[];
    expect(listed.map((x) => `${x.key}=${x.value}`).sort()).toEqual(['env=prod', 'team=web']);
    expect(listed[0]).toMatchObject({ resourcetype: 'UserVm', resourceid: vm, account: 'alice' });
    const shown = ((await t.call('listVirtualMachines', { id: vm }, alice)).body['virtualmachine'] as { tags: Tag[] }[])[0]!;
    expect(shown.tags.map((x) => x.key)).toEqual(['env', 'team']);
    const filtered = (await t.call('listVirtualMachines', tagParams({ env: 'prod' }), alice)).body['virtualmachine'] as { id: string }[];
    expect(filtered.map((v) => v.id)).toEqual([vm]);
    expect((await t.call('listVirtualMachines', tagParams({ env: 'dev' }), alice)).body['virtualmachine']).toBeUndefined();
    // Several tags match as CloudStack's list queries match them: any one of the pairs.
    await tag('UserVm', otherVm, { env: 'dev' });
    const either = (await t.call('listVirtualMachines', tagParams({ env: 'prod', other: 'x' }), alice)).body['virtualmachine'] as { id: string }[];
    expect(either.map((v) => v.id)).toEqual([vm]);
    const both = (await t.call('listVirtualMachines', { 'tags[0].key': 'env', 'tags[0].value': 'prod', 'tags[1].key': 'env', 'tags[1].value': 'dev' }, alice)).body['virtualmachine'] as { id: string }[];
    expect(both.map((v) => v.id).sort()).toEqual([vm, otherVm].sort());
  });

  it('resourcetype is matched without case, as CloudStack does', async () => {
    expect((await tag('uservm', otherVm, { owner: 'ops' })).status).toBe(200);
    expect(((await t.call('listTags', { resourcetype: 'USERVM', key: 'owner' }, alice)).body['tag'] as Tag[])[0]!.resourcetype).toBe('UserVm');
  });

  it('tags a VM snapshot, a volume, a template and an ISO, each list filtering by its tag', async () => {
    expect((await tag('VMSnapshot', snapshot, { purpose: 'rollback' })).status).toBe(200);
    expect((await tag('Volume', volume, { tier: 'gold' })).status).toBe(200);
    const snaps = (await t.call('listVMSnapshot', tagParams({ purpose: 'rollback' }), alice)).body['vmSnapshot'] as { id: string; tags: Tag[] }[];
    expect(snaps.map((s) => s.id)).toEqual([snapshot]);
    expect(snaps[0]!.tags[0]).toMatchObject({ key: 'purpose', value: 'rollback', resourcetype: 'VMSnapshot' });
    expect((await t.call('listVMSnapshot', tagParams({ purpose: 'other' }), alice)).body['vmSnapshot']).toBeUndefined();
    const vols = (await t.call('listVolumes', tagParams({ tier: 'gold' }), alice)).body['volume'] as { id: string; tags: Tag[] }[];
    expect(vols.map((v) => v.id)).toEqual([volume]);
    expect(vols[0]!.tags[0]!.value).toBe('gold');
    // The demo template and ISO belong to the admin.
    expect((await tag('Template', ids.templateid, { os: 'debian' }, t.admin)).status).toBe(200);
    expect((await tag('ISO', ids.isoid, { media: 'installer' }, t.admin)).status).toBe(200);
    const templates = (await t.call('listTemplates', { templatefilter: 'executable', ...tagParams({ os: 'debian' }) }, alice)).body['template'] as { id: string; tags: Tag[] }[];
    expect(templates.map((x) => x.id)).toEqual([ids.templateid]);
    expect(templates[0]!.tags[0]!.key).toBe('os');
    expect((await t.call('listTemplates', { templatefilter: 'executable', ...tagParams({ os: 'arch' }) }, alice)).body['template']).toBeUndefined();
    const isos = (await t.call('listIsos', tagParams({ media: 'installer' }), alice)).body['iso'] as { id: string }[];
    expect(isos.map((x) => x.id)).toEqual([ids.isoid]);
    // A template tag does not tag the ISO with the same internal table, nor the other way.
    expect((await t.call('listIsos', tagParams({ os: 'debian' }), alice)).body['iso']).toBeUndefined();
  });
});

describe('refusals write nothing', () => {
  it.each<[string, Record<string, string>, number, RegExp]>([
    ['an unknown resource type', { resourcetype: 'Network', resourceids: '', 'tags[0].key': 'a', 'tags[0].value': 'b' }, 431, /resourcetype: Invalid resource type Network/],
    ['a tag without a value', { resourcetype: 'UserVm', resourceids: '', 'tags[0].key': 'a' }, 431, /tags: Value for the key a is either null or empty/],
    ['no tags at all', { resourcetype: 'UserVm', resourceids: '' }, 431, /missing parameter tags/],
    ['a resource that does not exist', { resourcetype: 'UserVm', resourceids: '00000000-0000-4000-8000-000000000000', 'tags[0].key': 'a', 'tags[0].value': 'b' }, 431, /resourceids: Unable to find resource by id 00000000-0000-4000-8000-000000000000 and type UserVm/],
    ['a VM id given as a volume', { resourcetype: 'Volume', resourceids: '', 'tags[0].key': 'a', 'tags[0].value': 'b' }, 431, /and type Volume/],
  ])('createTags with %s: %i', async (_what, params, status, message) => {
    const resolved = { ...params, resourceids: params['resourceids'] || vm };
    const before = dbFingerprint(t.engine);
    const res = await t.call('createTags', resolved, alice);
    expect(res.status).toBe(status);
    expect(errorText(res.body)).toMatch(message);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('a key the resource already has refuses the whole call: the other resource gets no tag either', async () => {
    const before = dbFingerprint(t.engine);
    const res = await t.call('createTags', { resourcetype: 'UserVm', resourceids: `${otherVm},${vm}`, ...tagParams({ env: 'staging' }) }, alice);
    expect(res.status).toBe(431);
    expect(errorText(res.body)).toContain(`tags: tag env already exists on UserVm`);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it("tagging another account's VM is 531, also when mixed with one's own", async () => {
    const before = dbFingerprint(t.engine);
    const res = await t.call('createTags', { resourcetype: 'UserVm', resourceids: `${vm},${bobVm}`, ...tagParams({ stolen: 'yes' }) }, alice);
    expect(res.status).toBe(531);
    expect(dbFingerprint(t.engine)).toBe(before);
    // A user cannot tag the admin's public template either.
    expect((await t.call('createTags', { resourcetype: 'Template', resourceids: ids.templateid, ...tagParams({ mine: 'no' }) }, alice)).status).toBe(531);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('a tag filter without a value is 431 naming tags', async () => {
    const res = await t.call('listVirtualMachines', { 'tags[0].key': 'env' }, alice);
    expect(res.status).toBe(431);
    expect(errorText(res.body)).toContain('tags: No value is passed in for key env');
  });
});

describe('isolation and deleteTags', () => {
  it("a user lists only its own account's tags, and cannot delete another's", async () => {
    await tag('UserVm', bobVm, { env: 'prod' }, bob);
    const bobs = (await t.call('listTags', {}, bob)).body['tag'] as Tag[];
    expect(bobs.map((x) => x.resourceid)).toEqual([bobVm]);
    const alices = (await t.call('listTags', { key: 'env', value: 'prod' }, alice)).body['tag'] as Tag[];
    expect(alices.map((x) => x.resourceid)).toEqual([vm]);
    expect(((await t.call('listVirtualMachines', tagParams({ env: 'prod' }), bob)).body['virtualmachine'] as { id: string }[]).map((v) => v.id)).toEqual([bobVm]);
    const before = dbFingerprint(t.engine);
    expect((await t.call('deleteTags', { resourcetype: 'UserVm', resourceids: bobVm }, alice)).status).toBe(531);
    expect(dbFingerprint(t.engine)).toBe(before);
    // The admin sees both.
    const all = (await t.call('listTags', { key: 'env', value: 'prod', listall: 'true' })).body['tag'] as Tag[];
    expect(all.map((x) => x.account).sort()).toEqual(['alice', 'bob']);
  });

  it('deletes by key, by key and value, and all of a resource; nothing matching is 431', async () => {
    const del = (params: Record<string, string>) => t.call('deleteTags', { resourcetype: 'UserVm', resourceids: vm, ...params }, alice);
    const wrongValue = await del({ 'tags[0].key': 'env', 'tags[0].value': 'dev' });
    expect(wrongValue.status).toBe(431);
    expect(errorText(wrongValue.body)).toContain('Unable to find any tags which conform to specified delete parameters.');
    const byKey = await del({ 'tags[0].key': 'team' });
    expect((await t.engine.jobs.wait(byKey.body['jobid'] as string))['jobstatus']).toBe(1);
    expect(((await t.call('listTags', { resourceid: vm }, alice)).body['tag'] as Tag[]).map((x) => x.key)).toEqual(['env']);
    const everything = await del({});
    expect((await t.engine.jobs.wait(everything.body['jobid'] as string))['jobstatus']).toBe(1);
    expect((await t.call('listTags', { resourceid: vm }, alice)).body['tag']).toBeUndefined();
    expect(((await t.call('listVirtualMachines', { id: vm }, alice)).body['virtualmachine'] as { tags: Tag[] }[])[0]!.tags).toEqual([]);
  });

  it("an expunged VM's tags are gone", async () => {
    const doomed = (await deployDemo(t, { name: 'doomed' }, bob))['id']!;
    await tag('UserVm', doomed, { fate: 'expunge' }, bob);
    expect(((await t.call('listTags', { resourceid: doomed }, bob)).body['tag'] as Tag[]).map((x) => x.key)).toEqual(['fate']);
    await t.run('destroyVirtualMachine', { id: doomed, expunge: 'true' }, t.admin);
    expect((await t.call('listTags', { listall: 'true', resourceid: doomed })).body['tag']).toBeUndefined();
    expect(t.engine.db.prepare('SELECT COUNT(*) AS n FROM resource_tags WHERE resource_uuid=?').get(doomed)).toEqual({ n: 0 });
  });
});

describe('domain admins', () => {
  it("see and tag their domain's resources and key pairs, never another domain's", async () => {
    const domain = (await t.call('createDomain', { name: 'branch' })).body['domain'] as { id: string };
    const domainId = (t.engine.db.prepare('SELECT id FROM domains WHERE uuid=?').get(domain.id) as { id: number }).id;
    const make = (name: string, role: 'User' | 'DomainAdmin') => t.engine.accounts.byUserId(t.engine.accounts.createAccount({ name, role, domainId, username: name, password: 'secret-pw' }).userId)!;
    const boss = make('branch-admin', 'DomainAdmin');
    const worker = make('branch-user', 'User');
    const workerVm = (await deployDemo(t, { name: 'branch-vm' }, worker))['id']!;
    await t.call('createSSHKeyPair', { name: 'branch-key' }, worker);
    // The domain admin tags its user's VM; the tag belongs to the VM's owner.
    expect((await tag('UserVm', workerVm, { site: 'branch' }, boss)).status).toBe(200);
    const seen = (await t.call('listTags', { listall: 'true' }, boss)).body['tag'] as Tag[];
    expect(seen.map((x) => [x.resourceid, x.account])).toEqual([[workerVm, 'branch-user']]);
    expect(((await t.call('listSSHKeyPairs', { listall: 'true' }, boss)).body['sshkeypair'] as { name: string }[]).map((k) => k.name)).toEqual(['branch-key']);
    // Alice's VM (ROOT domain, outside the branch) is out of reach, and unseen.
    const before = dbFingerprint(t.engine);
    expect((await t.call('createTags', { resourcetype: 'UserVm', resourceids: vm, ...tagParams({ site: 'x' }) }, boss)).status).toBe(531);
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});
