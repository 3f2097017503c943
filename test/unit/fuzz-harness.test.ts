/**
 * The fuzz suite's own checks can fail: a written row is seen, a broken answer is flagged, and
 * a seed replays the same requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { changedTables, DbFingerprint, judge, RequestGenerator, type FuzzRequest } from '../helpers/fuzz.js';
import { seededRandom } from '../helpers/seeded-random.js';

const request = (format: 'json' | 'xml'): FuzzRequest => ({ command: 'listZones', method: 'GET', format, auth: 'signed', pairs: [], mutations: [], caller: 'admin' });

describe('fuzz harness', () => {
  it('sees a row written between two fingerprints, and ignores the HA pass pinging a host', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-fp-'));
    try {
      const db = new Database(join(dir, 'kiln.db'));
      db.exec(`CREATE TABLE async_jobs (id INTEGER PRIMARY KEY, status INTEGER); CREATE TABLE vm_instances (id INTEGER PRIMARY KEY, state TEXT); CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT, last_pinged TEXT); INSERT INTO hosts VALUES (1, 'h1', 'a')`);
      const fp = new DbFingerprint(dir);
      const a = fp.take();
      db.prepare(`UPDATE hosts SET last_pinged='b'`).run();
      expect(changedTables(a, fp.take())).toEqual([]);
      db.prepare(`UPDATE hosts SET name='h2'`).run();
      expect(changedTables(a, fp.take())).toEqual(['hosts']);
      db.prepare(`INSERT INTO async_jobs VALUES (1, 0)`).run();
      expect(fp.pendingWork()).toBe(1);
      fp.close();
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flags broken answers and passes honest ones', () => {
    expect(judge(request('json'), 500, 'text/plain', 'internal error')?.kind).toBe('unparseable');
    expect(judge(request('xml'), 200, 'text/xml', '<?xml version="1.0"?><<x>response></<x>response>')?.kind).toBe('unparseable');
    expect(judge(request('json'), 530, 'application/json', '{"r":{"errorcode":530,"errortext":"Cannot read properties of undefined (reading \'id\')"}}')?.kind).toBe('dishonest-530');
    expect(judge(request('json'), 502, 'application/json', '{"r":{"errorcode":502,"errortext":"bad gateway"}}')?.kind).toBe('server-error');
    expect(judge(request('json'), 530, 'application/json', '{"r":{"errorcode":530,"errortext":"host sim-host-1 refused the definition"}}')).toBeUndefined();
    expect(judge(request('json'), 533, 'application/json', '{"r":{"errorcode":533,"errortext":"no host has capacity"}}')).toBeUndefined();
    expect(judge(request('xml'), 431, 'text/xml', '<?xml version="1.0"?><r><errorcode>431</errorcode></r>')).toBeUndefined();
  });

  it('replays the same requests from the same seed', () => {
    const ids = new Map([['zoneid', ['z1', 'z2']]]);
    const command = { name: 'deployVirtualMachine', params: [{ name: 'zoneid', type: 'uuid', required: true, length: 255 }, { name: 'details', type: 'map', required: false, length: 255 }, { name: 'name', type: 'string', required: false, length: 63 }] };
    const run = (seed: number) => {
      const generator = new RequestGenerator(seededRandom(seed), ids);
      return Array.from({ length: 50 }, () => generator.build(command));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });
});
