/**
 * A short list of records as a plain table: a header row, one row per record (carrying the data
 * attribute tests and styles find it by), and last an actions cell whose header only screen
 * readers hear. The lists of key pairs, images, backup offerings, backups, schedules and a VM's
 * volumes share it.
 */
import type { ReactNode } from 'react';

export interface RecordColumn<T> {
  header: string;
  cell(row: T): ReactNode;
  /** The body cells' class. */
  className?: string;
  /** The header cell's class (e.g. "num" to right-align a number column's header with its cells). */
  headerClassName?: string;
}

interface RecordTableProps<T> {
  label: string;
  columns: RecordColumn<T>[];
  rows: T[];
  rowKey(row: T): string;
  /** The row's data-* attributes, e.g. { 'data-keypair': name }. */
  rowData?(row: T): Record<`data-${string}`, string>;
  /** The row's buttons; without it the table has no actions column. */
  actions?(row: T): ReactNode;
  /** The actions cell's class; "actions-cell" unless a view lays its buttons out otherwise. */
  actionsClassName?: string;
  /** A visible caption above the header row. */
  caption?: ReactNode;
}

export function RecordTable<T>({ label, columns, rows, rowKey, rowData, actions, actionsClassName = 'actions-cell', caption }: RecordTableProps<T>) {
  return (
    <table className="plain-table" aria-label={label}>
      {caption !== undefined && <caption>{caption}</caption>}
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.header} className={c.headerClassName}>
              {c.header}
            </th>
          ))}
          {actions && (
            <th>
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} {...rowData?.(row)}>
            {columns.map((c) => (
              <td key={c.header} className={c.className}>
                {c.cell(row)}
              </td>
            ))}
            {actions && <td className={actionsClassName}>{actions(row)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Delete button of a row: named for what it deletes (LABEL), styled as dangerous. */
export function DeleteButton({ label, onClick, disabled }: { label: string; onClick(): void; disabled?: boolean }) {
  return (
    <button type="button" className="danger" onClick={onClick} disabled={disabled} aria-label={label}>
      Delete
    </button>
  );
}
