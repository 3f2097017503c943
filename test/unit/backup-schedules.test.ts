/**
 * Backup schedules on a fake clock: CloudStack's schedule strings in a time zone, daylight-saving
 * gaps and repeats, the monthly day limit, and the missed-run rule (a schedule missed while Kiln
 * was closed runs once at the next start, then goes on from now).
 */
import { describe, expect, it } from 'vitest';
import { checkSchedule, cronPattern, dueAt, nextRun, nextRuns } from '../../main/engine/backup/schedule.js';

const iso = (d: Date) => d.toISOString();

describe('backup schedules', () => {
  it('turns each interval type into its cron pattern (WEEKLY counts 1 as Sunday, as CloudStack does)', () => {
    expect(cronPattern('HOURLY', '15')).toBe('15 * * * *');
    expect(cronPattern('DAILY', '30:02')).toBe('30 2 * * *');
    expect(cronPattern('WEEKLY', '00:09:1')).toBe('0 9 * * 0');
    expect(cronPattern('MONTHLY', '45:23:28')).toBe('45 23 28 * *');
  });

  it('refuses what CloudStack refuses, naming the parameter: a monthly day past 28 (the 31st), a wrong shape, an unknown zone', () => {
    expect(() => checkSchedule({ intervalType: 'MONTHLY', schedule: '00:01:31', timezone: 'UTC' })).toThrow(/^schedule: the day of the month must be between 1 and 28, not 31/);
    expect(() => checkSchedule({ intervalType: 'DAILY', schedule: '30', timezone: 'UTC' })).toThrow(/^schedule: "30" does not fit DAILY/);
    expect(() => checkSchedule({ intervalType: 'HOURLY', schedule: '60', timezone: 'UTC' })).toThrow(/^schedule: the minute must be between 0 and 59/);
    expect(() => checkSchedule({ intervalType: 'WEEKLY', schedule: '0:0:8', timezone: 'UTC' })).toThrow(/day of the week must be between 1 and 7/);
    expect(() => checkSchedule({ intervalType: 'YEARLY', schedule: '0', timezone: 'UTC' })).toThrow(/^intervaltype: one of HOURLY, DAILY, WEEKLY, MONTHLY/);
    expect(() => checkSchedule({ intervalType: 'DAILY', schedule: '0:0', timezone: 'Mars/Olympus' })).toThrow(/^timezone: "Mars\/Olympus" is not a time zone name/);
  });

  it('evaluates a daily time in its own zone: 02:30 in Seoul is 17:30 UTC the day before', () => {
    const spec = checkSchedule({ intervalType: 'daily', schedule: '30:02', timezone: 'Asia/Seoul' });
    expect(spec.intervalType).toBe('DAILY');
    expect(iso(nextRun(spec, new Date('2026-06-01T12:00:00Z')))).toBe('2026-06-01T17:30:00.000Z');
  });

  it('across DST in Berlin: 02:30 does not exist on the spring-forward day (runs once, at 03:00), and the hour stays local before and after', () => {
    const spec = checkSchedule({ intervalType: 'DAILY', schedule: '30:02', timezone: 'Europe/Berlin' });
    const runs = nextRuns(spec, new Date('2026-03-27T12:00:00Z'), 3).map(iso);
    expect(runs).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    // Autumn: 02:30 happens twice on 25 October; the schedule runs once that day.
    const autumn = nextRuns(spec, new Date('2026-10-24T12:00:00Z'), 3).map(iso);
    expect(autumn.filter((r) => r.startsWith('2026-10-25'))).toHaveLength(1);
    expect(autumn[0]).toBe('2026-10-25T00:30:00.000Z');
  });

  it('hourly, weekly and monthly next runs', () => {
    expect(iso(nextRun(checkSchedule({ intervalType: 'HOURLY', schedule: '05', timezone: 'UTC' }), new Date('2026-06-01T10:05:00Z')))).toBe('2026-06-01T11:05:00.000Z');
    // 1 = Sunday: 7 June 2026 is a Sunday.
    expect(iso(nextRun(checkSchedule({ intervalType: 'WEEKLY', schedule: '00:09:1', timezone: 'UTC' }), new Date('2026-06-01T00:00:00Z')))).toBe('2026-06-07T09:00:00.000Z');
    // Monthly on the 28th every month, February included.
    const monthly = nextRuns(checkSchedule({ intervalType: 'MONTHLY', schedule: '00:00:28', timezone: 'UTC' }), new Date('2026-01-29T00:00:00Z'), 2).map(iso);
    expect(monthly).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-28T00:00:00.000Z']);
  });

  it('missed-run rule: a schedule whose run passed while Kiln was closed is due once, and its next run is after now, not the next missed slot', () => {
    const spec = checkSchedule({ intervalType: 'HOURLY', schedule: '00', timezone: 'UTC' });
    const waitingFor = new Date('2026-06-01T10:00:00Z');
    // Not yet.
    expect(dueAt(spec, waitingFor, new Date('2026-06-01T09:59:59Z'))).toEqual({ due: false, next: waitingFor });
    // Kiln was closed from 09:30 to 15:20: five hourly slots passed; one run, then 16:00.
    const reopened = dueAt(spec, waitingFor, new Date('2026-06-01T15:20:00Z'));
    expect(reopened.due).toBe(true);
    expect(iso(reopened.next)).toBe('2026-06-01T16:00:00.000Z');
    // Running again at the same moment owes nothing more.
    expect(dueAt(spec, reopened.next, new Date('2026-06-01T15:20:01Z')).due).toBe(false);
  });
});
