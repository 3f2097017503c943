import { deleteCommand } from './infra-edits.js';

export default deleteCommand('pod', 'deletePod', 'Deletes a Pod. Refused (431, naming them) while it still has clusters, hosts, primary storage or VMs.');
