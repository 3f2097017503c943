/**
 * The error mapping the XenServer and vSphere drivers share (drivers/common/driver-errors.ts),
 * through each driver's own toDriverError: the API's error decides the category (an xapi code, a
 * vim25 fault type), a changed certificate is host-key-changed with the presented thumbprint, a
 * lost endpoint is unreachable in the driver's words, an abort is timeout, and a DriverError
 * passes through untouched.
 */
import { describe, expect, it } from 'vitest';
import { DriverError } from '../../drivers/types.js';
import { ThumbprintMismatchError, TlsConnectError } from '../../drivers/tls-trust.js';
import { toDriverError as xen } from '../../drivers/xenserver/errors.js';
import { XapiConnectionError, XapiError } from '../../drivers/xenserver/xapi/errors.js';
import { toDriverError as vsphere } from '../../drivers/vsphere/errors.js';
import { SoapConnectionError, VimFault } from '../../drivers/vsphere/soap/index.js';

const pick = (e: DriverError) => ({ category: e.category, message: e.message });

describe('driver error mapping (XenServer and vSphere)', () => {
  it('the API\'s own errors by code or fault type', () => {
    expect(pick(xen(new XapiError('VM_BAD_POWER_STATE', ['OpaqueRef:a', 'halted', 'running'], 'VM.start'), 'starting a'))).toEqual({ category: 'invalid', message: 'starting a: VM_BAD_POWER_STATE [OpaqueRef:a, halted, running]' });
    expect(xen(new XapiError('SESSION_AUTHENTICATION_FAILED', ['root', 'Authentication failure'], 'login'), 'connecting').details).toMatchObject({ param: 'password' });
    expect(pick(vsphere(new VimFault('InsufficientResourcesFault', 'no room', {}, 'PowerOnVM_Task'), 'powering on'))).toEqual({ category: 'insufficient-capacity', message: 'powering on: PowerOnVM_Task: InsufficientResourcesFault: no room' });
  });

  it('a changed certificate, a lost endpoint, an abort, anything else, and a DriverError as it is', () => {
    for (const map of [xen, vsphere]) {
      const changed = map(new ThumbprintMismatchError('h', 'AB:CD', 'EF:01'), 'x');
      expect([changed.category, changed.details]).toEqual(['host-key-changed', { presented: { kind: 'tls-certificate', fingerprint: 'EF:01' } }]);
      expect(map(new TlsConnectError('h: ECONNREFUSED'), 'x').category).toBe('unreachable');
      expect(map(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'x').category).toBe('timeout');
      expect(pick(map(new Error('boom'), 'doing y'))).toEqual({ category: 'failed', message: 'doing y: boom' });
      const own = new DriverError('as it was', 'not-found');
      expect(map(own, 'x')).toBe(own);
    }
    expect(xen(new XapiConnectionError('m:443', 'ECONNRESET', 'reset'), 'reading').message).toMatch(/^reading: the pool master is unreachable: /);
    expect(vsphere(new SoapConnectionError('vc', 'ECONNRESET', 'reset'), 'reading').message).toMatch(/^reading: vCenter unreachable: /);
    // xapi's own timeouts are 'timeout' too, with their message; vSphere's abort says cancelled.
    expect(pick(xen(Object.assign(new Error('no answer'), { name: 'TimeoutError' }), 'x'))).toEqual({ category: 'timeout', message: 'x: no answer' });
    expect(vsphere(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'x').message).toBe('x: cancelled');
  });
});
