/**
 * Backup schedules as CloudStack writes them (createBackupSchedule): an interval type and a
 * schedule string, "MM" hourly, "MM:HH" daily, "MM:HH:DD" weekly (DD 1-7, 1 = Sunday, as Java's
 * Calendar counts) or monthly (DD 1-28: CloudStack refuses later days, which some months lack),
 * in an IANA time zone. The next run is computed by croner from a cron pattern, so time zones and
 * daylight-saving gaps are the library's, not date arithmetic of our own.
 */
import { Cron } from 'croner';
import { ApiError } from '../registry/errors.js';

export const INTERVAL_TYPES = ['HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY'] as const;
export type IntervalType = (typeof INTERVAL_TYPES)[number];

export const SCHEDULE_FORMAT = 'HOURLY MM, DAILY MM:HH, WEEKLY MM:HH:DD (1-7, 1 is Sunday), MONTHLY MM:HH:DD (1-28)';

export interface ScheduleSpec {
  intervalType: IntervalType;
  schedule: string;
  timezone: string;
}

export function intervalType(value: string): IntervalType {
  const upper = value.toUpperCase();
  if (!(INTERVAL_TYPES as readonly string[]).includes(upper)) throw ApiError.param(`intervaltype: one of ${INTERVAL_TYPES.join(', ')}, not "${value}"`);
  return upper as IntervalType;
}

/** An IANA zone name the runtime knows (Intl throws a RangeError for others). */
export function checkTimezone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    throw ApiError.param(`timezone: "${zone}" is not a time zone name (an IANA name such as Asia/Seoul or UTC)`);
  }
}

function field(part: string | undefined, name: string, min: number, max: number): number {
  if (part === undefined || !/^\d{1,2}$/.test(part)) throw ApiError.param(`schedule: the ${name} is missing or not a number (${SCHEDULE_FORMAT})`);
  const value = Number(part);
  if (value < min || value > max) throw ApiError.param(`schedule: the ${name} must be between ${min} and ${max}, not ${value} (${SCHEDULE_FORMAT})`);
  return value;
}

/** The cron pattern (minute hour day-of-month month day-of-week) a CloudStack schedule string means. */
export function cronPattern(type: IntervalType, schedule: string): string {
  const parts = schedule.trim().split(':');
  const expected = { HOURLY: 1, DAILY: 2, WEEKLY: 3, MONTHLY: 3 }[type];
  if (parts.length !== expected) throw ApiError.param(`schedule: "${schedule}" does not fit ${type} (${SCHEDULE_FORMAT})`);
  const minute = field(parts[0], 'minute', 0, 59);
  if (type === 'HOURLY') return `${minute} * * * *`;
  const hour = field(parts[1], 'hour', 0, 23);
  if (type === 'DAILY') return `${minute} ${hour} * * *`;
  if (type === 'WEEKLY') return `${minute} ${hour} * * ${field(parts[2], 'day of the week', 1, 7) - 1}`;
  return `${minute} ${hour} ${field(parts[2], 'day of the month', 1, 28)} * *`;
}

/** Checks a schedule as the API receives it; returns it normalised (upper-case type, trimmed string). */
export function checkSchedule(input: { intervalType: string; schedule: string; timezone: string }): ScheduleSpec {
  const type = intervalType(input.intervalType);
  const schedule = input.schedule.trim();
  cronPattern(type, schedule);
  return { intervalType: type, schedule, timezone: checkTimezone(input.timezone) };
}

/** The first runs strictly after FROM (croner in the schedule's zone). */
export function nextRuns(spec: ScheduleSpec, from: Date, count = 1): Date[] {
  const cron = new Cron(cronPattern(spec.intervalType, spec.schedule), { timezone: spec.timezone, paused: true });
  return cron.nextRuns(count, from);
}

export function nextRun(spec: ScheduleSpec, from: Date): Date {
  const [next] = nextRuns(spec, from, 1);
  if (!next) throw new Error(`schedule ${spec.intervalType} ${spec.schedule} has no next run`);
  return next;
}

/**
 * What a schedule owes at NOW, given the run it was waiting for (scheduledAt): nothing before
 * that time; else one run, however many slots passed while Kiln was closed, and the next run
 * after now (never a slot already past, so a long absence does not become a burst of backups).
 */
export function dueAt(spec: ScheduleSpec, scheduledAt: Date, now: Date): { due: boolean; next: Date } {
  if (now.getTime() < scheduledAt.getTime()) return { due: false, next: scheduledAt };
  return { due: true, next: nextRun(spec, now) };
}
