/** Job and action notices, announced politely to screen readers. */
import { useJobs } from '../stores/jobs-store';

export function Notifications() {
  const { notices, dismiss } = useJobs();
  return (
    <div className="notices" role="status" aria-live="polite">
      {notices.map((notice) => (
        <div key={notice.id} className={`notice notice-${notice.kind}`} data-kind={notice.kind}>
          <span>{notice.text}</span>
          <button type="button" className="link-button" aria-label="Dismiss notification" onClick={() => dismiss(notice.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
