/**
 * A windowed table: only the rows in view (plus a few) are in the DOM, in document flow after a
 * top padding of the rows above them, set through the CSSOM (element.style, which the
 * `style-src 'self'` CSP allows; style attributes in markup it would block). The rows are
 * keyboard-navigable: one roving tab stop, arrows, Page Up/Down, Home/End; the parent handles
 * Space and Enter.
 */
import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { flushSync } from 'react-dom';

interface VirtualTableProps {
  label: string;
  rowCount: number;
  rowHeight: number;
  /** A class that sets the grid columns, shared by the header row and every body row. */
  gridClass: string;
  header: ReactNode;
  rowKey(index: number): string;
  /**
   * A row's cells, called by the (memoized) row itself: pass a stable function (useCallback)
   * whose identity changes only when what it renders does, or every row re-renders.
   */
  renderCells(index: number, active: boolean): ReactNode;
  rowClass?(index: number): string;
  activeIndex: number;
  onActiveIndexChange(index: number): void;
  onRowKeyDown?(index: number, event: KeyboardEvent<HTMLElement>): void;
  /** Rows rendered beyond the visible ones on each side, at least. */
  overscan?: number;
  /** Rows the window moves by beyond what a scroll needs, ahead in its direction. */
  step?: number;
  empty?: ReactNode;
}

export function VirtualTable(props: VirtualTableProps) {
  const { rowCount, rowHeight, activeIndex, onActiveIndexChange } = props;
  const overscan = props.overscan ?? 4;
  const step = props.step ?? 10;
  const scrollRef = useRef<HTMLDivElement>(null);
  const bodyRef = useRef<HTMLTableSectionElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(0);
  const [bodyTop, setBodyTop] = useState(0);
  const focusWanted = useRef(false);
  // The rows' one focus handler stays the same function across renders (a new closure per row
  // would defeat their memo); it reads the active index and callback of the last render.
  const latest = useRef({ activeIndex, onActiveIndexChange });
  useLayoutEffect(() => {
    latest.current = { activeIndex, onActiveIndexChange };
  });
  const onRowFocus = useCallback((index: number) => {
    if (index !== latest.current.activeIndex) latest.current.onActiveIndexChange(index);
  }, []);

  useLayoutEffect(() => {
    if (bodyRef.current) bodyRef.current.style.height = `${rowCount * rowHeight}px`;
  }, [rowCount, rowHeight]);

  useLayoutEffect(() => {
    const scroller = scrollRef.current!;
    const measure = () => {
      setViewport(scroller.clientHeight);
      setBodyTop(bodyRef.current?.offsetTop ?? 0);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(scroller);
    return () => observer.disconnect();
  }, []);

  // A shorter list may leave the scroll position past its end: read it again when the row count
  // changes, and only then. Read after every render (each scrolled frame), scrollTop forced a
  // style and layout pass right after React had changed the rows, and a second render whenever
  // the scroller had moved on meanwhile: most of a scrolled frame's main-thread time (bench P6).
  useEffect(() => {
    setScrollTop(scrollRef.current!.scrollTop);
  }, [rowCount]);

  // The rendered window holds the visible rows and at least `overscan` more on each side. When a
  // scroll leaves less than that, the window moves by `step` rows more, ahead in the direction of the
  // scroll, so that most scrolled frames change nothing in the DOM: the compositor only moves what
  // is painted, as for a blank page. Moved one row at a time (each scrolled frame, at a wheel's
  // speed), every frame paid React's render, a style, layout, paint and layerization pass and a
  // commit to the compositor for one or two rows (bench P6).
  const windowFor = (top: number, prev: { first: number; last: number } | null, margin = overscan) => {
    const inBody = Math.max(0, top - bodyTop);
    const firstSeen = Math.min(Math.max(0, rowCount - 1), Math.floor(inBody / rowHeight));
    const lastSeen = Math.min(rowCount - 1, Math.ceil((inBody + (viewport || 800)) / rowHeight));
    const want = [Math.max(0, firstSeen - margin), Math.min(rowCount - 1, lastSeen + margin)] as const;
    // A list grown or shrunk under the window keeps it as far as it still reaches.
    const kept = prev && ([Math.min(prev.first, want[0]), Math.min(prev.last, rowCount - 1)] as const);
    if (kept && prev.first <= want[0] && kept[1] >= want[1]) return kept;
    const up = prev !== null && want[0] < prev.first && want[1] <= prev.last;
    return [Math.max(0, want[0] - (up ? step : 0)), Math.min(rowCount - 1, want[1] + (up ? 0 : step))] as const;
  };
  const shown = useRef<{ first: number; last: number } | null>(null);
  const [first, last] = windowFor(scrollTop, shown.current);
  const latestWindow = useRef(windowFor);
  useLayoutEffect(() => {
    shown.current = { first, last };
    latestWindow.current = windowFor;
  });
  // When the rows in view (and the next two, as far as the compositor may have scrolled on
  // meanwhile) are not all rendered, after a jump or a very fast scroll, they are rendered at once,
  // inside the scroll event: the browser dispatches it once per frame, just before the frame's
  // animation callbacks and layout, so the rows for the new position are laid out and painted in
  // that same frame, in one layout (scrollTop is read while layout is clean). When only the margin
  // beyond the view runs short, the next rows are rendered in a task of their own after this frame
  // (scrollTop read there, layout clean again): their script, style and layout run between frames,
  // not inside one, and the next frame only paints them.
  const deferred = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(deferred.current), []);
  const onScroll = useCallback(() => {
    const top = scrollRef.current?.scrollTop ?? 0;
    const now = shown.current;
    const [from, to] = latestWindow.current(top, now);
    if (now && from === now.first && to === now.last) return;
    const [seenFrom, seenTo] = latestWindow.current(top, now, 2);
    if (!now || seenFrom !== now.first || seenTo !== now.last) {
      clearTimeout(deferred.current);
      deferred.current = undefined;
      flushSync(() => setScrollTop(top));
      return;
    }
    deferred.current ??= setTimeout(() => {
      deferred.current = undefined;
      const later = scrollRef.current?.scrollTop;
      if (later === undefined) return;
      flushSync(() => setScrollTop(later));
      // Their style and layout too, here between frames (a layout the next frame would do anyway).
      bodyRef.current?.getBoundingClientRect();
    });
  }, []);

  // The rows above the window are its body's top padding: the rows in the DOM stay in flow, each
  // where the one before it ends. Changing the padding and the first row together leaves every
  // other row where it was, so nothing already painted moves. Placed one by one (absolute, with a
  // transform each), every row was a paint layer of its own to create, restyle and composite,
  // which cost about a third more style time per frame scrolled (bench P6).
  useLayoutEffect(() => {
    // At most the body's height: a list filtered shorter while scrolled far down keeps its height, so
    // that the browser clamps the scroll position, which the row-count effect above then reads.
    if (bodyRef.current) bodyRef.current.style.paddingTop = `${Math.min(first, rowCount) * rowHeight}px`;
  }, [first, rowCount, rowHeight]);

  const moveTo = (index: number) => {
    const target = Math.max(0, Math.min(rowCount - 1, index));
    const scroller = scrollRef.current!;
    const rowTop = bodyTop + target * rowHeight;
    if (rowTop - bodyTop < scroller.scrollTop) scroller.scrollTop = rowTop - bodyTop;
    else if (rowTop + rowHeight > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = rowTop + rowHeight - scroller.clientHeight;
    focusWanted.current = true;
    onActiveIndexChange(target);
    setScrollTop(scroller.scrollTop);
  };

  // Focus follows the active row once it is rendered.
  useEffect(() => {
    if (!focusWanted.current) return;
    const row = bodyRef.current?.querySelector<HTMLElement>(`tr[data-index="${activeIndex}"]`);
    if (row) {
      focusWanted.current = false;
      row.focus({ preventScroll: true });
    }
  }, [activeIndex, first, last]);

  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    const index = Number((event.target as HTMLElement).closest('tr')?.dataset['index'] ?? activeIndex);
    const page = Math.max(1, Math.floor((viewport - bodyTop) / rowHeight) - 1);
    const moves: Record<string, number> = { ArrowDown: index + 1, ArrowUp: index - 1, PageDown: index + page, PageUp: index - page, Home: 0, End: rowCount - 1 };
    const isRow = (event.target as HTMLElement).tagName === 'TR';
    if (event.key in moves && (isRow || event.key.startsWith('Arrow'))) {
      event.preventDefault();
      moveTo(moves[event.key]!);
      return;
    }
    props.onRowKeyDown?.(index, event);
  };

  const rows: ReactNode[] = [];
  for (let i = first; i <= last; i++) {
    const active = i === Math.min(activeIndex, rowCount - 1);
    rows.push(
      <VirtualRow
        key={props.rowKey(i)}
        index={i}
        active={active}
        className={`vt-row ${props.gridClass} ${props.rowClass?.(i) ?? ''}`}
        onFocus={onRowFocus}
        renderCells={props.renderCells}
      />,
    );
  }

  return (
    <div className="vt-scroll" ref={scrollRef} onScroll={onScroll}>
      <table className="vt-table" role="table" aria-label={props.label} aria-rowcount={rowCount + 1}>
        <thead className="vt-head" role="rowgroup">
          <tr className={`vt-header-row ${props.gridClass}`} role="row" aria-rowindex={1}>
            {props.header}
          </tr>
        </thead>
        <tbody className="vt-body" role="rowgroup" ref={bodyRef} onKeyDown={onKeyDown}>
          {rows}
        </tbody>
      </table>
      {rowCount === 0 && props.empty}
    </div>
  );
}

interface VirtualRowProps {
  index: number;
  active: boolean;
  className: string;
  onFocus(index: number): void;
  renderCells(index: number, active: boolean): ReactNode;
}

/** Re-renders only when one of its props changes: all primitives or stable functions. */
const VirtualRow = memo(function VirtualRow({ index, active, className, onFocus, renderCells }: VirtualRowProps) {
  return (
    <tr role="row" aria-rowindex={index + 2} data-index={index} tabIndex={active ? 0 : -1} className={className} onFocus={() => onFocus(index)}>
      {renderCells(index, active)}
    </tr>
  );
});
