/**
 * A VM's snapshot tree from listVMSnapshot's flat list: nesting by `parent`, roots first and
 * siblings in creation order, orphans (parent not listed) shown as roots, the current flag kept,
 * and every snapshot shown exactly once whatever the list says.
 */
import { describe, expect, it } from 'vitest';
import { buildSnapshotTree, currentSnapshot, flattenTree, snapshotLabel, snapshotTypeLabel, type SnapshotNode, type VmSnapshot } from '../../renderer/src/views/vm/snapshot-tree';

function snap(id: string, created: string, extra: Partial<VmSnapshot> = {}): VmSnapshot {
  return { id, name: `i-2-3-VM_VS_${id}`, displayname: id, state: 'Ready', type: 'Disk', current: false, created, ...extra };
}

/** The tree as text: "a(b(c),d)". */
function shape(tree: SnapshotNode[]): string {
  return tree.map((n) => (n.children.length ? `${n.snapshot.id}(${shape(n.children)})` : n.snapshot.id)).join(',');
}

describe('buildSnapshotTree', () => {
  it('is empty for no snapshots', () => {
    expect(buildSnapshotTree([])).toEqual([]);
  });

  it('nests children under their parent, with depths', () => {
    const tree = buildSnapshotTree([
      snap('before', '2025-03-01T10:00:00+0000'),
      snap('after', '2025-03-01T10:05:00+0000', { parent: 'before', current: true }),
      snap('later', '2025-03-01T10:10:00+0000', { parent: 'after' }),
    ]);
    expect(shape(tree)).toBe('before(after(later))');
    expect(flattenTree(tree).map((n) => [n.snapshot.id, n.depth])).toEqual([
      ['before', 0],
      ['after', 1],
      ['later', 2],
    ]);
  });

  it('orders roots and siblings by creation time, whatever the order of the list', () => {
    const tree = buildSnapshotTree([
      snap('c2', '2025-03-01T12:00:00+0000', { parent: 'root1' }),
      snap('root2', '2025-03-01T11:30:00+0000'),
      snap('c1', '2025-03-01T11:00:00+0000', { parent: 'root1' }),
      snap('root1', '2025-03-01T10:00:00+0000'),
    ]);
    expect(shape(tree)).toBe('root1(c1,c2),root2');
  });

  it('keeps the order of the list for equal or unreadable creation times', () => {
    const tree = buildSnapshotTree([snap('x', '2025-03-01T10:00:00+0000'), snap('y', '2025-03-01T10:00:00+0000'), snap('z', 'not a date'), snap('w', '')]);
    expect(shape(tree)).toBe('x,y,z,w');
  });

  it('makes an orphan (its parent not listed) a root, with its own children', () => {
    const tree = buildSnapshotTree([
      snap('a', '2025-03-01T10:00:00+0000'),
      snap('orphan', '2025-03-01T10:01:00+0000', { parent: 'deleted-elsewhere' }),
      snap('kid', '2025-03-01T10:02:00+0000', { parent: 'orphan' }),
    ]);
    expect(shape(tree)).toBe('a,orphan(kid)');
    expect(tree[1]!.depth).toBe(0);
    expect(tree[1]!.children[0]!.depth).toBe(1);
  });

  it('shows every snapshot once even when parents form a loop or a snapshot names itself', () => {
    const list = [
      snap('p', '2025-03-01T10:00:00+0000', { parent: 'q' }),
      snap('q', '2025-03-01T10:01:00+0000', { parent: 'p' }),
      snap('self', '2025-03-01T10:02:00+0000', { parent: 'self' }),
    ];
    const ids = flattenTree(buildSnapshotTree(list)).map((n) => n.snapshot.id);
    expect(ids.sort()).toEqual(['p', 'q', 'self']);
  });

  it('keeps the current flag on the node and finds the current snapshot', () => {
    const list = [snap('a', '2025-03-01T10:00:00+0000'), snap('b', '2025-03-01T10:01:00+0000', { parent: 'a', current: true }), snap('c', '2025-03-01T10:02:00+0000', { parent: 'a' })];
    const flat = flattenTree(buildSnapshotTree(list));
    expect(flat.filter((n) => n.snapshot.current).map((n) => n.snapshot.id)).toEqual(['b']);
    expect(currentSnapshot(list)?.id).toBe('b');
    expect(currentSnapshot([snap('a', '')])).toBeUndefined();
  });

  it('reverting moves the current flag without changing the shape', () => {
    // After a revert to "a" and a new snapshot "d", d is a second child of a: a branch.
    const list = [
      snap('a', '2025-03-01T10:00:00+0000'),
      snap('b', '2025-03-01T10:01:00+0000', { parent: 'a' }),
      snap('d', '2025-03-01T10:03:00+0000', { parent: 'a', current: true }),
    ];
    expect(shape(buildSnapshotTree(list))).toBe('a(b,d)');
  });
});

describe('labels', () => {
  it('names the type as the UI shows it', () => {
    expect(snapshotTypeLabel('Disk')).toBe('Disk');
    expect(snapshotTypeLabel('DiskAndMemory')).toBe('Disk + memory');
  });

  it('shows the display name, else the hypervisor name', () => {
    expect(snapshotLabel(snap('a', ''))).toBe('a');
    expect(snapshotLabel({ ...snap('a', ''), displayname: '' })).toBe('i-2-3-VM_VS_a');
  });
});
