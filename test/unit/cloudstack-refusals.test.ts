/**
 * Refusals a CloudStack client expects in CloudStack's shape, found by the hardening probes:
 * migrating a VM to the host it runs on is a bad argument (431, as CloudStack's
 * InvalidParameterValueException), not a shortage (533); control characters in names and map
 * keys are refused in the shared parameter check and nothing is written; and an id that names
 * nothing says which command refused it, as CloudStack's text does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, deployDemo, dbFingerprint, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
});
afterAll(() => t.close());

const text = (body: Record<string, unknown>) => String(body['errortext']);

describe('migrating a VM to the host it already runs on', () => {
  let vm: Record<string, string>;
  beforeAll(async () => {
    vm = await deployDemo(t, { name: 'stay-put' });
  });

  for (const command of ['migrateVirtualMachine', 'migrateVirtualMachineWithVolume']) {
    it(`${command} answers 431 naming hostid, and the VM stays Running where it was`, async () => {
      const before = dbFingerprint(t.engine);
      const res = await t.call(command, { virtualmachineid: vm['id']!, hostid: vm['hostid']! });
      expect(res.status, JSON.stringify(res.body)).toBe(431);
      expect(res.body).toMatchObject({ errorcode: 431, cserrorcode: 4350 });
      expect(text(res.body)).toBe(`hostid: cannot migrate VM stay-put to host ${vm['hostname']}: the VM already runs on this host; choose another host`);
      expect(dbFingerprint(t.engine)).toBe(before);
      const listed = (await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as Record<string, string>[];
      expect(listed[0]).toMatchObject({ state: 'Running', hostid: vm['hostid'] });
    });
  }

  it('findHostsForMigration gives the same reason for the VM\'s own host', async () => {
    const hosts = (await t.call('findHostsForMigration', { id: vm['id']! })).body['host'] as { id: string; suitableformigration: boolean; reason: string }[];
    expect(hosts.find((h) => h.id === vm['hostid'])).toMatchObject({ suitableformigration: false, reason: 'the VM already runs on this host' });
  });
});

describe('control characters in parameter values', () => {
  const offering = (extra: Record<string, string>) => ({ name: 'ctl-offering', displaytext: 'x', cpunumber: '1', cpuspeed: '1000', memory: '512', ...extra });

  it('refuses a NUL in a map key with 431 naming the parameter, writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const res = await t.call('createServiceOffering', offering({ 'serviceofferingdetails[0].\u0000<x>': 'v' }));
    expect(res.status, JSON.stringify(res.body)).toBe(431);
    expect(text(res.body)).toBe('Unable to execute API command createserviceoffering due to invalid value. Invalid parameter serviceofferingdetails[0].\\u0000<x>: a key is letters, digits and _ . : - only');
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('refuses a map key that is not an identifier, and a control character in a map value', async () => {
    const spaced = await t.call('createServiceOffering', offering({ 'serviceofferingdetails[0].a b': 'v' }));
    expect(spaced.status).toBe(431);
    expect(text(spaced.body)).toMatch(/Invalid parameter serviceofferingdetails\[0\]\.a b: a key is letters, digits and _ \. : - only/);
    const value = await t.call('createServiceOffering', offering({ 'serviceofferingdetails[0].pciDevice': 'v\u0000' }));
    expect(value.status).toBe(431);
    expect(text(value.body)).toMatch(/Invalid parameter serviceofferingdetails\[0\]\.pciDevice value=v\\u0000: contains the control character U\+0000/);
  });

  it('refuses a control character or a line break in a key given as details[i].key', async () => {
    for (const key of ['k\u0000', 'k\nx', 'k\tx']) {
      const res = await t.call('createServiceOffering', offering({ 'serviceofferingdetails[0].key': key, 'serviceofferingdetails[0].value': 'v' }));
      expect(res.status, JSON.stringify(key)).toBe(431);
      expect(text(res.body)).toMatch(/Invalid parameter serviceofferingdetails\[0\]\.key value=k\\u00(00|0a|09)x?: contains the control character U\+00(00|0A|09); this parameter takes no control characters, tabs or line breaks/);
    }
  });

  it('refuses markup as a detail key given as details[i].key (it names a setting), writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const crafted = 'a></serviceofferingdetails><name>injected</name><b';
    const res = await t.call('createServiceOffering', offering({ 'serviceofferingdetails[0].key': crafted, 'serviceofferingdetails[0].value': 'v' }));
    expect(res.status).toBe(431);
    expect(text(res.body)).toContain(`Invalid parameter serviceofferingdetails[0].key value=${crafted}: a key is letters, digits and _ . : - only`);
    expect(dbFingerprint(t.engine)).toBe(before);
    const plain = await t.call('createServiceOffering', offering({ 'serviceofferingdetails[0].key': 'rootDiskController', 'serviceofferingdetails[0].value': 'scsi' }));
    expect(plain.status).toBe(200);
  });

  it('refuses a NUL in a name (createAffinityGroup name=a\\u0000<b>) with 431 naming name, writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const res = await t.call('createAffinityGroup', { name: 'a\u0000<b>', type: 'host anti-affinity' });
    expect(res.status, JSON.stringify(res.body)).toBe(431);
    expect(text(res.body)).toBe('Unable to execute API command createaffinitygroup due to invalid value. Invalid parameter name value=a\\u0000<b>: contains the control character U+0000; this parameter takes no control characters, tabs or line breaks');
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('refuses a line break or DEL in a name, but keeps line breaks and tabs in free text', async () => {
    for (const name of ['a\nb', 'a\rb', 'a\u007fb', 'a\u001bb']) {
      const res = await t.call('createAffinityGroup', { name, type: 'host anti-affinity' });
      expect(res.status, JSON.stringify(name)).toBe(431);
      expect(text(res.body)).toMatch(/Invalid parameter name value=.*contains the control character U\+00/);
    }
    const multi = await t.call('createAffinityGroup', { name: 'ok-group', type: 'host anti-affinity', description: 'line one\n\tline two\r\n' });
    expect(multi.status, JSON.stringify(multi.body)).toBe(200);
    const nul = await t.call('createAffinityGroup', { name: 'nul-group', type: 'host anti-affinity', description: 'a\u0000b' });
    expect(nul.status).toBe(431);
    expect(text(nul.body)).toMatch(/Invalid parameter description value=a\\u0000b: contains the control character U\+0000; only tab and line breaks are allowed here/);
  });

  it('still takes a public key pasted with the .pub file\'s final newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-key-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
      const pasted = readFileSync(join(dir, 'k.pub'), 'utf8');
      expect(pasted.endsWith('\n')).toBe(true);
      const res = await t.call('registerSSHKeyPair', { name: 'pasted', publickey: pasted });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('still takes the detail keys Kiln and CloudStack use', async () => {
    const res = await t.call('createServiceOffering', offering({ name: 'gpu-ok', 'serviceofferingdetails[0].pciDevice': 'Group of NVIDIA A100', 'serviceofferingdetails[0].vgpuType': 'A100-1g.5gb', 'serviceofferingdetails[1].cpuOvercommitRatio': '2.0' }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
});

describe('an id that names nothing', () => {
  const missing = '00000000-0000-4000-8000-000000000000';

  it('names the command, as CloudStack does (a lookup by uuid)', async () => {
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: missing });
    expect(res.status).toBe(431);
    expect(text(res.body)).toBe(`Unable to execute API command deployvirtualmachine due to invalid value. Invalid parameter serviceofferingid value=${missing} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`);
  });

  it('names the command, as CloudStack does (a VM the caller names)', async () => {
    const res = await t.call('stopVirtualMachine', { id: missing });
    expect(res.status).toBe(431);
    expect(text(res.body)).toBe(`Unable to execute API command stopvirtualmachine due to invalid value. Invalid parameter id value=${missing} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`);
  });
});
