/**
 * What both consoles (serial and graphical) say about their connection, and how long they wait
 * before trying again: 1 s, 2 s, 4 s, … at most 30 s. One rule, so the two behave alike.
 */
export type ConsoleStatus =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected' }
  | { kind: 'waiting'; seconds: number; attempt: number; reason: string }
  | { kind: 'refused'; reason: string };

export function statusText(status: ConsoleStatus): string {
  switch (status.kind) {
    case 'connecting':
      return status.attempt > 1 ? `Connecting (attempt ${status.attempt})…` : 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'waiting':
      return `Disconnected: ${status.reason}. Retrying in ${status.seconds} s.`;
    case 'refused':
      return 'Not available';
  }
}

/** A failure's reason in words: 534 is an unreachable host. */
export function explain(code: number, text: string): string {
  if (code === 534) return `the host is unreachable (${text})`;
  return text;
}

/**
 * Schedules the next attempt after a failure, counting down in the status; returns a cancel
 * function. ATTEMPT is the number of the attempt that failed.
 */
export function scheduleRetry(attempt: number, reason: string, setStatus: (status: ConsoleStatus) => void, retry: () => void): () => void {
  const delay = Math.min(30, 2 ** Math.max(0, attempt - 1));
  let seconds = delay;
  setStatus({ kind: 'waiting', seconds, attempt, reason });
  const countdown = setInterval(() => {
    seconds--;
    if (seconds > 0) setStatus({ kind: 'waiting', seconds, attempt, reason });
  }, 1000);
  const timer = setTimeout(() => {
    clearInterval(countdown);
    retry();
  }, delay * 1000);
  return () => {
    clearInterval(countdown);
    clearTimeout(timer);
  };
}
