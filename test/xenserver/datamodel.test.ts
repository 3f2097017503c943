/**
 * The xapi client's typed surface against the datamodel: every method Kiln sends (name, parameter
 * count and types) and every record field it reads must be in xenapi.md Appendix A (generated
 * from xen-api's doc/data/xenapi.json; copied to fixtures/). The few that are real xapi but
 * outside that extract are named here, each with why, so a new one cannot slip in unnoticed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SIGNATURES } from '../../drivers/xenserver/xapi/methods.js';
import { READ_FIELDS } from '../../drivers/xenserver/xapi/records.js';

const appendix = readFileSync(new URL('./fixtures/xenapi-appendix-a.md', import.meta.url), 'utf8');

/** Class → field names, and Class.method → parameter types (without the session), from the extract. */
function parseAppendix(text: string) {
  const fields = new Map<string, Set<string>>();
  const methods = new Map<string, string[]>();
  let cls = '';
  for (const line of text.split('\n')) {
    const header = /^## (\S+)$/.exec(line);
    if (header) {
      cls = header[1]!;
      fields.set(cls, new Set());
      continue;
    }
    const field = /^ {2}- (\w+) : .* \[(RO|RW)/.exec(line);
    if (field && cls) fields.get(cls)!.add(field[1]!);
    const message = /^ {2}- .*? ([\w]+\.[\w]+)\((.*)\)\s+errs=/.exec(line);
    if (message) {
      const params = message[2]!.split(/,\s*(?![^()]*\))/).map((p) => p.trim()).filter(Boolean).map((p) => p.replace(/\s+\w+$/, ''));
      methods.set(message[1]!, params[0] === 'session ref' && message[1] !== 'session.login_with_password' ? params.slice(1) : params);
    }
  }
  return { fields, methods };
}

const { fields, methods } = parseAppendix(appendix);

/** Real xapi, absent from the extract (it covers the GPU, VM, host, task and event subset). */
const OUTSIDE_EXTRACT_METHODS: Record<string, string> = {
  'VM.set_name_description': 'the implicit setter of the RW field name_description (the extract lists only some setters)',
  'VM.set_ha_restart_priority': 'the setter of VM.ha_restart_priority (pool HA protection), a field the extract leaves out',
  'VDI.destroy': 'VDI is outside the extract (the simulator stubs it, §6.3); removes a disk on expunge',
  'VDI.set_name_label': 'the setter of VDI.name_label (RW): a disk carries Kiln\'s volume name',
  // Disks, CDs and NICs (VDI, VBD and VIF are outside the extract; signatures from xen-api's datamodel.ml).
  'VDI.create': 'a data disk, or the VDI a Kiln image is imported into (then PUT /import_raw_vdi)',
  'VDI.copy': 'a VM\'s root disk copied from the pool\'s one copy of its Kiln image',
  'VDI.resize': 'resizeVolume, and a root disk larger than its image',
  'VDI.resize_online': 'resizeVolume of a disk plugged into a running VM, where the SR\'s SM has VDI_RESIZE_ONLINE (xapi_vdi.ml)',
  'VDI.add_to_other_config': 'a complete image VDI carries the SHA-256 of its image',
  'VDI.remove_from_other_config': 'a copy of an image is a VM\'s disk, not the image',
  'VDI.get_by_name_label': 'disks and images are found by Kiln\'s name',
  'VM.get_allowed_VBD_devices': 'the free userdevice for a data disk or a CD drive',
  'VM.get_allowed_VIF_devices': 'the free device for a NIC added to a VM',
  'VBD.create': 'a disk or CD drive plugged into a VM',
  'VBD.plug': 'a data disk or CD drive hot-added to a running VM',
  'VBD.unplug': 'a data disk hot-removed from a running VM',
  'VBD.insert': 'an ISO into a VM\'s CD drive',
  'VBD.eject': 'detachIso',
  'VBD.destroy': 'a data disk taken out of a VM (its VDI stays)',
  'VIF.create': 'a VM\'s NICs, one per Kiln NIC',
  'VIF.plug': 'a NIC made while the VM runs',
  'VIF.unplug': 'a NIC hot-removed from a running VM (removeNicFromVirtualMachine)',
  'VIF.destroy': 'a NIC Kiln\'s spec no longer has',
};
const OUTSIDE_EXTRACT_FIELDS: Record<string, string[]> = {
  pool: ['ha_enabled', 'default_SR'],
  VM: ['ha_restart_priority'],
  // Classes the extract does not cover (§6.3 stubs, guest metrics).
  VM_guest_metrics: ['PV_drivers_detected', 'PV_drivers_version'],
  SR: ['uuid', 'name_label', 'type', 'physical_size', 'physical_utilisation', 'shared', 'content_type', 'is_tools_sr'],
  PBD: ['uuid', 'host', 'SR', 'currently_attached'],
  SM: ['uuid', 'type', 'features'],
  VBD: ['uuid', 'VM', 'VDI', 'type', 'userdevice', 'empty', 'currently_attached', 'bootable', 'mode'],
  VDI: ['uuid', 'name_label', 'SR', 'virtual_size', 'VBDs', 'other_config', 'is_a_snapshot'],
  VIF: ['uuid', 'VM', 'network', 'device', 'MAC', 'currently_attached'],
  network: ['uuid', 'name_label', 'bridge', 'other_config'],
};

describe('xapi datamodel (Appendix A)', () => {
  it('the extract parses: the classes and messages the driver needs are there', () => {
    for (const c of ['pool', 'host', 'VM', 'task', 'GPU_group', 'PGPU', 'VGPU', 'VGPU_type', 'PCI']) expect(fields.get(c)?.size ?? 0, c).toBeGreaterThan(2);
    expect(methods.get('VM.start')).toEqual(['VM ref', 'bool', 'bool']);
    expect(methods.get('session.login_with_password')).toEqual(['string', 'string', 'string', 'string']);
  });

  it('every method Kiln sends has the datamodel name, arity and parameter types', () => {
    const wrong: string[] = [];
    for (const [name, params] of Object.entries(SIGNATURES)) {
      if (OUTSIDE_EXTRACT_METHODS[name]) continue;
      const expected = methods.get(name);
      if (!expected) wrong.push(`${name}: not in Appendix A`);
      else if (JSON.stringify(expected) !== JSON.stringify(params)) wrong.push(`${name}: (${params.join(', ')}) but Appendix A has (${expected.join(', ')})`);
    }
    expect(wrong).toEqual([]);
    // The exceptions are used, not stale.
    for (const name of Object.keys(OUTSIDE_EXTRACT_METHODS)) expect(Object.keys(SIGNATURES)).toContain(name);
  });

  it('every record field Kiln reads is a datamodel field of its class', () => {
    const wrong: string[] = [];
    for (const [cls, read] of Object.entries(READ_FIELDS) as [string, string[]][]) {
      const known = fields.get(cls);
      for (const f of read) {
        if (OUTSIDE_EXTRACT_FIELDS[cls]?.includes(f)) continue;
        if (!known) wrong.push(`${cls}: class not in Appendix A`);
        else if (!known.has(f)) wrong.push(`${cls}.${f}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
