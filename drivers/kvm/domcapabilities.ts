/**
 * A host's refinement of the KVM driver's static capabilities, from `virsh domcapabilities` (what
 * this libvirt and QEMU can give a guest of the host's domain type). The static set is what the
 * driver can do at best, known before any host is connected; a host can only narrow it, never
 * widen it, so placement and listApis never promise more than the slowest host keeps.
 */
import type { DriverCapabilities } from '../types.js';
import { attr, child, children, parseXml, text } from './xml.js';

export interface DomainCapabilities {
  /** Display types this host's QEMU offers (`<graphics><enum name='type'>`). */
  graphicsTypes: string[];
  /** The most vCPUs one guest can have here (`<vcpu max>`), if the host says. */
  maxVcpus?: number;
}

export function parseDomainCapabilities(xml: string): DomainCapabilities {
  const root = child(parseXml(xml), 'domainCapabilities');
  const graphics = child(child(root, 'devices'), 'graphics');
  const types = attr(graphics, 'supported') === 'yes' ? children(graphics, 'enum').find((e) => attr(e, 'name') === 'type') : undefined;
  const max = Number(attr(child(root, 'vcpu'), 'max'));
  return {
    graphicsTypes: types ? children(types, 'value').map((v) => text(v) ?? '').filter(Boolean) : [],
    maxVcpus: Number.isFinite(max) && max > 0 ? max : undefined,
  };
}

/** The static capabilities narrowed by what the host offers and what the admin turned off for it. */
export function refineCapabilities(base: DriverCapabilities, host: DomainCapabilities | undefined, options: { vnc: boolean }): DriverCapabilities {
  const vncHere = host ? host.graphicsTypes.includes('vnc') : true;
  return { ...base, vnc: base.vnc && options.vnc && vncHere };
}
