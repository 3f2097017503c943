/**
 * The event log (listEvents), filterable by level, type and keyword. The page is loaded when the
 * view opens and when the filter changes; after that the 'events' live channel brings the new
 * event records themselves (main/engine/live/event-feed.ts), and the ones the filter matches are
 * added at the top: a burst of events costs no request.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, type EventRecord, type EventsUpdate } from '../api/model';

const LEVELS = ['INFO', 'WARN', 'ERROR'];
/** The page the log loads and keeps: the newest events. */
const PAGE_SIZE = 200;

interface EventFilter {
  resourceId?: string;
  level: string;
  type: string;
  keyword: string;
}

/**
 * Whether a pushed event belongs in the log as the engine would have filtered it (listEvents:
 * level and type exactly, the keyword in the description or type, case-insensitive as SQLite's LIKE).
 */
export function matchesFilter(event: EventRecord, filter: EventFilter): boolean {
  if (filter.resourceId && event.resourceid !== filter.resourceId) return false;
  if (filter.level && event.level !== filter.level) return false;
  if (filter.type.trim() && event.type !== filter.type.trim()) return false;
  const keyword = filter.keyword.trim().toLowerCase();
  return !keyword || event.description.toLowerCase().includes(keyword) || event.type.toLowerCase().includes(keyword);
}

/** EVENTS with the matching records of a live batch added at the top (newest first), once each, at most PAGE_SIZE. */
export function withNewEvents(events: EventRecord[], update: EventsUpdate, filter: EventFilter): EventRecord[] {
  const known = new Set(events.map((e) => e.id));
  const added = (update.changed as unknown as EventRecord[]).filter((e) => !known.has(e.id) && matchesFilter(e, filter));
  return added.length === 0 ? events : [...added, ...events].slice(0, PAGE_SIZE);
}

export function EventLog({ resourceId, compact }: { resourceId?: string; compact?: boolean }) {
  const [events, setEvents] = useState<EventRecord[]>([]);
  const [level, setLevel] = useState('');
  const [type, setType] = useState('');
  const [keyword, setKeyword] = useState('');
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  // Records pushed while a load runs: its answer may have been read before they were written.
  const pushedDuringLoad = useRef<EventRecord[] | undefined>(undefined);
  const load = useCallback(async () => {
    setLoading(true);
    pushedDuringLoad.current = [];
    try {
      const response = await kiln.invoke('listEvents', { resourceid: resourceId, level: level || undefined, type: type.trim() || undefined, keyword: keyword.trim() || undefined, page: 1, pagesize: PAGE_SIZE });
      const update = { changed: (pushedDuringLoad.current ?? []) as unknown as Record<string, unknown>[], removed: [] };
      setEvents(withNewEvents(listOf<EventRecord>(response, 'event'), update, { resourceId, level, type, keyword }));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    } finally {
      pushedDuringLoad.current = undefined;
      setLoading(false);
    }
  }, [resourceId, level, type, keyword]);

  useEffect(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void load(), 200);
    return () => clearTimeout(timer.current);
  }, [load]);

  // New events arrive as records: the ones the filter (as it is then) matches go to the top. One
  // subscription for the life of the view (a filter change must not subscribe again), ended on unmount.
  const filter = useRef<EventFilter>({ resourceId, level, type, keyword });
  filter.current = { resourceId, level, type, keyword };
  useEffect(
    () =>
      kiln.subscribe('events', (message) => {
        const update = message as EventsUpdate;
        pushedDuringLoad.current?.push(...(update.changed as unknown as EventRecord[]));
        setEvents((current) => withNewEvents(current, update, filter.current));
      }),
    [],
  );

  const types = useMemo(() => [...new Set(events.map((e) => e.type))].sort(), [events]);
  const listId = resourceId ? `event-types-${resourceId}` : 'event-types';

  return (
    <div className={compact ? 'event-log compact' : 'event-log'}>
      <form className="toolbar filters" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <label className="inline-label">
          Level
          <select value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">All</option>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-label">
          Type
          <input list={listId} value={type} onChange={(e) => setType(e.target.value)} placeholder="e.g. VM.START" size={16} />
          <datalist id={listId}>
            {types.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label className="inline-label">
          Keyword
          <input type="search" value={keyword} onChange={(e) => setKeyword(e.target.value)} placeholder="in description" />
        </label>
        <button type="button" onClick={() => void load()} disabled={loading}>
          Refresh
        </button>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {events.length === 0 && !loading ? (
        <p className="empty">No events match.</p>
      ) : (
        <div className="table-scroll">
          <table className="plain-table events-table" aria-label="Events">
            <thead>
              <tr>
                <th>Time</th>
                <th>Level</th>
                <th>Type</th>
                <th>State</th>
                <th>Description</th>
                {!compact && <th>User</th>}
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id} className={`level-${e.level.toLowerCase()}`}>
                  <td className="nowrap">{formatTime(e.created)}</td>
                  <td>
                    <span className={`level level-${e.level.toLowerCase()}`}>{e.level}</span>
                  </td>
                  <td className="mono nowrap">{e.type}</td>
                  <td>{e.state}</td>
                  <td>{e.description}</td>
                  {!compact && <td>{e.username}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function formatTime(created: string): string {
  const date = new Date(created.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(date.getTime()) ? created : date.toLocaleString();
}
