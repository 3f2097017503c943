/**
 * Issue 16: Kiln connects its hosts in the background at start, so that no API call after a start
 * connects one in-line (list-statements: the first call of every list runs the statements of the
 * next; kvm-list-no-connect.real on real KVM hosts). A connect still under way when Kiln closes
 * leaves no session open and writes nothing on the host's row.
 */
import { describe, expect, it, vi } from 'vitest';
import { testEngine } from '../helpers/engine.js';

const hostRows = (t: Awaited<ReturnType<typeof testEngine>>) =>
  t.engine.db.prepare('SELECT id, state, last_error FROM hosts WHERE removed IS NULL ORDER BY id').all() as { id: number; state: string; last_error: string | null }[];

describe('host connects at start', () => {
  it('a start connects every host with no call asking for one', async () => {
    const first = await testEngine({ keep: true });
    const dataDir = first.dataDir;
    await first.engine.close();
    const t = await testEngine({ dataDir, background: true });
    try {
      t.engine.background.ha.stop();
      const ids = hostRows(t).map((h) => h.id);
      expect(ids.length).toBeGreaterThan(1);
      await vi.waitFor(() => expect(ids.filter((id) => t.engine.hosts.openSession(id) === undefined)).toEqual([]), { timeout: 10_000, interval: 20 });
    } finally {
      await t.close();
    }
  });

  it('a connect under way when Kiln closes leaves no session and marks no host', async () => {
    const t = await testEngine();
    const ids = hostRows(t).map((h) => h.id);
    for (const id of ids) await t.engine.hosts.drop(id);
    const before = hostRows(t);
    const connecting = t.engine.hosts.connectAll(ids.length);
    await t.engine.hosts.closeAll();
    await connecting;
    expect(ids.filter((id) => t.engine.hosts.openSession(id) !== undefined)).toEqual([]);
    expect(hostRows(t)).toEqual(before);
    await t.close();
  });
});
