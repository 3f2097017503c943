/**
 * Opens Kiln's SQLite database (WAL, foreign keys on) and applies pending migrations. Its
 * prepare() keeps the statements it compiled (cacheStatements), so callers prepare where they use
 * a statement and the SQL is compiled once.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;
type Statement = Database.Statement;
type Mode = 'flat' | 'pluck' | 'raw' | 'expand';

/** How many distinct SQL texts the statement cache keeps (least recently prepared dropped first). */
export const STATEMENT_CACHE_SIZE = 400;

/** A compiled statement kept for its SQL text. */
interface Entry {
  stmt: Statement;
}

const cacheSizes = new WeakMap<Db, () => number>();

/** How many SQL texts DB's statement cache holds now (tests). */
export function statementCacheSize(db: Db): number {
  return cacheSizes.get(db)?.() ?? 0;
}

/**
 * What DB.prepare returns: one caller's handle on the cached statement of its SQL. Its pluck(),
 * raw(), expand() and safeIntegers() are its own (set on the shared statement as it runs, so one
 * caller's pluck() is never another's); while the shared statement is busy (mid-iterate()) it runs
 * on a statement of its own, as does a handle whose parameters bind() bound for good.
 */
class CachedStatement {
  private mode: Mode = 'flat';
  private safe = false;
  private own: Statement | undefined;

  constructor(
    private readonly entry: Entry,
    private readonly compile: () => Statement,
  ) {}

  get source(): string {
    return this.entry.stmt.source;
  }
  get reader(): boolean {
    return this.entry.stmt.reader;
  }
  get readonly(): boolean {
    return this.entry.stmt.readonly;
  }
  get busy(): boolean {
    return (this.own ?? this.entry.stmt).busy;
  }
  get database(): Db {
    return this.entry.stmt.database;
  }

  run(...args: unknown[]) {
    return this.target().run(...args);
  }
  get(...args: unknown[]) {
    return this.target().get(...args);
  }
  all(...args: unknown[]) {
    return this.target().all(...args);
  }
  iterate(...args: unknown[]) {
    return this.target().iterate(...args);
  }
  columns() {
    return this.target().columns();
  }
  bind(...args: unknown[]): this {
    this.own ??= this.compile();
    this.own.bind(...args);
    return this;
  }
  pluck(use = true): this {
    return this.toggle('pluck', use);
  }
  raw(use = true): this {
    return this.toggle('raw', use);
  }
  expand(use = true): this {
    return this.toggle('expand', use);
  }
  safeIntegers(use = true): this {
    this.safe = use;
    return this;
  }

  private toggle(mode: Exclude<Mode, 'flat'>, use: boolean): this {
    if (!this.entry.stmt.reader) throw new TypeError(`The ${mode}() method is only for statements that return data`);
    this.mode = use ? mode : this.mode === mode ? 'flat' : this.mode;
    return this;
  }

  /** The statement to run, in this handle's mode. */
  private target(): Statement {
    if (this.own) return setMode(this.own, this.mode, this.safe);
    const entry = this.entry;
    if (!entry.stmt.busy) {
      try {
        return setMode(entry.stmt, this.mode, this.safe);
      } catch {
        // A mode cannot change while the database is busy in an iterate(): a statement of its own.
      }
    }
    this.own = this.compile();
    return setMode(this.own, this.mode, this.safe);
  }
}

/** STMT's mode as Kiln last set it (a fresh statement's: plain rows, no safe integers). */
const modes = new WeakMap<Statement, { mode: Mode; safe: boolean }>();

/** Puts STMT in MODE (what its pluck/raw/expand(true) set; flat: plain row objects) and SAFE integers. */
function setMode(stmt: Statement, mode: Mode, safe: boolean): Statement {
  let now = modes.get(stmt);
  if (!now) modes.set(stmt, (now = { mode: 'flat', safe: false }));
  if (now.mode !== mode) {
    if (mode === 'flat') stmt.pluck(true).pluck(false);
    else stmt[mode](true);
    now.mode = mode;
  }
  if (now.safe !== safe) {
    stmt.safeIntegers(safe);
    now.safe = safe;
  }
  return stmt;
}

/**
 * Makes DB.prepare(sql) compile each SQL text once: it returns a handle (CachedStatement) on the
 * statement compiled for that text before. Compiling was a third to a half of the CPU of a CSV
 * bulk import (bench csv-bulk: ~51 statements per VM, each prepared where it is used).
 * better-sqlite3's rules for sharing a statement, which the handles keep:
 * - one mid-iterate() is busy and cannot run again: a handle then runs on a fresh one;
 * - pluck()/raw()/expand()/safeIntegers() change a statement's mode for every later run: each
 *   handle keeps its own and the shared statement is set to it as the handle runs;
 * - bind() binds parameters for good: the handle gets a statement of its own.
 * At most SIZE texts are kept (SQL built with a varying number of placeholders or with inlined
 * values makes new texts; the least recently prepared go). Each call still runs its statements:
 * what is cached is the compilation, not results.
 */
export function cacheStatements(db: Db, size = STATEMENT_CACHE_SIZE): Db {
  const compile = db.prepare.bind(db) as (sql: string) => Statement;
  const cache = new Map<string, Entry>();
  cacheSizes.set(db, () => cache.size);
  (db as { prepare: (sql: string) => unknown }).prepare = (sql: string) => {
    let entry = cache.get(sql);
    if (entry) {
      // Most recently used last: a Map keeps insertion order.
      cache.delete(sql);
    } else {
      entry = { stmt: compile(sql) };
      if (cache.size >= size) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, entry);
    return new CachedStatement(entry, () => compile(sql));
  };
  return db;
}

export function openDatabase(file: string, migrations: Migration[] = MIGRATIONS): Db {
  const db = cacheStatements(new Database(file));
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

export function migrate(db: Db, migrations: Migration[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}

export function now(): string {
  return new Date().toISOString();
}
