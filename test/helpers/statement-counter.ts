/**
 * Counts the SQL statements a piece of code runs on a database: every execution of a prepared
 * statement (run, get, all, iterate), whether it was prepared now or cached earlier, and every
 * db.exec. A list call whose count grows with the rows it matched runs a statement per row.
 */
import type { Db } from '../../main/engine/db/database.js';

type Method = 'run' | 'get' | 'all' | 'iterate';
const METHODS: Method[] = ['run', 'get', 'all', 'iterate'];

export async function countStatements<T>(db: Db, work: () => Promise<T> | T): Promise<{ result: T; statements: number; sql: string[] }> {
  // Every better-sqlite3 Statement shares one prototype; wrapping it catches cached statements too.
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<Method, (...args: unknown[]) => unknown> & { source: string };
  const originals = METHODS.map((m) => proto[m]);
  const originalExec = db.exec;
  const sql: string[] = [];
  METHODS.forEach((m, i) => {
    proto[m] = function (this: { source: string }, ...args: unknown[]) {
      sql.push(this.source);
      return originals[i]!.apply(this, args);
    };
  });
  db.exec = function (this: Db, source: string) {
    sql.push(source);
    return originalExec.call(this, source);
  } as Db['exec'];
  try {
    const result = await work();
    return { result, statements: sql.length, sql };
  } finally {
    METHODS.forEach((m, i) => (proto[m] = originals[i]!));
    db.exec = originalExec;
  }
}
