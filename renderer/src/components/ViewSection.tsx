/**
 * A top-level view's frame: a section labelled by its h1 (id `<name>-title`) in the header row,
 * the view's load error as an alert below it, then the view's content. One frame, so views are
 * labelled and report a failed load the same way.
 */
import type { ReactNode } from 'react';

export function ViewSection({ name, title, error, children }: { name: string; title: ReactNode; error?: string; children?: ReactNode }) {
  const titleId = `${name}-title`;
  return (
    <section className={`view ${name}`} aria-labelledby={titleId}>
      <div className="view-header">
        <h1 id={titleId}>{title}</h1>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {children}
    </section>
  );
}
