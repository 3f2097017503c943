/**
 * R22: vm.allocation.algorithm. Each value is a small ordering rule over the suitable hosts;
 * ties keep host id order, so results are reproducible except for the random ones.
 */
import type { Candidate, Orderer } from '../types.js';

type Rule = Orderer['order'];

const byId = (a: Candidate, b: Candidate) => a.host.id - b.host.id;

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Hosts in the pods where the account already runs the most VMs come first. */
function podsByConcentration(candidates: Candidate[], pods: Map<number, number>, within: (c: Candidate[]) => Candidate[]): Candidate[] {
  const groups = new Map<number, Candidate[]>();
  for (const c of candidates) groups.set(c.host.pod_id, [...(groups.get(c.host.pod_id) ?? []), c]);
  return [...groups.entries()].sort((a, b) => (pods.get(b[0]) ?? 0) - (pods.get(a[0]) ?? 0) || a[0] - b[0]).flatMap(([, list]) => within(list));
}

export const ALGORITHMS: Record<string, Rule> = {
  random: (c) => shuffle(c),
  firstfit: (c) => [...c].sort(byId),
  userdispersing: (c, request, state) => {
    const counts = state.accountVmsByHost(request.accountId);
    return [...c].sort((a, b) => (counts.get(a.host.id) ?? 0) - (counts.get(b.host.id) ?? 0) || byId(a, b));
  },
  userconcentratedpod_random: (c, request, state) => podsByConcentration(c, state.accountVmsByPod(request.accountId), shuffle),
  userconcentratedpod_firstfit: (c, request, state) => podsByConcentration(c, state.accountVmsByPod(request.accountId), (l) => [...l].sort(byId)),
  firstfitleastconsumed: (c) => [...c].sort((a, b) => a.usage.memory / Math.max(1, a.host.memory_total) - b.usage.memory / Math.max(1, b.host.memory_total) || byId(a, b)),
};

export const allocationAlgorithm: Orderer = {
  name: 'vm.allocation.algorithm',
  order(candidates, request, state) {
    const rule = ALGORITHMS[state.setting('vm.allocation.algorithm')] ?? ALGORITHMS['random']!;
    return rule(candidates, request, state);
  },
};
