/**
 * Issue 16: a list call never waits for, or pays for, a host connect. After Kiln starts, its KVM
 * hosts are in the database with no session yet; the first call of every list command answers
 * from the database with the same statements as the next call, and opens no SSH connection
 * (SshConnection.connectOnce, counted as kvm-refresh-connections.real counts it). The hosts are
 * connected by Kiln itself at start, in the background, before any call asks for them.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { SshConnection } from '../../drivers/kvm/ssh-connection.js';
import type { Engine } from '../../main/engine/engine.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, testKvmDriver } from '../helpers/kvm-zone.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { countStatements } from '../helpers/statement-counter.js';
import { ASKS_THE_HOST, listCommands, requiredParams } from '../helpers/list-commands.js';

const hosts = kvmHostsOrSkip();
let dataDir: string;
let t: TestEngine | undefined;
let connects: MockInstance;

const kvmHosts = (engine: Engine) => engine.db.prepare(`SELECT id, state, last_pinged FROM hosts WHERE hypervisor='KVM' AND removed IS NULL ORDER BY id`).all() as { id: number; state: string; last_pinged: string | null }[];

describe.skipIf(!hosts)('list calls after a start, with KVM hosts configured', () => {
  beforeAll(async () => {
    // Two KVM hosts added (and so connected once), then Kiln stopped: what a later start finds.
    const z = await kvmZone(hosts!);
    dataDir = z.t.dataDir;
    await z.t.engine.close();
    connects = vi.spyOn(SshConnection.prototype as unknown as { connectOnce(): Promise<unknown> }, 'connectOnce');
  }, 120_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    if (t) {
      await cleanUp(t);
      await t.close();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('the first call of every list answers from the database: no SSH connect, the same statements as the next call', async () => {
    // background: false, so nothing but the calls below could connect a host.
    t = await testEngine({ dataDir, keep: true, drivers: [testKvmDriver(hosts!)] });
    connects.mockClear();
    const connected: string[] = [];
    const differs: string[] = [];
    let listed = 0;
    for (const command of listCommands(t).map((d) => d.name)) {
      const params = requiredParams(t, command);
      if (!params || command in ASKS_THE_HOST) continue;
      const before = connects.mock.calls.length;
      const first = await countStatements(t.engine.db, () => t!.call(command, params));
      if (connects.mock.calls.length > before) connected.push(`${command}: ${connects.mock.calls.length - before} SSH connect(s)`);
      const second = await countStatements(t.engine.db, () => t!.call(command, params));
      expect(first.result.status, `${command}: ${JSON.stringify(first.result.body).slice(0, 300)}`).toBe(second.result.status);
      if (first.statements !== second.statements) differs.push(`${command}: ${first.statements} statements first, ${second.statements} after`);
      listed++;
    }
    expect(listed).toBeGreaterThan(30);
    expect(connected, 'list calls that connected a host').toEqual([]);
    expect(differs, 'list calls whose first call after the start ran more statements').toEqual([]);
    // listHosts shows the hosts as the database has them (Up from their last contact), not a fresh connect.
    const listedHosts = ((await t.ok('listHosts', { hypervisor: 'KVM' }))['host'] as { state: string }[]).map((h) => h.state);
    expect(listedHosts).toEqual(['Up', 'Up']);
    expect(connects).not.toHaveBeenCalled();
    await t.close();
    t = undefined;
  }, 120_000);

  it('Kiln connects its hosts in the background at start, with no call asking for them', async () => {
    const startedAt = new Date().toISOString();
    connects.mockClear();
    t = await testEngine({ dataDir, keep: true, drivers: [testKvmDriver(hosts!)], background: true });
    const engine = t.engine;
    // The HA monitor's first pass would come ha.monitor.interval (10 s) later; what connects here is the start itself.
    engine.background.ha.stop();
    await vi.waitFor(() => {
      const rows = kvmHosts(engine);
      expect(rows.map((h) => h.state)).toEqual(['Up', 'Up']);
      for (const h of rows) expect(h.last_pinged! > startedAt, `host ${h.id} refreshed after the start`).toBe(true);
    }, { timeout: 30_000, interval: 100 });
    expect(connects).toHaveBeenCalledTimes(2);
  }, 60_000);
});
