/**
 * The event log (listEvents) and usage events. Every state change of a resource writes one
 * event; billing-relevant ones also write a usage event, as CloudStack's UsageEventUtils does.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Db } from './db/database.js';
import { now } from './db/database.js';
import { csDate } from './format.js';
import { ALL_ROWS, PAGE_IDS, queryPage, type ListPage, type PageWindow } from './registry/list-page.js';

export interface EventInput {
  type: string;
  description: string;
  level?: 'INFO' | 'WARN' | 'ERROR';
  state?: 'Created' | 'Scheduled' | 'Started' | 'Completed';
  userId?: number;
  accountId?: number;
  domainId?: number;
  resourceType?: string;
  resourceUuid?: string;
  jobUuid?: string;
}

export interface UsageInput {
  type: string;
  accountId: number;
  zoneId?: number;
  resourceId?: number;
  resourceName?: string;
  offeringId?: number;
  templateId?: number;
  size?: number;
}

interface EventRow {
  uuid: string;
  type: string;
  state: string;
  level: string;
  description: string;
  account_id: number | null;
  resource_type: string | null;
  resource_uuid: string | null;
  created: string;
  username: string | null;
  account: string | null;
  domain: string | null;
  domainuuid: string | null;
}

export class EventLog {
  readonly emitter = new EventEmitter();

  constructor(private readonly db: Db) {}

  record(input: EventInput): string {
    const uuid = randomUUID();
    this.db
      .prepare(
        `INSERT INTO events (uuid, type, state, level, description, user_id, account_id, domain_id, resource_type, resource_uuid, job_uuid, created)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(uuid, input.type, input.state ?? 'Completed', input.level ?? 'INFO', input.description, input.userId ?? null, input.accountId ?? null, input.domainId ?? null, input.resourceType ?? null, input.resourceUuid ?? null, input.jobUuid ?? null, now());
    this.emitter.emit('event', { id: uuid, ...input });
    return uuid;
  }

  usage(input: UsageInput): void {
    this.db
      .prepare('INSERT INTO usage_events (type, account_id, zone_id, resource_id, resource_name, offering_id, template_id, size, created) VALUES (?,?,?,?,?,?,?,?,?)')
      .run(input.type, input.accountId, input.zoneId ?? null, input.resourceId ?? null, input.resourceName ?? null, input.offeringId ?? null, input.templateId ?? null, input.size ?? null, now());
  }

  /** One page of the events FILTER matches, newest first (list-page.ts: the count and the page, two statements). */
  list(filter: { accountId?: number; type?: string; level?: string; startDate?: string; endDate?: string; resourceUuid?: string; keyword?: string; uuids?: string[] }, window: PageWindow = ALL_ROWS): ListPage {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      values.push(value);
    };
    if (filter.accountId !== undefined) add('e.account_id=?', filter.accountId);
    if (filter.type) add('e.type=?', filter.type);
    if (filter.level) add('e.level=?', filter.level);
    if (filter.startDate) add('e.created>=?', new Date(filter.startDate).toISOString());
    if (filter.endDate) add('e.created<=?', new Date(filter.endDate).toISOString());
    if (filter.resourceUuid) add('e.resource_uuid=?', filter.resourceUuid);
    // The events of one live batch (live/event-feed.ts), in the records listEvents answers.
    if (filter.uuids) add(`e.uuid ${PAGE_IDS}`, JSON.stringify(filter.uuids));
    if (filter.keyword) {
      add(`(e.description LIKE ? ESCAPE '\\' OR e.type LIKE ? ESCAPE '\\')`, likePattern(filter.keyword));
      values.push(likePattern(filter.keyword));
    }
    return queryPage<EventRow>(
      this.db,
      window,
      {
        select: 'e.*, u.username, a.name AS account, d.name AS domain, d.uuid AS domainuuid',
        from: `FROM events e LEFT JOIN users u ON u.id=e.user_id LEFT JOIN accounts a ON a.id=e.account_id LEFT JOIN domains d ON d.id=e.domain_id
               ${where.length ? 'WHERE ' + where.join(' AND ') : ''}`,
        values,
        orderBy: 'e.id DESC',
      },
      (rows) =>
        rows.map((row) => ({
          id: row.uuid,
          type: row.type,
          level: row.level,
          state: row.state,
          description: row.description,
          username: row.username ?? 'system',
          account: row.account ?? 'system',
          domain: row.domain ?? 'ROOT',
          domainid: row.domainuuid ?? undefined,
          resourcetype: row.resource_type ?? undefined,
          resourceid: row.resource_uuid ?? undefined,
          created: csDate(row.created),
        })),
    );
  }

  usageCount(type: string, resourceId: number): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM usage_events WHERE type=? AND resource_id=?').get(type, resourceId) as { n: number }).n;
  }
}

/** A LIKE pattern that matches the keyword literally. */
export function likePattern(keyword: string): string {
  return `%${keyword.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
