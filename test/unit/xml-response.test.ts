/**
 * response=xml stays well-formed whatever users put in names, detail keys and command names:
 * every answer here is parsed back with fast-xml-parser's validator and parser.
 */
import { describe, expect, it } from 'vitest';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { toXml, xmlName, xmlText } from '../../main/http/xml.js';

const parse = (xml: string) => new XMLParser({ ignoreAttributes: false, parseTagValue: false }).parse(xml) as Record<string, unknown>;

describe('XML responses', () => {
  it('keeps the CloudStack form for ordinary fields', () => {
    const xml = toXml('listzonesresponse', { count: 1, zone: [{ id: 'z1', name: 'Demo', tags: [] , dns: null }] }, '4.20.0');
    expect(xml).toBe('<?xml version="1.0" encoding="UTF-8"?><listzonesresponse cloud-stack-version="4.20.0"><count>1</count><zone><id>z1</id><name>Demo</name></zone></listzonesresponse>');
  });

  it('escapes values and strips characters XML 1.0 cannot carry', () => {
    const xml = toXml('x', { name: 'a<b>&"\'\u0000\u0001\u001b\uffff\ud800z 데모 😀' }, '1');
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(parse(xml)).toEqual({ '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' }, x: { '@_cloud-stack-version': '1', name: 'a<b>&"\'z 데모 😀' } });
  });

  it('encodes detail keys that are not XML names, so a crafted key cannot inject elements', () => {
    const body = {
      virtualmachine: [
        { id: 'mine', details: { 'a></details><account>admin</account><details><b': 'x', '1st': 'one', 'x:y': 'ns', 'has space': 's', '#text': 't', '@_attr': 'a', '': 'empty', 'ctl\u0007': 'bell', ok_key: 'v' } },
        { id: 'other', account: 'victim' },
      ],
    };
    const xml = toXml('listvirtualmachinesresponse', body, '4.20.0');
    expect(XMLValidator.validate(xml)).toBe(true);
    const vms = (parse(xml)['listvirtualmachinesresponse'] as { virtualmachine: Record<string, unknown>[] }).virtualmachine;
    expect(vms).toHaveLength(2);
    expect(vms[0]!['account']).toBeUndefined();
    expect(vms[1]).toEqual({ id: 'other', account: 'victim' });
    const details = vms[0]!['details'] as Record<string, string>;
    expect(details['ok_key']).toBe('v');
    expect(details['_x0031_st']).toBe('one');
    expect(details['x_x003A_y']).toBe('ns');
    expect(details['has_x0020_space']).toBe('s');
    expect(details['_x0023_text']).toBe('t');
    expect(details['_']).toBe('empty');
    expect(details['ctl_x0007_']).toBe('bell');
  });

  it('encodes an unknown command name in the envelope element', () => {
    const xml = toXml('<bad name>&response', { errorcode: 432, errortext: 'The given command <bad name>& either does not exist' }, '4.20.0');
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(Object.keys(parse(xml))).toEqual(['?xml', '_x003C_bad_x0020_name_x003E__x0026_response']);
  });

  it('names: valid ones pass, a literal _xHHHH_ is escaped so decoding stays unambiguous', () => {
    expect(xmlName('displayname')).toBe('displayname');
    expect(xmlName('이름')).toBe('이름');
    expect(xmlName('_x0041_')).toBe('_x005F_x0041_');
    expect(xmlName('-a')).toBe('_x002D_a');
    expect(xmlName('a-b.c')).toBe('a-b.c');
    expect(xmlName('😀')).toBe('😀');
    expect(xmlText('ok\u0000')).toBe('ok');
  });
});
