/**
 * Parameter format rules (main/engine/registry/param-rules.ts): declared once on a parameter,
 * enforced by the registry's parameter check with a 431 naming the parameter, and published by
 * listApis (pattern, patternmessage) for the UI. The hostname rule refuses `1web` on deploy and
 * on update; the SSH fingerprint rule guards acceptHostKey and addHost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import { HOSTNAME_RULE, SSH_FINGERPRINT_RULE, SSH_URL_RULE, TRUST_FINGERPRINT_RULE } from '../../main/engine/registry/param-rules.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
});
afterAll(async () => t.close());

const deploy = (name: string) => t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name });
const vmCount = () => t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get() as number;

describe('the hostname rule', () => {
  it('refuses 1web (and -web, web-, web_1, 64 characters) on deploy with a 431 naming name, creating nothing', async () => {
    const before = vmCount();
    const res = await deploy('1web');
    expect(res.status).toBe(431);
    expect(res.body['errortext']).toBe('name: "1web" is not a valid hostname: at most 63 characters of letters, digits and hyphens, starting with a letter and ending with a letter or digit');
    for (const bad of ['-web', 'web-', 'web_1', '123']) {
      const r = await deploy(bad);
      expect(r.status, bad).toBe(431);
      expect(r.body['errortext']).toBe(`name: "${bad}" ${HOSTNAME_RULE.message}`);
    }
    expect((await deploy(`w${'a'.repeat(63)}`)).body['errortext']).toMatch(/Parameter name is 64 characters long; the limit is 63/);
    expect(vmCount()).toBe(before);
    const ok = await deploy('web1');
    expect(ok.status).toBe(200);
  });

  it('refuses 1web as a new name on updateVirtualMachine too', async () => {
    const vm = t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE display_name='demo-web'`).pluck().get() as string;
    const res = await t.call('updateVirtualMachine', { id: vm, name: '1web' });
    expect(res.status).toBe(431);
    expect(res.body['errortext']).toBe(`name: "1web" ${HOSTNAME_RULE.message}`);
  });

  it('is published by listApis with the parameter, as a pattern that means the same', async () => {
    const apis = (await t.call('listApis')).body['api'] as { name: string; params: { name: string; pattern?: string; patternmessage?: string }[] }[];
    const param = (command: string, name: string) => apis.find((a) => a.name === command)!.params.find((p) => p.name === name)!;
    for (const command of ['deployVirtualMachine', 'updateVirtualMachine']) {
      expect(param(command, 'name')).toMatchObject({ pattern: HOSTNAME_RULE.pattern, patternmessage: HOSTNAME_RULE.message });
    }
    const re = new RegExp(param('deployVirtualMachine', 'name').pattern!);
    expect(['1web', 'web-', 'a_b'].map((v) => re.test(v))).toEqual([false, false, false]);
    expect(['web1', 'a', 'my-vm-2'].map((v) => re.test(v))).toEqual([true, true, true]);
    expect(param('acceptHostKey', 'fingerprint')).toMatchObject({ pattern: TRUST_FINGERPRINT_RULE.pattern });
    expect(param('addHost', 'hostkeyfingerprint')).toMatchObject({ pattern: SSH_FINGERPRINT_RULE.pattern });
    // A parameter without a rule has none.
    expect(param('deployVirtualMachine', 'displayname').pattern).toBeUndefined();
  });
});

describe('the SSH address rule (probeHostKey)', () => {
  it('refuses what is not ssh://host[:port] with a 431 naming url, before any connection', async () => {
    for (const url of ['http://10.0.0.5', 'ssh://root@10.0.0.5', 'ssh://10.0.0.5:port', 'ssh://', 'ssh://a b', 'ssh://h/path']) {
      const res = await t.call('probeHostKey', { url });
      expect(res.status, url).toBe(431);
      expect(res.body['errortext']).toBe(`url: "${url}" ${SSH_URL_RULE.message}`);
    }
    const re = new RegExp(SSH_URL_RULE.pattern);
    expect(['ssh://10.0.0.5', 'ssh://kvm-1.lab:2222', 'ssh://h/', 'ssh://[::1]:22'].map((u) => re.test(u))).toEqual([true, true, true, true]);
  });
});

describe('the SSH fingerprint rule', () => {
  it('refuses a malformed fingerprint on acceptHostKey before looking at the host', async () => {
    const host = t.engine.db.prepare('SELECT uuid FROM hosts LIMIT 1').pluck().get() as string;
    const res = await t.call('acceptHostKey', { id: host, fingerprint: 'SHA256:short' });
    expect(res.status).toBe(431);
    expect(res.body['errortext']).toBe(`fingerprint: "SHA256:short" ${TRUST_FINGERPRINT_RULE.message}`);
  });
});
