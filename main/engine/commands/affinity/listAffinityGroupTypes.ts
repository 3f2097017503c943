import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { AFFINITY_TYPES } from './groups.js';

export default defineCommand({
  name: 'listAffinityGroupTypes',
  description: 'Lists affinity group types available',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'affinityGroupType',
  params: [],
  handler: () => AFFINITY_TYPES.map((type) => ({ type })),
});
