import { deleteCommand } from './infra-edits.js';

export default deleteCommand('zone', 'deleteZone', 'Deletes a Zone. Refused (431, naming them) while it still has pods, hosts, networks, primary storage, VMs, volumes, images or backup storage.');
