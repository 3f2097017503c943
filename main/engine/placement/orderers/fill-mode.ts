/**
 * R24: vertical allocation fills the busiest host that still fits before the next (fewer hosts
 * powered); horizontal spreads round-robin (the least loaded first). Off by default, so the
 * allocation algorithm alone decides.
 */
import type { Orderer } from '../types.js';

export const fillMode: Orderer = {
  name: 'vm.allocation.mode',
  order(candidates, _request, state) {
    const mode = state.setting('vm.allocation.mode');
    const load = (c: (typeof candidates)[number]) => c.usage.memory / Math.max(1, c.host.memory_total);
    if (mode === 'vertical') return [...candidates].sort((a, b) => load(b) - load(a) || a.host.id - b.host.id);
    if (mode === 'horizontal') return [...candidates].sort((a, b) => a.usage.vms - b.usage.vms || load(a) - load(b) || a.host.id - b.host.id);
    return candidates;
  },
};
