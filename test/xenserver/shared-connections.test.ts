/**
 * drivers/common/shared-connections.ts, the one-connection-per-endpoint rule the XenServer driver
 * uses for its pools: callers at the same time share one opening, a failed opening is forgotten
 * (the next caller opens again), the connection closes with its last user and only then, and a
 * release given twice counts once; a client whose first read fails is closed (startedOrClosed).
 */
import { describe, expect, it } from 'vitest';
import { SharedConnections, startedOrClosed } from '../../drivers/common/shared-connections.js';

describe('SharedConnections', () => {
  it('opens once for concurrent callers, closes with the last release, and a second release of one user does nothing', async () => {
    const closed: number[] = [];
    let opened = 0;
    const pool = new SharedConnections<number>(async (n) => void closed.push(n));
    const open = async () => {
      opened++;
      await new Promise((r) => setTimeout(r, 10));
      return opened;
    };
    const [a, b] = await Promise.all([pool.acquire('k', open), pool.acquire('k', open)]);
    expect([opened, a.value, b.value]).toEqual([1, 1, 1]);
    await a.release();
    await a.release();
    expect(closed).toEqual([]);
    await b.release();
    expect(closed).toEqual([1]);
    // Closed and forgotten: the next caller opens a new one.
    const c = await pool.acquire('k', open);
    expect([opened, c.value]).toEqual([2, 2]);
  });

  it('forgets a failed opening, so the next caller tries again', async () => {
    const pool = new SharedConnections<string>(async () => undefined);
    await expect(pool.acquire('k', async () => { throw new Error('refused'); })).rejects.toThrow('refused');
    expect((await pool.acquire('k', async () => 'up')).value).toBe('up');
  });

  it('startedOrClosed closes a client whose first read fails, and only then', async () => {
    let closed = 0;
    const client = { close: () => void closed++ };
    await startedOrClosed(client, async () => 'inventory read');
    expect(closed).toBe(0);
    await expect(startedOrClosed(client, async () => { throw new Error('EVENTS_LOST'); })).rejects.toThrow('EVENTS_LOST');
    expect(closed).toBe(1);
  });
});
