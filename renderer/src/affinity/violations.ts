/**
 * Whether an affinity group's running members respect its type. Strict types are rules the
 * planner enforces ("host anti-affinity": no two members on one host; "host affinity": all
 * members on one host), so a breach is a violation; the non-strict types are preferences, so a
 * breach is a preference not met. Only members with a host count (a stopped VM runs nowhere).
 *
 * Pure and import-free: the affinity view uses it, and tests can import it directly.
 */

export interface MemberPlacement {
  id: string;
  name: string;
  hostid?: string;
  hostname?: string;
}

export interface AffinityCheck {
  /** 'violation' for a strict type, 'preference' for a non-strict one, 'ok' otherwise. */
  status: 'ok' | 'violation' | 'preference';
  /** What is wrong, in words (empty when ok). */
  problems: string[];
  /** The members involved in a breach (VM ids), to highlight their rows. */
  involved: Set<string>;
}

const ANTI = /anti-affinity$/;
const AFFINITY = /(^|\s)host affinity$/;

export function isStrict(type: string): boolean {
  return !type.startsWith('non-strict');
}

function names(members: MemberPlacement[]): string {
  const list = members.map((m) => m.name);
  return list.length <= 2 ? list.join(' and ') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

export function checkAffinity(type: string, members: MemberPlacement[]): AffinityCheck {
  const placed = members.filter((m) => m.hostid);
  const byHost = new Map<string, MemberPlacement[]>();
  for (const m of placed) {
    const list = byHost.get(m.hostid!) ?? [];
    list.push(m);
    byHost.set(m.hostid!, list);
  }
  const problems: string[] = [];
  const involved = new Set<string>();
  if (ANTI.test(type)) {
    for (const list of byHost.values()) {
      if (list.length < 2) continue;
      problems.push(`${names(list)} run on the same host, ${list[0]!.hostname ?? list[0]!.hostid}`);
      for (const m of list) involved.add(m.id);
    }
  } else if (AFFINITY.test(type) && byHost.size > 1) {
    const where = [...byHost.values()].map((list) => `${names(list)} on ${list[0]!.hostname ?? list[0]!.hostid}`);
    problems.push(`members run on ${byHost.size} different hosts: ${where.join('; ')}`);
    for (const m of placed) involved.add(m.id);
  }
  if (problems.length === 0) return { status: 'ok', problems, involved };
  return { status: isStrict(type) ? 'violation' : 'preference', problems, involved };
}
