/**
 * Builds the WHERE clause of a list query from optional filters, so list commands state their
 * filters as data instead of repeating `(? IS NULL OR col=?)` by hand.
 */
import { likePattern } from './events.js';

export type Filter =
  | [column: string, value: string | number | undefined | null]
  | [column: string, value: string | undefined | null, op: 'like' | 'ieq'];

export function where(base: string[], filters: Filter[]): { sql: string; values: unknown[] } {
  const clauses = [...base];
  const values: unknown[] = [];
  for (const [column, value, op] of filters) {
    // An empty filter value means "no filter", as CloudStack's list commands read it.
    if (value === undefined || value === null || value === '') continue;
    if (op === 'like') {
      clauses.push(`${column} LIKE ? ESCAPE '\\'`);
      values.push(likePattern(String(value)));
    } else if (op === 'ieq') {
      clauses.push(`lower(${column})=lower(?)`);
      values.push(value);
    } else {
      clauses.push(`${column}=?`);
      values.push(value);
    }
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', values };
}
