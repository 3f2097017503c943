/**
 * Backup offerings, for admins (R54): per zone, whether the framework is on and which provider
 * it uses (with what that provider really does: vSphere and XenServer zones use dummy for now),
 * the provider's offerings to import, and the imported offerings with their delete.
 */
import { useCallback, useEffect, useState } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, shownError, type Named, type ShownError } from '../api/model';
import { runQuietly } from '../api/run-job';
import { hasApi, useApiCatalog } from '../stores/api-catalog-store';
import { useConfirm } from '../stores/confirm-store';
import { useJobs } from '../stores/jobs-store';
import { ApiErrorText } from '../components/Modal';
import { DeleteButton, RecordTable } from '../components/RecordTable';
import { ViewSection } from '../components/ViewSection';
import { providerNote, type BackupOffering } from './backup/backup-model';

interface ZoneBackups {
  zone: Named;
  enabled: boolean;
  provider: string;
  offered: { externalid: string; name: string; description: string }[];
  offeredError?: string;
}

const setting = async (name: string, zoneid: string) =>
  (listOf<{ name: string; value: string }>(await kiln.invoke('listConfigurations', { name, zoneid }), 'configuration')[0]?.value ?? '');

/** `version`: a change elsewhere on the page (a backup repository added or deleted) reloads the provider offerings. */
export function BackupOfferingsView({ version = 0 }: { version?: number } = {}) {
  const apis = useApiCatalog((s) => s.apis);
  const [zones, setZones] = useState<ZoneBackups[]>();
  const [imported, setImported] = useState<BackupOffering[]>([]);
  const [error, setError] = useState<ShownError>();
  const [loadError, setLoadError] = useState<string>();

  const load = useCallback(async () => {
    try {
      const list = listOf<Named>(await kiln.invoke('listZones', {}), 'zone');
      const rows = await Promise.all(
        list.map(async (zone): Promise<ZoneBackups> => {
          const enabled = (await setting('backup.framework.enabled', zone.id)) === 'true';
          const provider = await setting('backup.framework.provider.plugin', zone.id);
          if (!enabled) return { zone, enabled, provider, offered: [] };
          try {
            return { zone, enabled, provider, offered: listOf(await kiln.invoke('listBackupProviderOfferings', { zoneid: zone.id }), 'backupoffering') };
          } catch (e) {
            return { zone, enabled, provider, offered: [], offeredError: errorText(e) };
          }
        }),
      );
      setZones(rows);
      setImported(listOf<BackupOffering>(await kiln.invoke('listBackupOfferings', {}), 'backupoffering'));
      setLoadError(undefined);
    } catch (e) {
      setLoadError(errorText(e));
    }
  }, []);
  useEffect(() => void load(), [load, version]);

  const run = async (command: string, params: Record<string, string>, done: string) => {
    setError(undefined);
    try {
      await runQuietly(command, params);
      useJobs.getState().notify('success', done);
    } catch (e) {
      setError(shownError(e));
    }
    void load();
  };
  const enable = (zone: Named) => run('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid: zone.id }, `Backups enabled in ${zone.name}`);
  const importOffering = (zone: Named, o: ZoneBackups['offered'][number]) =>
    run('importBackupOffering', { zoneid: zone.id, externalid: o.externalid, name: o.name, description: o.description, allowuserdrivenbackups: 'true' }, `${o.name} imported into ${zone.name}`);
  const remove = async (o: BackupOffering) => {
    const answer = await useConfirm.getState().ask({
      title: `Delete backup offering ${o.name}?`,
      body: 'Only an offering no VM is assigned to can be deleted; backups taken with it stay.',
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Delete', danger: true }],
    });
    if (answer === 'go') await run('deleteBackupOffering', { id: o.id }, `Backup offering ${o.name} deleted`);
  };

  return (
    <ViewSection name="backup-offerings" title="Backup offerings" error={loadError}>
      <ApiErrorText error={error} />
      {zones?.map((z) => (
        <section key={z.zone.id} className="card backup-zone" data-zone={z.zone.name} aria-label={`Backups in zone ${z.zone.name}`}>
          <h2>{z.zone.name}</h2>
          <p data-zone-provider>
            Provider: <strong>{z.provider}</strong>
            {providerAbout(z.provider)}
          </p>
          {!z.enabled ? (
            <p className="note">
              Backups are off in this zone (backup.framework.enabled is false), so its backup commands answer with an error.{' '}
              {hasApi(apis, 'updateConfiguration') && (
                <button type="button" onClick={() => void enable(z.zone)}>
                  Enable backups
                </button>
              )}
            </p>
          ) : (
            <>
              {z.offeredError && <p className="error">{z.offeredError}</p>}
              <RecordTable
                label={`Offerings of the ${z.provider} provider`}
                columns={[
                  {
                    header: 'Provider offering',
                    cell: (o) => (
                      <>
                        {o.name} <code>{o.externalid}</code>
                      </>
                    ),
                  },
                  { header: 'Description', cell: (o) => o.description },
                ]}
                rows={z.offered}
                rowKey={(o) => o.externalid}
                rowData={(o) => ({ 'data-provider-offering': o.externalid })}
                actions={(o) =>
                  hasApi(apis, 'importBackupOffering') && (
                    <button type="button" onClick={() => void importOffering(z.zone, o)} disabled={imported.some((i) => i.zoneid === z.zone.id && i.name === o.name)}>
                      Import
                    </button>
                  )
                }
              />
            </>
          )}
        </section>
      ))}
      <h2>Imported offerings</h2>
      {imported.length === 0 ? (
        <p className="empty">None yet. VMs are assigned to an imported offering on their Backups tab.</p>
      ) : (
        <RecordTable
          label="Imported backup offerings"
          columns={[
            { header: 'Name', cell: (o) => o.name },
            { header: 'Zone', cell: (o) => o.zonename },
            { header: 'Provider', cell: (o) => o.provider },
            { header: 'User-driven backups', cell: (o) => (o.allowuserdrivenbackups ? 'allowed' : 'no') },
          ]}
          rows={imported}
          rowKey={(o) => o.id}
          rowData={(o) => ({ 'data-offering': o.name })}
          actions={(o) => hasApi(apis, 'deleteBackupOffering') && <DeleteButton label={`Delete backup offering ${o.name}`} onClick={() => void remove(o)} />}
        />
      )}
    </ViewSection>
  );
}

/** What the provider does, after its name: the note without its leading "name: " (the name is already bold before it). */
function providerAbout(provider: string): string {
  const note = providerNote(provider);
  return note.startsWith(`${provider}: `) ? ` — ${note.slice(provider.length + 2)}` : '';
}
