import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { LOCAL_DIR_SETTING, MAX_SIZE_SETTING } from '../../images/image-source.js';
import { registerImage } from './registerTemplate.js';

export default defineCommand({
  name: 'registerIso',
  description: `Registers an existing ISO into the CloudStack Cloud. url is an http(s) URL: Kiln downloads it into the zone's image store (checked against checksum and ${MAX_SIZE_SETTING}; listIsos shows isready and status while it runs) and copies it to a host's storage the first time a VM there needs it. Only the root admin may give a path on the hosts instead, inside ${LOCAL_DIR_SETTING}.`,
  kind: 'list',
  roles: ALL_ROLES,
  response: 'iso',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the ISO' },
    { name: 'displaytext', type: 'string', description: 'the display text of the ISO, defaults to the name' },
    { name: 'url', type: 'string', required: true, maxLength: 2048, description: `the http(s) URL of the ISO (root admin: or an absolute path on the hosts inside ${LOCAL_DIR_SETTING})` },
    { name: 'zoneid', type: 'uuid', required: true, description: "the ID of the zone whose image store gets the download" },
    { name: 'ostypeid', type: 'uuid', required: true, description: 'the ID of the OS type that best represents the OS of this ISO' },
    { name: 'checksum', type: 'string', maxLength: 200, description: 'the checksum of the ISO: {MD5}, {SHA-1}, {SHA-256}, {SHA-512}… followed by hex, or plain hex (MD5); a download that does not match fails' },
    { name: 'bootable', type: 'boolean', description: 'true if this ISO is bootable (the default)' },
    { name: 'ispublic', type: 'boolean', description: 'true if you want to register the ISO to be publicly available to all users' },
    { name: 'isfeatured', type: 'boolean', description: 'true if you want this ISO to be featured' },
  ],
  // An ISO is not tied to a hypervisor, as in CloudStack: any host's CD-ROM drive takes it.
  handler: (ctx, args) => [registerImage(ctx, args, 'ISO', 'None')],
});
