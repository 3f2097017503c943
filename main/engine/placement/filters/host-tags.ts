/** R26: every tag on the offering must be on the host. */
import type { Filter } from '../types.js';

export const hostTags: Filter = {
  name: 'host-tags',
  check({ host }, request) {
    const tags = new Set(host.host_tags.split(',').map((t) => t.trim()).filter(Boolean));
    const missing = request.hostTags.filter((t) => !tags.has(t));
    return missing.length ? `tag ${missing.join(', ')} missing` : undefined;
  },
};
