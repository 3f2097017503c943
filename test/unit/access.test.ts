/**
 * One suite, three callers (root admin, domain admin, user) against the same VMs. Acting on a
 * VM outside one's reach is 531; an admin-only parameter from a non-admin is 531; a root-only
 * command is not offered to other roles at all (432, as CloudStack answers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
const callers: Record<'root' | 'domainAdmin' | 'user', Caller> = {} as never;
let engVm: string;
let opsVm: string;

async function account(name: string, role: 'User' | 'DomainAdmin', domain: string): Promise<Caller> {
  const d = (await t.call('createDomain', { name: domain })).body['domain'] as { id: string } | undefined;
  const domainId = (t.engine.db.prepare('SELECT id FROM domains WHERE uuid=? OR path=?').get(d?.id ?? '', `/${domain}/`) as { id: number }).id;
  const { userId } = t.engine.accounts.createAccount({ name, role, domainId, username: name, password: 'secret-pw' });
  return t.engine.accounts.byUserId(userId)!;
}

async function deployAs(caller: Caller, name: string): Promise<string> {
  const job = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name }, caller);
  return (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  callers.root = t.admin;
  callers.domainAdmin = await account('eng-admin', 'DomainAdmin', 'eng');
  callers.user = await account('eng-user', 'User', 'eng');
  const ops = await account('ops-user', 'User', 'ops');
  engVm = await deployAs(callers.user, 'eng-vm');
  opsVm = await deployAs(ops, 'ops-vm');
});
afterAll(() => t.close());

type Who = keyof typeof callers;
const statusOf = async (who: Who, command: string, params: Record<string, string>) => (await t.call(command, params, callers[who])).status;

describe('access control across three callers', () => {
  it.each<[Who, number]>([['root', 200], ['domainAdmin', 531], ['user', 531]])('%s acting on a VM of another domain: %i', async (who, expected) => {
    expect(await statusOf(who, 'createConsoleEndpoint', { virtualmachineid: opsVm })).toBe(expected);
    expect(await statusOf(who, 'updateVirtualMachine', { id: opsVm, displayname: 'x' })).toBe(expected);
  });

  it.each<[Who, number]>([['root', 200], ['domainAdmin', 200], ['user', 200]])('%s acting on a VM of its own domain: %i', async (who, expected) => {
    expect(await statusOf(who, 'createConsoleEndpoint', { virtualmachineid: engVm })).toBe(expected);
  });

  it.each<[Who, number]>([['root', 200], ['domainAdmin', 432], ['user', 432]])('%s calling root-only commands: %i', async (who, expected) => {
    expect(await statusOf(who, 'listHosts', {})).toBe(expected);
    expect(await statusOf(who, 'updateConfiguration', { name: 'expunge.delay', value: '86400' })).toBe(expected);
    // The root admin may recover; this VM is not destroyed, so it gets the state error instead.
    expect(await statusOf(who, 'recoverVirtualMachine', { id: engVm })).toBe(who === 'root' ? 431 : expected);
  });

  it.each<[Who, number]>([['root', 200], ['domainAdmin', 531], ['user', 531]])('%s choosing the host at deploy: %i', async (who, expected) => {
    const host = (t.engine.db.prepare('SELECT uuid FROM hosts LIMIT 1').get() as { uuid: string }).uuid;
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, hostid: host, startvm: 'false' }, callers[who]);
    expect(res.status).toBe(expected);
  });

  it('lists what each caller may see', async () => {
    const names = async (who: Who) => (((await t.call('listVirtualMachines', {}, callers[who])).body['virtualmachine'] ?? []) as { name: string }[]).map((v) => v.name).sort();
    expect(await names('root')).toEqual(expect.arrayContaining(['demo-db', 'demo-web', 'eng-vm', 'ops-vm']));
    expect(await names('domainAdmin')).toEqual(['eng-vm']);
    expect(await names('user')).toEqual(['eng-vm']);
  });

  it('gives the console endpoint a one-time token for the VM', async () => {
    const res = await t.call('createConsoleEndpoint', { virtualmachineid: engVm }, callers.user);
    const endpoint = res.body['consoleendpoint'] as { success: boolean; websocket: { token: string } };
    expect(endpoint.success).toBe(true);
    expect(t.engine.consoleTokens.redeem(endpoint.websocket.token)?.vmUuid).toBe(engVm);
    expect(t.engine.consoleTokens.redeem(endpoint.websocket.token)).toBeUndefined();
  });
});
