/**
 * A VM's snapshots as the tree the hypervisor keeps: listVMSnapshot gives each snapshot its
 * `parent` (absent for a root); roots come first and siblings in creation order. A snapshot whose
 * parent is not in the list (another account's, or gone meanwhile) becomes a root, so nothing the
 * engine listed is ever hidden.
 */

/** One item of listVMSnapshot's `vmSnapshot` list (the fields the UI reads). */
export interface VmSnapshot {
  id: string;
  /** The hypervisor's name (i-2-3-VM_VS_20250101120000). */
  name: string;
  displayname?: string;
  description?: string;
  state: string;
  type: 'Disk' | 'DiskAndMemory';
  current?: boolean;
  parent?: string;
  parentName?: string;
  virtualmachineid?: string;
  virtualmachinename?: string;
  created?: string;
}

export interface SnapshotNode {
  snapshot: VmSnapshot;
  /** 0 for a root. */
  depth: number;
  children: SnapshotNode[];
}

/** "Disk" or "Disk + memory". */
export function snapshotTypeLabel(type: VmSnapshot['type']): string {
  return type === 'DiskAndMemory' ? 'Disk + memory' : 'Disk';
}

export function snapshotLabel(snapshot: VmSnapshot): string {
  return snapshot.displayname || snapshot.name;
}

/** Oldest first; snapshots with the same (or an unreadable) creation time keep the list's order. */
function byCreation(snapshots: VmSnapshot[]): VmSnapshot[] {
  const time = (s: VmSnapshot) => {
    const t = s.created ? Date.parse(s.created) : NaN;
    return Number.isNaN(t) ? undefined : t;
  };
  return snapshots
    .map((snapshot, index) => ({ snapshot, index, time: time(snapshot) }))
    .sort((a, b) => (a.time !== undefined && b.time !== undefined && a.time !== b.time ? a.time - b.time : a.index - b.index))
    .map((entry) => entry.snapshot);
}

/** The roots, each with its descendants nested; every snapshot appears exactly once. */
export function buildSnapshotTree(snapshots: VmSnapshot[]): SnapshotNode[] {
  const ordered = byCreation(snapshots);
  const ids = new Set(ordered.map((s) => s.id));
  const childrenOf = new Map<string, VmSnapshot[]>();
  const roots: VmSnapshot[] = [];
  for (const snapshot of ordered) {
    const parent = snapshot.parent;
    if (parent === undefined || parent === snapshot.id || !ids.has(parent)) roots.push(snapshot);
    else childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), snapshot]);
  }
  const placed = new Set<string>();
  const node = (snapshot: VmSnapshot, depth: number): SnapshotNode => {
    placed.add(snapshot.id);
    const children = (childrenOf.get(snapshot.id) ?? []).filter((c) => !placed.has(c.id));
    return { snapshot, depth, children: children.map((c) => node(c, depth + 1)) };
  };
  const tree = roots.map((r) => node(r, 0));
  // A parent loop (which the engine never makes) would leave its members unreachable: they become roots too.
  for (const snapshot of ordered) if (!placed.has(snapshot.id)) tree.push(node(snapshot, 0));
  return tree;
}

/** The tree depth first, as it reads top to bottom. */
export function flattenTree(tree: SnapshotNode[]): SnapshotNode[] {
  return tree.flatMap((n) => [n, ...flattenTree(n.children)]);
}

/** The current snapshot (the one the VM runs from), if any. */
export function currentSnapshot(snapshots: VmSnapshot[]): VmSnapshot | undefined {
  return snapshots.find((s) => s.current === true);
}
