import { describe, expect, it } from 'vitest';
import { groupRaw, parseParams } from '../../main/engine/registry/params.js';
import { ApiError } from '../../main/engine/registry/errors.js';
import type { Caller, ParamDef } from '../../main/engine/registry/types.js';

const user: Caller = { userId: 2, userUuid: 'u', username: 'alice', accountId: 2, accountUuid: 'a', accountName: 'alice', domainId: 1, domainUuid: 'd', domainPath: '/', role: 'User' };
const admin: Caller = { ...user, role: 'Admin' };

const defs: ParamDef[] = [
  { name: 'id', type: 'uuid', required: true, description: '' },
  { name: 'count', type: 'integer', description: '' },
  { name: 'forced', type: 'boolean', description: '' },
  { name: 'networkids', type: 'list', of: 'uuid', description: '' },
  { name: 'tags', type: 'list', description: '' },
  { name: 'details', type: 'map', description: '' },
  { name: 'hostid', type: 'uuid', roles: ['Admin'], description: '' },
  { name: 'name', type: 'string', maxLength: 10, description: '' },
];
const ID = '6f1c1a4e-5b1e-4c55-9f3b-0c8e2a7d1b11';

function fail(raw: Record<string, string>, caller = admin): ApiError {
  try {
    parseParams('testCommand', defs, raw, caller);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('parameter parsing', () => {
  it('reads names case-insensitively and converts types', () => {
    const args = parseParams('testCommand', defs, { ID: ID.toUpperCase(), Count: '42', forced: 'TRUE', networkids: `${ID}, ${ID}`, tags: 'a,b' }, admin);
    expect(args.uuid('id')).toBe(ID);
    expect(args.int('count')).toBe(42);
    expect(args.bool('forced')).toBe(true);
    expect(args.list('networkids')).toEqual([ID, ID]);
    expect(args.list('tags')).toEqual(['a', 'b']);
  });

  it('groups map parameters by index in order, keeping key case', () => {
    const args = parseParams('testCommand', defs, { id: ID, 'details[1].memory': '4096', 'details[0].cpuNumber': '4', 'details[0].cpuSpeed': '1000' }, admin);
    expect(args.map('details')).toEqual([{ cpuNumber: '4', cpuSpeed: '1000' }, { memory: '4096' }]);
    expect(args.details('details')).toEqual({ cpuNumber: '4', cpuSpeed: '1000', memory: '4096' });
  });

  it('reads key/value style map entries as pairs', () => {
    const args = parseParams('testCommand', defs, { id: ID, 'details[0].key': 'rootdisksize', 'details[0].value': '20' }, admin);
    expect(args.details('details')).toEqual({ rootdisksize: '20' });
  });

  it('groupRaw separates plain and map keys', () => {
    const { plain, maps } = groupRaw({ Command: 'x', 'iptonetworklist[0].networkid': 'n', 'iptonetworklist[0].ip': '10.0.0.5' });
    expect(plain.get('command')).toBe('x');
    expect(maps.get('iptonetworklist')).toEqual([{ networkid: 'n', ip: '10.0.0.5' }]);
  });

  it('names a missing required parameter with 431', () => {
    const error = fail({});
    expect(error.errorCode).toBe(431);
    expect(error.csErrorCode).toBe(4350);
    expect(error.message).toMatch(/missing parameter id/);
  });

  it('refuses a malformed UUID, naming the parameter', () => {
    const error = fail({ id: 'not-a-uuid' });
    expect(error.errorCode).toBe(431);
    expect(error.message).toMatch(/parameter id value=not-a-uuid/);
    expect(fail({ id: ID, networkids: `${ID},bogus` }).message).toMatch(/networkids value=bogus/);
  });

  it('refuses bad integers and booleans', () => {
    expect(fail({ id: ID, count: '4x' }).message).toMatch(/count/);
    expect(fail({ id: ID, count: '99999999999' }).message).toMatch(/count.*out of range/);
    expect(fail({ id: ID, forced: 'yes' }).message).toMatch(/forced/);
  });

  it('refuses an oversized parameter with 431 naming it', () => {
    const error = fail({ id: ID, name: 'x'.repeat(11) });
    expect(error.errorCode).toBe(431);
    expect(error.message).toMatch(/name is 11 characters long; the limit is 10/);
    expect(fail({ id: ID, 'details[0].k': 'v'.repeat(300) }).message).toMatch(/details\[\]\.k/);
  });

  it('gives 531 when a user passes an admin-only parameter', () => {
    const error = fail({ id: ID, hostid: ID }, user);
    expect(error.errorCode).toBe(531);
    expect(error.message).toMatch(/hostid/);
  });
});
