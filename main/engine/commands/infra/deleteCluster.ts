import { deleteCommand } from './infra-edits.js';

export default deleteCommand('cluster', 'deleteCluster', 'Deletes a cluster. Refused (431, naming them) while it still has hosts, primary storage pools or VMs.');
