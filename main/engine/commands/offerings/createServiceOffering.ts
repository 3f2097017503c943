import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { offeringView } from '../../views.js';
import { now } from '../../db/database.js';
import type { OfferingRow } from '../../vm/rows.js';
import { parseTags, STORAGE_TAGS_RULE } from '../../storage/pool-records.js';

export default defineCommand({
  name: 'createServiceOffering',
  description: 'Creates a service offering (fixed, custom or custom constrained)',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'serviceoffering',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the service offering' },
    { name: 'displaytext', type: 'string', description: 'the display text of the service offering' },
    { name: 'cpunumber', type: 'integer', description: 'the CPU number; omit for a custom offering' },
    { name: 'cpuspeed', type: 'integer', description: 'the CPU speed in MHz' },
    { name: 'memory', type: 'integer', description: 'the memory in MB; omit for a custom offering' },
    { name: 'mincpunumber', type: 'integer', description: 'minimum CPUs of a constrained custom offering' },
    { name: 'maxcpunumber', type: 'integer', description: 'maximum CPUs of a constrained custom offering' },
    { name: 'minmemory', type: 'integer', description: 'minimum memory (MB) of a constrained custom offering' },
    { name: 'maxmemory', type: 'integer', description: 'maximum memory (MB) of a constrained custom offering' },
    { name: 'hosttags', type: 'string', description: 'comma-separated host tags a host must have' },
    { name: 'tags', type: 'string', rule: STORAGE_TAGS_RULE, description: 'the storage tags for this service offering: the root disk goes on a pool that has them all' },
    { name: 'offerha', type: 'boolean', description: 'the HA for the service offering' },
    { name: 'dynamicscalingenabled', type: 'boolean', description: 'true if VMs of this offering may be scaled live (default true)' },
    { name: 'limitcpuuse', type: 'boolean', description: 'restrict the CPU usage to the service offering value' },
    { name: 'storagetype', type: 'string', description: 'shared or local' },
    { name: 'rootdisksize', type: 'long', description: 'the root disk size in GB' },
    { name: 'isvolatile', type: 'boolean', description: 'reset the root disk on every reboot (R19)' },
    { name: 'serviceofferingdetails', type: 'map', description: 'details such as pciDevice and vgpuType for GPU offerings' },
  ],
  handler({ engine }, args) {
    const positive = (name: string) => {
      const v = args.int(name);
      if (v !== undefined && v < 1) throw ApiError.param(`${name}: must be 1 or more`);
      return v ?? null;
    };
    const cpu = positive('cpunumber');
    const speed = positive('cpuspeed');
    const memory = positive('memory');
    if ((cpu === null) !== (memory === null)) throw ApiError.param('cpunumber and memory: give both for a fixed offering, or neither for a custom one');
    if (memory !== null && memory < 32) throw ApiError.param('memory: must be at least 32 MB');
    const [minCpu, maxCpu, minMem, maxMem] = ['mincpunumber', 'maxcpunumber', 'minmemory', 'maxmemory'].map(positive);
    if (cpu !== null && (minCpu !== null || maxCpu !== null || minMem !== null || maxMem !== null)) throw ApiError.param('mincpunumber/maxcpunumber/minmemory/maxmemory: only for custom offerings');
    if (minCpu !== null && maxCpu !== null && minCpu! > maxCpu!) throw ApiError.param('mincpunumber: larger than maxcpunumber');
    if (minMem !== null && maxMem !== null && minMem! > maxMem!) throw ApiError.param('minmemory: larger than maxmemory');
    const storage = args.str('storagetype') ?? 'shared';
    if (storage !== 'shared' && storage !== 'local') throw ApiError.param('storagetype: shared or local');
    const tags = (args.str('hosttags') ?? '').split(',').map((t) => t.trim()).filter(Boolean).join(',');
    const id = engine.db
      .prepare(
        `INSERT INTO service_offerings (uuid, name, display_text, cpu_number, cpu_speed, memory, min_cpu_number, max_cpu_number, min_memory, max_memory, host_tags, storage_tags, offer_ha,
           dynamic_scaling_enabled, limit_cpu_use, storage_type, root_disk_size, volatile_vm, details, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(
        randomUUID(), args.str('name'), args.str('displaytext') ?? args.str('name'), cpu, speed, memory, minCpu, maxCpu, minMem, maxMem, tags, parseTags(args.str('tags')).join(','),
        args.bool('offerha') ? 1 : 0, args.bool('dynamicscalingenabled') === false ? 0 : 1, args.bool('limitcpuuse') ? 1 : 0, storage,
        args.int('rootdisksize') ?? null, args.bool('isvolatile') ? 1 : 0, JSON.stringify(args.details('serviceofferingdetails') ?? {}), now(),
      ).lastInsertRowid;
    return offeringView(engine.db.prepare('SELECT * FROM service_offerings WHERE id=?').get(id) as OfferingRow);
  },
});
