/**
 * The resources Kiln can tag (R34), with where each lives and who owns it. CloudStack names them
 * by ResourceObjectType and matches the name without regard to case.
 */
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';

export interface TaggableType {
  /** CloudStack's ResourceObjectType name, as responses show it. */
  name: string;
  /** Resolves a live resource by uuid to its internal id, owner and name (SQL over one table). */
  lookup: string;
  /** What an event description calls it, before its name ("VM web-1"). */
  noun: string;
}

const TYPES: TaggableType[] = [
  { name: 'UserVm', lookup: `SELECT v.id, v.account_id, v.domain_id, v.display_name AS name FROM vm_instances v WHERE v.uuid=? AND v.removed IS NULL AND v.state<>'Expunged'`, noun: 'VM' },
  { name: 'VMSnapshot', lookup: 'SELECT s.id, s.account_id, s.domain_id, s.display_name AS name FROM vm_snapshots s WHERE s.uuid=? AND s.removed IS NULL', noun: 'VM snapshot' },
  { name: 'Volume', lookup: 'SELECT x.id, x.account_id, a.domain_id, x.name FROM volumes x JOIN accounts a ON a.id=x.account_id WHERE x.uuid=? AND x.removed IS NULL', noun: 'volume' },
  { name: 'Template', lookup: 'SELECT t.id, t.account_id, a.domain_id, t.name FROM templates t JOIN accounts a ON a.id=t.account_id WHERE t.uuid=? AND t.is_iso=0 AND t.removed IS NULL', noun: 'template' },
  { name: 'ISO', lookup: 'SELECT t.id, t.account_id, a.domain_id, t.name FROM templates t JOIN accounts a ON a.id=t.account_id WHERE t.uuid=? AND t.is_iso=1 AND t.removed IS NULL', noun: 'ISO' },
];

export const TAGGABLE_TYPE_NAMES = TYPES.map((t) => t.name);

/** The type named by a `resourcetype` parameter, or a 431 naming it. */
export function taggableType(name: string, param = 'resourcetype'): TaggableType {
  const type = TYPES.find((t) => t.name.toLowerCase() === name.toLowerCase());
  if (!type) throw ApiError.param(`${param}: Invalid resource type ${name}; one of ${TAGGABLE_TYPE_NAMES.join(', ')}`);
  return type;
}

export interface TaggedResource {
  id: number;
  uuid: string;
  account_id: number;
  domain_id: number;
  /** Its display name (a VM's or VM snapshot's) or name; empty when it has none. */
  name: string | null;
}

/** The resource as an event description names it: "VM web-1", or by its uuid when it has no name. */
export function taggedLabel(type: TaggableType, r: TaggedResource): string {
  return `${type.noun} ${r.name || r.uuid}`;
}

/** The live resource of TYPE with UUID, or a 431 as CloudStack's "Unable to find resource by id". */
export function findTaggedResource(db: Db, type: TaggableType, uuid: string): TaggedResource {
  const row = db.prepare(type.lookup).get(uuid) as Omit<TaggedResource, 'uuid'> | undefined;
  if (!row) throw ApiError.param(`resourceids: Unable to find resource by id ${uuid} and type ${type.name}`);
  return { ...row, uuid };
}
