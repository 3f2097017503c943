/**
 * Domain scoping with names that are SQL LIKE wildcards. A domain admin of `team_a` must not
 * see `teamXa` (`_` matches any character), a domain admin of `%` must not see every domain,
 * and a domain admin of `Team` must not see `team` (LIKE ignores ASCII case). Each list that
 * scopes by domain is asked as the domain admin and must answer only its own subtree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, deployDemo, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
const admins: Record<string, Caller> = {};
const users: Record<string, Caller> = {};

/** Creates domain NAME under ROOT with a domain admin and a user who owns a VM, a group, a snapshot and a template. */
async function domainWithResources(name: string): Promise<void> {
  const res = await t.call('createDomain', { name });
  expect(res.status).toBe(200);
  const domainId = (t.engine.db.prepare('SELECT id FROM domains WHERE uuid=?').get((res.body['domain'] as { id: string }).id) as { id: number }).id;
  const tag = tagOf(name);
  const admin = t.engine.accounts.createAccount({ name: `${tag}-admin`, role: 'DomainAdmin', domainId, username: `${tag}-admin`, password: 'secret-pw' });
  const user = t.engine.accounts.createAccount({ name: `${tag}-user`, role: 'User', domainId, username: `${tag}-user`, password: 'secret-pw' });
  admins[name] = t.engine.accounts.byUserId(admin.userId)!;
  users[name] = t.engine.accounts.byUserId(user.userId)!;
  const vm = await deployDemo(t, { name: `${tag}-vm` }, users[name]);
  expect((await t.call('createAffinityGroup', { name: `${tag}-group`, type: 'host anti-affinity' }, users[name])).status).toBe(200);
  expect((await t.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: `${tag}-snap` }, users[name]))['jobstatus']).toBe(1);
  // A private template owned by the user, copied from the demo template's row.
  t.engine.db
    .prepare(`INSERT INTO templates (uuid, name, display_text, format, hypervisor, os_type_id, is_public, account_id, created)
      SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)),2) || '-8' || substr(hex(randomblob(2)),2) || '-' || hex(randomblob(6))),
        ?, ?, format, hypervisor, os_type_id, 0, ?, created FROM templates WHERE name='Debian 12'`)
    .run(`${tag}-template`, `${tag}-template`, user.accountId);
}

beforeAll(async () => {
  t = await testEngine();
  for (const name of ['team_a', 'teamXa', '%', 'Team', 'team']) await domainWithResources(name);
}, 60_000);
afterAll(() => t?.close());

const names = async (caller: Caller, command: string, key: string, params: Record<string, string> = {}) => {
  const res = await t.call(command, params, caller);
  expect(res.status).toBe(200);
  return ((res.body[key] ?? []) as { name: string }[]).map((r) => r.name).sort();
};

describe('domain scoping with LIKE wildcards and case in domain names', () => {
  it.each(['team_a', '%', 'Team'])('a domain admin of %s lists only its own domain', async (domain) => {
    const admin = admins[domain]!;
    expect(await names(admin, 'listDomains', 'domain')).toEqual([domain]);
    expect(await names(admin, 'listAccounts', 'account')).toEqual([`${tagOf(domain)}-admin`, `${tagOf(domain)}-user`]);
    const users = ((await t.call('listUsers', { listall: 'true' }, admin)).body['user'] as { username: string }[]).map((u) => u.username).sort();
    expect(users).toEqual([`${tagOf(domain)}-admin`, `${tagOf(domain)}-user`]);
    expect(await names(admin, 'listVirtualMachines', 'virtualmachine', { listall: 'true' })).toEqual([`${tagOf(domain)}-vm`]);
    expect((await names(admin, 'listVolumes', 'volume', { listall: 'true' })).length).toBe(1);
    const volumeOwners = ((await t.call('listVolumes', { listall: 'true' }, admin)).body['volume'] as { domain: string }[]).map((v) => v.domain);
    expect(volumeOwners).toEqual([domain]);
    expect(await names(admin, 'listAffinityGroups', 'affinitygroup', { listall: 'true' })).toEqual([`${tagOf(domain)}-group`]);
    const snapshots = ((await t.call('listVMSnapshot', { listall: 'true' }, admin)).body['vmSnapshot'] ?? []) as { displayname: string }[];
    expect(snapshots.map((s) => s.displayname)).toEqual([`${tagOf(domain)}-snap`]);
    expect((await names(admin, 'listTemplates', 'template', { templatefilter: 'self' }))).toEqual([`${tagOf(domain)}-template`]);
  });

  it('refuses a domain admin acting on an account of the look-alike domain (531)', async () => {
    const other = users['teamXa']!;
    const res = await t.call('registerUserKeys', { id: other.userUuid }, admins['team_a']);
    expect(res.status).toBe(531);
    const vm = (t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE account_id=?`).get(users['team']!.accountId) as { uuid: string }).uuid;
    expect((await t.call('createConsoleEndpoint', { virtualmachineid: vm }, admins['Team'])).status).toBe(531);
  });

  it('lets the root admin see every domain', async () => {
    expect(await names(t.admin, 'listDomains', 'domain')).toEqual(['%', 'ROOT', 'Team', 'team', 'teamXa', 'team_a'].sort());
  });
});

/** Account names stay plain: the wildcard characters are spelled as hex. */
function tagOf(name: string): string {
  return `d-${name.replace(/[^A-Za-z0-9]/g, (c) => c.charCodeAt(0).toString(16))}`;
}
