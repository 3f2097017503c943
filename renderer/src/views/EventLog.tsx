/** The event log (listEvents), filterable by level, type and keyword; refreshed as events arrive. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, type EventRecord } from '../api/model';

const LEVELS = ['INFO', 'WARN', 'ERROR'];

export function EventLog({ resourceId, compact }: { resourceId?: string; compact?: boolean }) {
  const [events, setEvents] = useState<EventRecord[]>([]);
  const [level, setLevel] = useState('');
  const [type, setType] = useState('');
  const [keyword, setKeyword] = useState('');
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const response = await kiln.invoke('listEvents', { resourceid: resourceId, level: level || undefined, type: type.trim() || undefined, keyword: keyword.trim() || undefined, page: 1, pagesize: 200 });
      setEvents(listOf<EventRecord>(response, 'event'));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  }, [resourceId, level, type, keyword]);

  useEffect(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void load(), 200);
    return () => clearTimeout(timer.current);
  }, [load]);

  // New events: reload (debounced) with the filter as it is then; the engine applies it. One
  // subscription for the life of the view (a filter change must not subscribe again), ended on unmount.
  const latestLoad = useRef(load);
  latestLoad.current = load;
  useEffect(
    () =>
      kiln.subscribe('events', () => {
        clearTimeout(timer.current);
        timer.current = setTimeout(() => void latestLoad.current(), 500);
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
