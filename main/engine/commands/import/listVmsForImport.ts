import { defineCommand, ADMIN_ONLY, type ParamDef } from '../../registry/types.js';
import { listExternal } from '../../import/external.js';

/** How a host Kiln does not manage is reached (listVmsForImport, importVm importsource=external). */
export const EXTERNAL_HOST_PARAMS: ParamDef[] = [
  { name: 'host', type: 'string', maxLength: 255, description: 'external: the host name or IP address of the host Kiln does not manage' },
  { name: 'port', type: 'integer', description: 'external: its SSH port; default 22' },
  { name: 'username', type: 'string', maxLength: 64, description: 'external: the user Kiln logs in as; default root' },
  { name: 'password', type: 'string', description: 'external: the password of the user (or privatekey); never stored' },
  { name: 'privatekey', type: 'string', maxLength: 16384, description: 'Kiln: an SSH private key (OpenSSH or PEM) instead of a password; never stored' },
  { name: 'hostkeyfingerprint', type: 'string', maxLength: 60, description: "Kiln: the host's SSH key fingerprint (SHA256:…, as ssh-keygen -lf prints it) to trust; needed only when the host's key changed since Kiln pinned it" },
];

export default defineCommand({
  name: 'listVmsForImport',
  description: "Lists the VMs on a KVM host Kiln does not manage, reached over SSH with the given credentials (never stored; the host's SSH key is trusted on first use and pinned), as listUnmanagedInstances shows them: each with whether importVm importsource=external can copy it in and, if not, why.",
  since: '4.19.0',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'unmanagedinstance',
  sensitive: ['password', 'privatekey'],
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'the zone ID' },
    { name: 'hypervisor', type: 'string', required: true, description: 'hypervisor type of the host (KVM)' },
    ...EXTERNAL_HOST_PARAMS.map((p) => (p.name === 'host' ? { ...p, required: true } : p)),
    { name: 'name', type: 'string', description: 'Kiln: only the VM of this name' },
  ],
  handler({ engine }, args) {
    return listExternal(engine, args);
  },
});
