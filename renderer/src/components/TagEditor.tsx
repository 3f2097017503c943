/**
 * Tags (R34) of one resource: its key/value pairs, adding one and removing one. Reads them with
 * listTags and changes them with createTags/deleteTags (jobs followed here, not notified twice);
 * what a field may hold is the engine's, and its refusals are shown with their codes.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, shownError, type ResourceTag, type ShownError } from '../api/model';
import { runQuietly } from '../api/run-job';
import { hasApi, paramProblem, useApiCatalog } from '../stores/api-catalog-store';
import { ApiErrorText } from './Modal';

export function TagEditor({ resourceType, resourceId, label }: { resourceType: string; resourceId: string; label: string }) {
  const apis = useApiCatalog((s) => s.apis);
  const [tags, setTags] = useState<ResourceTag[]>();
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>();

  const load = useCallback(async () => {
    try {
      setTags(listOf<ResourceTag>(await kiln.invoke('listTags', { resourcetype: resourceType, resourceid: resourceId, listall: true }), 'tag'));
    } catch (e) {
      setError({ text: errorText(e) });
    }
  }, [resourceType, resourceId]);
  useEffect(() => void load(), [load]);

  const change = async (command: 'createTags' | 'deleteTags', pair: { key: string; value?: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      const params: Record<string, string> = { resourcetype: resourceType, resourceids: resourceId, 'tags[0].key': pair.key };
      if (pair.value !== undefined) params['tags[0].value'] = pair.value;
      const job = await runQuietly(command, params);
      if (job['jobstatus'] === 2) throw new Error(String((job['jobresult'] as { errortext?: string } | undefined)?.errortext ?? 'failed'));
      if (command === 'createTags') {
        setKey('');
        setValue('');
      }
    } catch (e) {
      setError(shownError(e));
    } finally {
      setBusy(false);
      void load();
    }
  };

  const canAdd = hasApi(apis, 'createTags');
  const canRemove = hasApi(apis, 'deleteTags');
  const taken = tags?.some((t) => t.key === key.trim());
  const problem = (key && paramProblem(apis, 'createTags', 'tags', key)) || (taken ? `tags: ${key.trim()} is already set; remove it first to change its value` : undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void change('createTags', { key: key.trim(), value: value.trim() });
  };

  return (
    <section className="tag-editor" aria-label={`Tags of ${label}`} data-tags-of={resourceId}>
      <h3>Tags</h3>
      {tags?.length === 0 && <p className="muted">No tags.</p>}
      {tags && tags.length > 0 && (
        <ul className="tag-list">
          {tags.map((t) => (
            <li key={t.key} className="tag" data-tag={t.key}>
              <span className="tag-key">{t.key}</span> = <span className="tag-value">{t.value}</span>
              {canRemove && (
                <button type="button" className="link-button" disabled={busy} onClick={() => void change('deleteTags', { key: t.key })} aria-label={`Remove tag ${t.key} from ${label}`}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canAdd && (
        <form className="tag-add" onSubmit={(e) => void submit(e)} aria-label={`Add a tag to ${label}`}>
          <input aria-label="Tag key" placeholder="key" value={key} onChange={(e) => setKey(e.target.value)} maxLength={255} aria-invalid={problem ? true : undefined} />
          <input aria-label="Tag value" placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} maxLength={255} />
          <button type="submit" disabled={busy || !key.trim() || !value.trim() || problem !== undefined}>
            {busy ? 'Saving…' : 'Add tag'}
          </button>
          {problem && <span className="hint error">{problem}</span>}
        </form>
      )}
      <ApiErrorText error={error} />
    </section>
  );
}
