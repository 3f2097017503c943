import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES, type ApiObject, type CommandContext } from '../../registry/types.js';
import type { Args } from '../../registry/params.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import { templateView } from '../../views.js';
import type { TemplateRow } from '../../vm/rows.js';
import { checkKernelDetails, LOCAL_DIR_SETTING, MAX_SIZE_SETTING, parseChecksum, parseImageUrl } from '../../images/image-source.js';

// XVA: an exported XenServer VM, imported with importVm importsource=xva (never deployed from).
const FORMATS = ['QCOW2', 'RAW', 'VHD', 'OVA', 'ISO', 'XVA'];

export default defineCommand({
  name: 'registerTemplate',
  description: `Registers a template (or, with format ISO, an ISO). url is an http(s) URL: Kiln downloads the image into the zone's image store (checked against checksum and ${MAX_SIZE_SETTING}; listTemplates shows isready and status while it runs) and copies it to a host's storage the first time a VM there needs it. Only the root admin may give a path on the hosts instead, inside ${LOCAL_DIR_SETTING}, or the kernel, initrd and kernelArgs details.`,
  kind: 'list',
  roles: ALL_ROLES,
  response: 'template',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the template' },
    { name: 'displaytext', type: 'string', description: 'the display text of the template' },
    { name: 'format', type: 'string', required: true, description: 'the format: QCOW2, RAW, VHD, OVA, ISO, or XVA (an exported XenServer VM, for importVm importsource=xva)' },
    { name: 'hypervisor', type: 'string', required: true, description: 'the target hypervisor for the template' },
    { name: 'ostypeid', type: 'uuid', required: true, description: 'the ID of the OS Type that best represents the OS of this template' },
    { name: 'url', type: 'string', required: true, maxLength: 2048, description: `the http(s) URL of the image (root admin: or an absolute path on the hosts inside ${LOCAL_DIR_SETTING})` },
    { name: 'zoneid', type: 'uuid', description: 'the zone whose image store gets the download (required for a URL; a host path without it serves all zones)' },
    { name: 'checksum', type: 'string', maxLength: 200, description: 'the checksum of the image: {MD5}, {SHA-1}, {SHA-256}, {SHA-512}… followed by hex, or plain hex (MD5); a download that does not match fails' },
    { name: 'isdynamicallyscalable', type: 'boolean', description: 'true if template contains XS/VMWare tools in order to support dynamic scaling of VM cpu/memory' },
    { name: 'ispublic', type: 'boolean', description: 'true if the template is available to all accounts' },
    { name: 'isfeatured', type: 'boolean', description: 'true if this template is a featured template' },
    { name: 'size', type: 'long', description: 'Kiln: the virtual size in bytes (root disks are at least this big)' },
    { name: 'details', type: 'map', description: `Template details: resetonreboot; kernel, initrd (paths inside ${LOCAL_DIR_SETTING}) and kernelArgs for direct kernel boot, root admin only` },
  ],
  handler(ctx, args) {
    const format = args.str('format')!.toUpperCase();
    if (!FORMATS.includes(format)) throw ApiError.param(`format: one of ${FORMATS.join(', ')}`);
    return [registerImage(ctx, args, format, args.str('hypervisor')!)];
  },
});

/**
 * One registration for templates and ISOs (registerTemplate, registerIso): the source checks, the
 * row, the download into the zone's image store, the event. An ISO is registered as format ISO.
 */
export function registerImage({ engine, caller }: CommandContext, args: Args, format: string, hypervisor: string): ApiObject {
  // The hypervisor's driver says which formats its hosts deploy from (DriverDefaults.templateFormats).
  const formats = engine.hosts.knownDriver(hypervisor)?.defaults.templateFormats;
  if (formats && !formats.includes(format)) throw ApiError.param(`format: ${hypervisor} hosts do not deploy ${format} templates; register one as ${formats.filter((f) => f !== 'ISO').join(' or ')}`);
  const os = byUuid<{ id: number }>(engine.db, 'guestOs', args.uuid('ostypeid')!, 'ostypeid');
  const zone = args.uuid('zoneid') ? byUuid<{ id: number }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid') : undefined;
  const source = parseImageUrl(args.str('url')!, 'url', caller, engine.settings);
  if (source.kind === 'download' && !zone) throw ApiError.param("zoneid: an image registered by URL is downloaded into a zone's image store; give zoneid");
  const details = checkKernelDetails(args.details('details') ?? {}, 'details', caller, engine.settings);
  const checksum = args.str('checksum');
  if (checksum !== undefined) parseChecksum(checksum);
  if (args.bool('ispublic') && caller.role === 'User') throw ApiError.denied('ispublic: only admins publish templates');
  const local = source.kind === 'local';
  const id = engine.db
    .prepare(
      `INSERT INTO templates (uuid, name, display_text, format, hypervisor, is_iso, os_type_id, is_public, is_featured, is_dynamically_scalable, size, url, image_path, details, account_id, zone_id, created,
         download_state, download_percent, status, checksum, bootable)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    )
    .run(
      randomUUID(), args.str('name'), args.str('displaytext') ?? args.str('name'), format, hypervisor, format === 'ISO' ? 1 : 0, os.id,
      args.bool('ispublic') ? 1 : 0, args.bool('isfeatured') ? 1 : 0, args.bool('isdynamicallyscalable') ? 1 : 0, args.int('size') ?? 0,
      local ? source.path : source.url, local ? source.path : null, JSON.stringify(details), caller.accountId, zone?.id ?? null, now(),
      local ? 'DOWNLOADED' : 'NOT_DOWNLOADED', local ? 100 : 0, local ? 'Download Complete' : 'Not Downloaded', checksum ?? null,
      args.bool('bootable') === false ? 0 : 1,
    ).lastInsertRowid;
  if (!local) engine.images.start(Number(id));
  engine.events.record({ type: format === 'ISO' ? 'ISO.CREATE' : 'TEMPLATE.CREATE', description: `${format === 'ISO' ? 'ISO' : 'template'} ${args.str('name')} registered`, userId: caller.userId, accountId: caller.accountId });
  return templateView(engine.db, engine.db.prepare('SELECT * FROM templates WHERE id=?').get(id) as TemplateRow);
}
