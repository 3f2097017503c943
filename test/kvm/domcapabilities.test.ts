/**
 * Issue 11: capabilities are static per driver and refined per host. A KVM host narrows the
 * driver's set from `virsh domcapabilities` (fixture: the test host's own output) and from its
 * vnc host option; it never widens it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDomainCapabilities, refineCapabilities } from '../../drivers/kvm/domcapabilities.js';
import { KVM_CAPABILITIES } from '../../drivers/kvm/session.js';

const xml = readFileSync(new URL('./fixtures/domcapabilities.xml', import.meta.url), 'utf8');

describe('KVM capabilities refined by the host', () => {
  it("reads the host's display types and vCPU limit", () => {
    const host = parseDomainCapabilities(xml);
    expect(host.graphicsTypes).toContain('vnc');
    expect(host.maxVcpus).toBe(255);
  });

  it('keeps vnc where the host offers it, drops it where QEMU has no VNC or the admin turned it off', () => {
    const host = parseDomainCapabilities(xml);
    expect(refineCapabilities(KVM_CAPABILITIES, host, { vnc: true }).vnc).toBe(true);
    const noVnc = parseDomainCapabilities(xml.replace('<value>vnc</value>', ''));
    expect(refineCapabilities(KVM_CAPABILITIES, noVnc, { vnc: true }).vnc).toBe(false);
    expect(refineCapabilities(KVM_CAPABILITIES, host, { vnc: false }).vnc).toBe(false);
  });

  it('never widens the static set (a host cannot give Kiln GPUs the KVM driver does not drive)', () => {
    const refined = refineCapabilities({ ...KVM_CAPABILITIES, vnc: false }, parseDomainCapabilities(xml), { vnc: true });
    expect(refined.vnc).toBe(false);
    expect(refined.gpu).toBe(KVM_CAPABILITIES.gpu);
    expect(refineCapabilities(KVM_CAPABILITIES, undefined, { vnc: true })).toEqual(KVM_CAPABILITIES);
  });
});
