/** Shared query for listTemplates and listIsos: the two differ only in is_iso and the filter name. */
import type { CommandContext } from '../../registry/types.js';
import type { Args } from '../../registry/params.js';
import { ApiError } from '../../registry/errors.js';
import { templateViews } from '../../views.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import type { TemplateRow } from '../../vm/rows.js';
import { tagFilter } from '../../tags/tag-query.js';
import { queryPage, type ListPage, type PageWindow } from '../../registry/list-page.js';

export const FILTERS = ['featured', 'self', 'selfexecutable', 'sharedexecutable', 'executable', 'community', 'all'];

export function listImages({ engine, caller }: CommandContext, args: Args, iso: boolean, filter: string | undefined, page: PageWindow): ListPage {
  const f = filter ?? (iso ? 'all' : 'executable');
  if (!FILTERS.includes(f)) throw ApiError.param(`${iso ? 'isofilter' : 'templatefilter'}: one of ${FILTERS.join(', ')}`);
  const scope = accountScope(caller);
  const visibility = f === 'featured' ? 'is_featured=1' : f === 'self' || f === 'selfexecutable' ? scope.sql : f === 'all' && caller.role === 'Admin' ? '1=1' : `(is_public=1 OR ${scope.sql})`;
  const visibilityValues = visibility.includes('?') ? scope.values : [];
  // As CloudStack's onlyReady: the filters a deploy picks from list only ready images; self and all
  // also show downloads in progress and failed ones, with their status.
  const ready = f === 'self' || f === 'all' ? '1=1' : `state='Active' AND download_state='DOWNLOADED'`;
  const zoneId = args.uuid('zoneid');
  const tags = tagFilter(args.map('tags'), iso ? 'ISO' : 'Template', 'templates.id');
  const w = where(['removed IS NULL', `is_iso=${iso ? 1 : 0}`, visibility, ready, ...(tags ? [tags.sql] : [])], [['uuid', args.uuid('id')], ['name', args.str('name')], ['name', args.str('keyword'), 'like']]);
  return queryPage<TemplateRow>(
    engine.db,
    page,
    {
      select: '*',
      from: `FROM templates ${w.sql} ${zoneId ? 'AND (zone_id IS NULL OR zone_id=(SELECT id FROM zones WHERE uuid=?))' : ''}`,
      values: [...visibilityValues, ...(tags?.values ?? []), ...w.values, ...(zoneId ? [zoneId] : [])],
      orderBy: 'id',
    },
    (rows) => templateViews(engine.db, rows),
  );
}
