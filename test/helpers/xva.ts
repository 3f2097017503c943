/**
 * An XVA as `xe vm-export` writes one (xen-api ocaml/xapi/export.ml, stream_vdi.ml), for tests: a
 * tar whose first member is ova.xml (one XML-RPC <value>: version and objects, each exported
 * record under its export id "Ref:N"), then each disk as 1 MiB chunks Ref:N/00000000, … (an
 * all-zero chunk left out unless it is the first or the last), each followed by its checksum file
 * Ref:N/<chunk>.xxhash (XXH64, 16 upper-case hex digits).
 */
import { taskResultOf } from '../xapi-sim/wire.js';
import { xxh64 } from '../xapi-sim/xva-import.js';

const CHUNK = 1024 * 1024;

/** One ustar member: header, body, padding to 512. */
function member(name: string, body: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

export interface XvaDisk {
  name: string;
  /** The disk's bytes (its virtual size is their length, a multiple of 512). */
  bytes: Buffer;
  userdevice?: string;
}

export interface XvaSpec {
  name: string;
  vcpus?: number;
  memoryMiB?: number;
  /** xapi's other_config base_template_name: the guest OS the VM was made for. */
  os?: string;
  disks: XvaDisk[];
  nics?: { network: string; mac?: string }[];
}

/** The XVA of SPEC, and what a corrupting test may want to know (member names in order). */
export function buildXva(spec: XvaSpec): { archive: Buffer; members: string[] } {
  const mem = (spec.memoryMiB ?? 512) * CHUNK;
  const objects: Record<string, unknown>[] = [];
  let n = 0;
  const id = () => `Ref:${n++}`;
  const vm = id();
  const sr = id();
  objects.push({ class: 'SR', id: sr, snapshot: { uuid: '3a1c2c0a-0000-4000-8000-000000000001', name_label: 'Local storage', type: 'lvm', content_type: 'user', shared: false } });
  const vbds: string[] = [];
  const vifs: string[] = [];
  const disks = spec.disks.map((d, i) => ({ ...d, vdi: id(), vbd: id(), userdevice: d.userdevice ?? String(i) }));
  for (const d of disks) {
    objects.push({ class: 'VDI', id: d.vdi, snapshot: { name_label: d.name, name_description: '', SR: sr, virtual_size: String(d.bytes.length), type: 'system', sharable: false, read_only: false, other_config: {}, VBDs: [d.vbd] } });
    objects.push({ class: 'VBD', id: d.vbd, snapshot: { VM: vm, VDI: d.vdi, userdevice: d.userdevice, bootable: d.userdevice === '0', mode: 'RW', type: 'Disk', unpluggable: false, empty: false, other_config: {} } });
    vbds.push(d.vbd);
  }
  for (const [i, nic] of (spec.nics ?? []).entries()) {
    const net = id();
    const vif = id();
    objects.push({ class: 'network', id: net, snapshot: { name_label: nic.network, name_description: '', bridge: `xenbr${i}`, MTU: '1500', other_config: {} } });
    objects.push({ class: 'VIF', id: vif, snapshot: { VM: vm, network: net, device: String(i), MAC: nic.mac ?? '', MTU: '1500', other_config: {} } });
    vifs.push(vif);
  }
  objects.unshift({
    class: 'VM', id: vm, snapshot: {
      name_label: spec.name, name_description: 'exported', power_state: 'Halted', is_a_template: false, is_control_domain: false,
      memory_static_max: String(mem), memory_static_min: String(mem), memory_dynamic_max: String(mem), memory_dynamic_min: String(mem),
      VCPUs_max: String(spec.vcpus ?? 1), VCPUs_at_startup: String(spec.vcpus ?? 1), HVM_boot_policy: 'BIOS order', HVM_boot_params: { order: 'cd' },
      platform: { acpi: '1', apic: 'true', pae: 'true', viridian: 'false' }, domain_type: 'hvm', other_config: spec.os ? { base_template_name: spec.os } : {}, VBDs: vbds, VIFs: vifs,
    },
  });
  const version = { hostname: 'xenserver-export', date: '2026-11-30', product_version: '8.2.1', product_brand: 'XenServer', build_number: 'release/yangtze/master/58', xapi_major: '1', xapi_minor: '20', export_vsn: '2' };
  const members: string[] = ['ova.xml'];
  const parts = [member('ova.xml', Buffer.from(taskResultOf({ version, objects }), 'utf8'))];
  // Disks in the lexicographic order of their export ids, as stream_vdi.ml sends them.
  for (const d of [...disks].sort((a, b) => (a.vdi < b.vdi ? -1 : 1))) {
    const count = Math.ceil(d.bytes.length / CHUNK);
    for (let c = 0; c < count; c++) {
      const chunk = d.bytes.subarray(c * CHUNK, Math.min(d.bytes.length, (c + 1) * CHUNK));
      if (c !== 0 && c !== count - 1 && chunk.every((b) => b === 0)) continue;
      const name = `${d.vdi}/${String(c).padStart(8, '0')}`;
      parts.push(member(name, chunk), member(`${name}.xxhash`, Buffer.from(xxh64(chunk), 'latin1')));
      members.push(name, `${name}.xxhash`);
    }
  }
  parts.push(Buffer.alloc(1024));
  return { archive: Buffer.concat(parts), members };
}
