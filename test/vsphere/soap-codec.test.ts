/**
 * The vim25 codec on its own: requests escape every value, responses captured from vcsim
 * (test/vsphere/fixtures, vcsim 0.24.2 with Kiln's main) decode to typed values, and faults map
 * by their type attribute whatever its prefix.
 */
import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import {
  MoRef, SoapEncodeError, VimFault, asArray, asObject, decodeResponse, encodeRequest, faultFromLocalized, moref, normalizeThumbprint, typed,
} from '../../drivers/vsphere/soap/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const faultOf = (xml: string, method: string): VimFault => {
  try {
    decodeResponse(xml, method);
  } catch (e) {
    return e as VimFault;
  }
  throw new Error('no fault');
};

// An independent reading of the request (preserveOrder keeps the element sequence as sent).
const reader = new XMLParser({ ignoreAttributes: false, preserveOrder: true, trimValues: false, parseTagValue: false });
function methodElement(xml: string, method: string): Array<Record<string, unknown>> {
  const doc = reader.parse(xml) as Array<Record<string, unknown>>;
  const env = doc.find((n) => 'soapenv:Envelope' in n)!['soapenv:Envelope'] as Array<Record<string, unknown>>;
  const body = env.find((n) => 'soapenv:Body' in n)!['soapenv:Body'] as Array<Record<string, unknown>>;
  return body.find((n) => method in n)![method] as Array<Record<string, unknown>>;
}
const textOf = (children: Array<Record<string, unknown>>, name: string): string =>
  ((children.find((n) => name in n)![name] as Array<Record<string, unknown>>)[0]?.['#text'] as string | undefined) ?? '';

describe('requests', () => {
  it('escapes hostile text so it stays one value and the document keeps its shape', () => {
    for (const name of ['<b>&"\'', ']]>', 'a]]><x>&amp;</x>', '  spaced  ', '<newName>evil</newName>']) {
      const xml = encodeRequest('Rename_Task', moref('VirtualMachine', 'vm-1'), { newName: name });
      expect(xml).not.toContain('<b>');
      expect(xml).not.toContain(']]>');
      const children = methodElement(xml, 'Rename_Task');
      expect(children.map((c) => Object.keys(c).find((k) => k !== ':@'))).toEqual(['_this', 'newName']);
      expect(textOf(children, 'newName')).toBe(name);
    }
  });

  it('escapes attribute values of references too', () => {
    const xml = encodeRequest('PowerOnVM_Task', moref('VirtualMachine', 'vm-"1"<'), {});
    expect(xml).toContain('<_this type="VirtualMachine">vm-&quot;1&quot;&lt;</_this>');
  });

  it('refuses what XML cannot carry instead of dropping it', () => {
    expect(() => encodeRequest('Rename_Task', moref('VirtualMachine', 'vm-1'), { newName: 'a\u0001b' })).toThrow(SoapEncodeError);
    expect(() => encodeRequest('X', moref('A', 'b'), { 'bad name': 'x' })).toThrow(/bad field name/);
    expect(() => encodeRequest('X', moref('A', 'b'), { n: Number.NaN })).toThrow(SoapEncodeError);
  });

  it('writes element order as given, xsi:type for typed values, repeated elements for arrays', () => {
    const xml = encodeRequest('ReconfigVM_Task', moref('VirtualMachine', 'vm-7'), {
      spec: { numCPUs: 2, memoryMB: 512, extraConfig: [{ key: 'k1', value: typed('xsd:string', 'v1') }, { key: 'k2', value: typed('xsd:string', 'v2') }], ignored: undefined },
    });
    expect(xml).toContain('<spec><numCPUs>2</numCPUs><memoryMB>512</memoryMB><extraConfig><key>k1</key><value xsi:type="xsd:string">v1</value></extraConfig><extraConfig><key>k2</key><value xsi:type="xsd:string">v2</value></extraConfig></spec>');
    expect(xml).toContain('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"');
  });

  it('writes arrays in anyType slots as ArrayOf… with their item elements, and refuses them untyped', () => {
    const xml = encodeRequest('SetField', moref('CustomFieldsManager', 'cfm'), { value: typed('ArrayOfString', ['a<', 'b']), refs: typed('ArrayOfManagedObjectReference', [moref('HostSystem', 'host-1')]) });
    expect(xml).toContain('<value xsi:type="ArrayOfString"><string>a&lt;</string><string>b</string></value>');
    expect(xml).toContain('<refs xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="HostSystem">host-1</ManagedObjectReference></refs>');
    expect(() => encodeRequest('X', moref('A', 'b'), { v: typed('xsd:string', ['a']) })).toThrow(/ArrayOf/);
    const back = decodeResponse('<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><XResponse xmlns="urn:vim25"><returnval xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ArrayOfString"><string>a&lt;</string><string>b</string></returnval></XResponse></soapenv:Body></soapenv:Envelope>', 'X').returnval;
    expect(back).toEqual(['a<', 'b']);
  });
});

describe('responses captured from vcsim', () => {
  it('RetrieveServiceContent: references and nested objects', () => {
    const sc = asObject(decodeResponse(fixture('service-content.xml'), 'RetrieveServiceContent', 'ServiceContent').returnval);
    expect(sc['rootFolder']).toEqual(new MoRef('Folder', 'group-d1'));
    expect(sc['propertyCollector']).toEqual(new MoRef('PropertyCollector', 'propertyCollector'));
    expect(asObject(sc['about'])['apiType']).toBe('VirtualCenter');
  });

  it('RetrievePropertiesEx page: token, typed values under XMLSchema-instance:type, one-element arrays', () => {
    const res = asObject(decodeResponse(fixture('retrieve-vms-page.xml'), 'RetrievePropertiesEx', 'RetrieveResult').returnval);
    expect(typeof res['token']).toBe('string');
    const objects = asArray(res['objects']);
    expect(objects).toHaveLength(2);
    const first = asObject(objects[0]);
    expect(first['obj']).toBeInstanceOf(MoRef);
    const props = Object.fromEntries(asArray(first['propSet']).map((p) => [asObject(p)['name'] as string, asObject(p)['val']]));
    expect(props['name']).toBe('DC0_H0_VM0');
    expect(props['runtime.powerState']).toBe('poweredOn');
    expect(props['config.hardware.numCPU']).toBe(1);
    expect(props['config.hardware.memoryMB']).toBe(32);
    expect(props['runtime.host']).toBeInstanceOf(MoRef);
    expect((props['runtime.host'] as MoRef).type).toBe('HostSystem');
    const ds = props['datastore'] as MoRef[];
    expect(Array.isArray(ds) && ds.length === 1 && ds[0] instanceof MoRef && ds[0].type === 'Datastore').toBe(true);
  });

  it('ContinueRetrievePropertiesEx: the last page has no token', () => {
    const res = asObject(decodeResponse(fixture('continue-vms-page.xml'), 'ContinueRetrievePropertiesEx', 'RetrieveResult').returnval);
    expect(res['token']).toBeUndefined();
    expect(asArray(res['objects'])).toHaveLength(1);
  });

  it('WaitForUpdatesEx: polymorphic devices keep their type', () => {
    const set = asObject(decodeResponse(fixture('wait-for-updates.xml'), 'WaitForUpdatesEx', 'UpdateSet').returnval);
    const update = asObject(asArray(asObject(asArray(set['filterSet'])[0])['objectSet'])[0]);
    expect(update['kind']).toBe('enter');
    const devices = asArray(asObject(asArray(update['changeSet']).find((c) => asObject(c)['name'] === 'config.hardware.device'))['val']);
    expect(devices.length).toBeGreaterThan(3);
    expect(devices.map((d) => asObject(d).$type)).toContain('VirtualDisk');
    expect(typeof asObject(devices[0])['key']).toBe('number');
  });

  it('faults map by type: xsi:type in faults, XMLSchema-instance:type in task errors', () => {
    expect(faultOf(fixture('fault-invalid-login.xml'), 'Login').type).toBe('InvalidLogin');
    expect(faultOf(fixture('fault-not-authenticated.xml'), 'CreateContainerView').type).toBe('NotAuthenticated');
    expect(faultOf(fixture('fault-reboot-tools.xml'), 'RebootGuest').type).toBe('ToolsUnavailable');
    expect(faultOf(fixture('fault-bad-token.xml'), 'ContinueRetrievePropertiesEx').detail['invalidProperty']).toBe('token');
    const notFound = faultOf(fixture('fault-not-found.xml'), 'PowerOffVM_Task');
    expect(notFound.type).toBe('ManagedObjectNotFound');
    expect(notFound.detail['obj']).toEqual(new MoRef('VirtualMachine', 'vm-nope'));
    expect(notFound.message).toContain('ManagedObjectNotFound');

    const res = asObject(decodeResponse(fixture('task-error.xml'), 'RetrievePropertiesEx', 'RetrieveResult').returnval);
    const info = asObject(asObject(asArray(asObject(asArray(res['objects'])[0])['propSet'])[0])['val']);
    expect(info.$type).toBe('TaskInfo');
    expect(info['state']).toBe('error');
    const fault = faultFromLocalized(info['error'], 'PowerOnVM_Task');
    expect(fault.type).toBe('InvalidPowerState');
    expect(fault.detail['existingState']).toBe('poweredOn');
  });

  it('accepts any prefix for the type attribute, and the element name when there is none', () => {
    const wrap = (detail: string) => `<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault><faultcode>ServerFaultCode</faultcode><faultstring>x</faultstring><detail>${detail}</detail></S:Fault></S:Body></S:Envelope>`;
    expect(faultOf(wrap('<F xmlns:q="http://www.w3.org/2001/XMLSchema-instance" q:type="vim25:InvalidState"/>'), 'M').type).toBe('InvalidState');
    expect(faultOf(wrap('<TaskInProgressFault xmlns="urn:vim25"/>'), 'M').type).toBe('TaskInProgress');
  });

  it("decodes Go's character references (vcsim writes &#34; and &#xA;)", () => {
    const xml = '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><XResponse xmlns="urn:vim25"><returnval>a&#34;b&#39;c&#xA;d&lt;e&gt;&amp;]]&gt;</returnval></XResponse></soapenv:Body></soapenv:Envelope>';
    expect(decodeResponse(xml, 'X').returnval).toBe('a"b\'c\nd<e>&]]>');
  });
});

describe('thumbprints', () => {
  it('normalizes to vCenter form and refuses non-SHA-256 values', () => {
    const hex = 'ab'.repeat(32);
    expect(normalizeThumbprint(hex)).toBe(Array(32).fill('AB').join(':'));
    expect(normalizeThumbprint(Array(32).fill('ab').join(':'))).toBe(Array(32).fill('AB').join(':'));
    expect(() => normalizeThumbprint('AB:CD')).toThrow(/SHA-256/);
  });
});
