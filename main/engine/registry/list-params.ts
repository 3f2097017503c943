/** Parameters that every list of account-owned resources takes, as CloudStack's BaseListAccountResourcesCmd declares them. */
import type { ParamDef } from './types.js';

export const ACCOUNT_LIST_PARAMS: ParamDef[] = [
  { name: 'account', type: 'string', description: 'list resources by account' },
  { name: 'domainid', type: 'uuid', description: 'list only resources belonging to the domain specified' },
  { name: 'listall', type: 'boolean', description: 'list all resources the caller may see' },
];
