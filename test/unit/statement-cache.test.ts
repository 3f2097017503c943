/**
 * The database's statement cache (db/database.ts cacheStatements): the same SQL text is compiled
 * once, and sharing the compiled statement changes nothing a caller sees: a statement busy in an
 * iterate() can be prepared and run again, one caller's pluck()/raw() is not another's (either
 * way round: a handle kept with pluck() keeps plucking after a plain prepare), bind() binds only
 * its own handle, and the cache keeps at most its size of SQL texts.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheStatements, statementCacheSize, type Db } from '../../main/engine/db/database.js';
import { countStatements } from '../helpers/statement-counter.js';

let db: Db;
let compile: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  // better-sqlite3's own prepare (the compile), under the cache.
  compile = vi.spyOn(Database.prototype, 'prepare');
  db = cacheStatements(new Database(':memory:'), 5);
  db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t (name) VALUES ('a'), ('b'), ('c')`);
});
afterEach(() => {
  vi.restoreAllMocks();
  db.close();
});

describe('statement cache', () => {
  it('compiles the same SQL text once', () => {
    compile.mockClear();
    for (let i = 0; i < 10; i++) expect(db.prepare('SELECT ? AS n').get(i)).toEqual({ n: i });
    expect(compile).toHaveBeenCalledTimes(1);
  });

  it('runs a statement again while it is busy in an iterate()', () => {
    const sql = 'SELECT id, name FROM t ORDER BY id';
    const seen: string[] = [];
    for (const row of db.prepare(sql).iterate() as IterableIterator<{ name: string }>) {
      // The same SQL, prepared and run in the loop: the cached statement is the one iterating.
      seen.push(`${row.name}:${(db.prepare(sql).all() as unknown[]).length}`);
    }
    expect(seen).toEqual(['a:3', 'b:3', 'c:3']);
    expect(db.prepare(sql).get()).toEqual({ id: 1, name: 'a' });
  });

  it("does not carry one caller's pluck() or raw() to another", () => {
    const sql = 'SELECT name FROM t WHERE id=?';
    expect(db.prepare(sql).pluck().get(1)).toBe('a');
    expect(db.prepare(sql).get(1)).toEqual({ name: 'a' });
    expect(db.prepare(sql).raw().get(2)).toEqual(['b']);
    expect(db.prepare(sql).all(3)).toEqual([{ name: 'c' }]);
    // Kept (as host-feed keeps its statements): still plucks after others prepared the same SQL plain.
    const kept = db.prepare(sql).pluck();
    expect(db.prepare(sql).get(1)).toEqual({ name: 'a' });
    expect(kept.get(2)).toBe('b');
    expect(db.prepare(sql).get(3)).toEqual({ name: 'c' });
    expect(kept.pluck(false).get(3)).toEqual({ name: 'c' });
    expect(() => db.prepare('UPDATE t SET name=name').pluck()).toThrow(/only for statements that return data/);
  });

  it('binds parameters only for the handle that bound them', () => {
    const sql = 'SELECT name FROM t WHERE id=?';
    const bound = db.prepare(sql).pluck().bind(2);
    expect(db.prepare(sql).pluck().get(1)).toBe('a');
    expect(bound.get()).toBe('b');
  });

  it('keeps at most its size of SQL texts, the most recently prepared', () => {
    for (let n = 1; n <= 50; n++) db.prepare(`SELECT id FROM t WHERE id IN (${Array.from({ length: n }, () => '?').join(',')})`).all(...Array.from({ length: n }, (_, i) => i));
    expect(statementCacheSize(db)).toBe(5);
    compile.mockClear();
    db.prepare('SELECT id FROM t WHERE id IN (?)').all(1);
    expect(compile, 'the oldest text was dropped').toHaveBeenCalledTimes(1);
    compile.mockClear();
    db.prepare(`SELECT id FROM t WHERE id IN (${Array.from({ length: 50 }, () => '?').join(',')})`).all(...Array.from({ length: 50 }, (_, i) => i));
    expect(compile, 'a recent text is kept').toHaveBeenCalledTimes(0);
  });

  it('the statement counter counts every run, cached or not', async () => {
    const { statements } = await countStatements(db, () => {
      for (let i = 0; i < 4; i++) db.prepare('SELECT name FROM t WHERE id=?').get(1);
      db.prepare('SELECT name FROM t WHERE id=?').pluck().all(2);
    });
    expect(statements).toBe(5);
  });
});
