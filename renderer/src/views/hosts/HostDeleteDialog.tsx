/**
 * Delete host…: deleteHost with what this caller's deleteHost publishes. Before the call, the VMs
 * and volumes on the host's local storage are read (listStoragePools hostid= scope=HOST, then
 * listVolumes on those pools), so that, when deleteHost takes forcedestroylocalstorage, the form
 * offers it by name: an off-by-default box "Also destroy and expunge the N VMs with disks on this
 * host's local storage: …". The flag is sent only when ticked. Without it the engine's refusal
 * (431, naming the volumes) is shown in the dialog, which stays open; if the refusal names local
 * volumes the form had not seen, they are read again and offered. After a delete with the box, the
 * dialog says what became of each VM (read again by id: gone is destroyed and expunged) and the
 * engine's HOST.DELETE event; a 530 (a destroy that failed) is shown with the same per-VM outcome.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { listOf, shownError, type Host, type ShownError } from '../../api/model';
import { hasApi, hasParam, useApiCatalog } from '../../stores/api-catalog-store';
import { useJobs } from '../../stores/jobs-store';
import { ApiErrorText, Modal } from '../../components/Modal';
import { OutcomeModal } from '../../components/OutcomeModal';

/** What is on the host's local storage: the VMs with a disk there, and the volumes there no VM has. */
export interface LocalStorage {
  vms: { id: string; name: string }[];
  detached: string[];
}

interface PoolRecord {
  id: string;
  scope?: string;
}

interface VolumeRecord {
  name: string;
  storageid?: string;
  virtualmachineid?: string;
  vmdisplayname?: string;
  vmname?: string;
}

/** Reads what is on HOST's local pools through the API (an admin's listVolumes answers each volume's storageid). */
export async function readLocalStorage(hostId: string): Promise<LocalStorage> {
  const pools = listOf<PoolRecord>(await kiln.invoke('listStoragePools', { hostid: hostId, scope: 'HOST' }), 'storagepool').filter((p) => !p.scope || p.scope === 'HOST');
  if (pools.length === 0) return { vms: [], detached: [] };
  const ids = new Set(pools.map((p) => p.id));
  const volumes = listOf<VolumeRecord>(await kiln.invoke('listVolumes', { listall: true }), 'volume').filter((v) => v.storageid !== undefined && ids.has(v.storageid));
  const vms = new Map<string, string>();
  for (const v of volumes) if (v.virtualmachineid) vms.set(v.virtualmachineid, v.vmdisplayname ?? v.vmname ?? v.virtualmachineid);
  return { vms: [...vms].map(([id, name]) => ({ id, name })), detached: volumes.filter((v) => !v.virtualmachineid).map((v) => v.name) };
}

/** The box's words: what ticking it destroys, by name. */
export function destroyLocalLabel(local: LocalStorage): string {
  const n = local.vms.length;
  const vms = n ? `destroy and expunge the ${n === 1 ? 'VM' : `${n} VMs`} with disks on this host's local storage: ${local.vms.map((v) => v.name).join(', ')}` : '';
  const d = local.detached.length;
  const volumes = d ? `delete the ${d === 1 ? 'volume' : `${d} volumes`} on its local storage that no VM has: ${local.detached.join(', ')}` : '';
  return `Also ${[vms, volumes].filter(Boolean).join('; and ')}`;
}

/** Per VM, what a delete with forcedestroylocalstorage left of it, read again by id. */
async function vmOutcomes(vms: LocalStorage['vms']): Promise<{ name: string; outcome: string }[]> {
  return Promise.all(
    vms.map(async (vm) => {
      try {
        const [now] = listOf<{ state: string }>(await kiln.invoke('listVirtualMachines', { id: vm.id, listall: true }), 'virtualmachine');
        return { name: vm.name, outcome: now ? `not destroyed: it is ${now.state}` : 'destroyed and expunged' };
      } catch (e) {
        return { name: vm.name, outcome: `could not be read again: ${shownError(e).text}` };
      }
    }),
  );
}

/** The description of the host's HOST.DELETE event (what the engine says it did), if it can be read. */
async function deleteEvent(hostId: string): Promise<string | undefined> {
  try {
    const [event] = listOf<{ description: string }>(await kiln.invoke('listEvents', { type: 'HOST.DELETE', resourceid: hostId, page: 1, pagesize: 1 }), 'event');
    return event?.description;
  } catch {
    return undefined;
  }
}

interface Done {
  ok: boolean;
  outcomes: { name: string; outcome: string }[];
  event?: string;
}

export function HostDeleteDialog({ host, onClose }: { host: Host; onClose(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const disabled = host.resourcestate === 'Disabled';
  const forcedOffered = !disabled && hasParam(apis, 'deleteHost', 'forced');
  const destroyOffered = hasParam(apis, 'deleteHost', 'forcedestroylocalstorage') && hasApi(apis, 'listStoragePools') && hasApi(apis, 'listVolumes');
  const [local, setLocal] = useState<LocalStorage>();
  const [readError, setReadError] = useState<string>();
  const [destroyLocal, setDestroyLocal] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>();
  const [done, setDone] = useState<Done>();
  const what = `Delete host ${host.name}`;

  const read = useCallback(async () => {
    if (!destroyOffered) return;
    try {
      setLocal(await readLocalStorage(host.id));
      setReadError(undefined);
    } catch (e) {
      setReadError(shownError(e).text);
    }
  }, [destroyOffered, host.id]);
  useEffect(() => void read(), [read]);

  const onLocal = local && (local.vms.length > 0 || local.detached.length > 0);
  const sendDestroy = destroyOffered && !!onLocal && destroyLocal;

  const submit = async (forced: boolean) => {
    setBusy(true);
    setError(undefined);
    const doomed = sendDestroy ? local!.vms : [];
    try {
      await kiln.invoke('deleteHost', { id: host.id, ...(forced ? { forced: true } : {}), ...(sendDestroy ? { forcedestroylocalstorage: true } : {}) });
      useJobs.getState().notify('success', `${what}: done`);
      if (!sendDestroy) {
        onClose();
        return;
      }
      setDone({ ok: true, outcomes: await vmOutcomes(doomed), event: await deleteEvent(host.id) });
    } catch (e) {
      const shown = shownError(e);
      setError(shown);
      if (doomed.length) setDone({ ok: false, outcomes: await vmOutcomes(doomed) });
      // A refusal may name local volumes that came since the form read them: read again, so the box names them.
      else if (destroyOffered && /local storage/.test(shown.text)) void read();
    } finally {
      setBusy(false);
    }
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void submit(false);
  };

  if (done?.ok) {
    return (
      <OutcomeModal
        title={what}
        onClose={onClose}
        more={
          <>
            <Outcomes outcomes={done.outcomes} />
            {done.event && <p className="muted small">Event: {done.event}</p>}
          </>
        }
      >
        Host {host.name} was deleted.
      </OutcomeModal>
    );
  }

  return (
    <Modal title={`Delete host ${host.name}?`} onClose={onClose}>
      <form className="dialog-form" onSubmit={onSubmit}>
        <p>
          {disabled
            ? `Kiln forgets host ${host.name}: its session is closed and its local storage pools' records go with it. It refuses while VMs are on the host or volumes on its local storage.`
            : `Kiln deletes a Disabled host (it has no maintenance mode; disable the host first), or one you delete with forced. ${host.name} is ${host.resourcestate ?? 'Enabled'} and ${host.state}. VMs on it or volumes on its local storage refuse the delete either way.`}
        </p>
        {destroyOffered && onLocal && (
          <div className="fieldset">
            <label className="check">
              <input type="checkbox" checked={destroyLocal} onChange={(e) => setDestroyLocal(e.target.checked)} /> {destroyLocalLabel(local)}
            </label>
            <p className="hint">
              Their disks are on this host: they cannot be recovered. A running VM is stopped first. Data disks elsewhere are kept, detached. Without this, Kiln refuses the delete while they are there.
            </p>
          </div>
        )}
        {readError && <p className="hint error">Could not read this host&apos;s local storage: {readError}</p>}
        <ApiErrorText error={error} prefix={`${what}:`} />
        {error && onLocal && destroyOffered && !destroyLocal && /forcedestroylocalstorage/.test(error.text) && (
          <p className="hint" role="note">
            The box above sends forcedestroylocalstorage=true: tick it to destroy and expunge them with the host.
          </p>
        )}
        {done && !done.ok && <Outcomes outcomes={done.outcomes} />}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy}>
            {busy ? 'Deleting…' : 'Delete'}
          </button>
          {forcedOffered && (
            <button type="button" className="danger" disabled={busy} onClick={() => void submit(true)}>
              Delete (forced)
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}

function Outcomes({ outcomes }: { outcomes: { name: string; outcome: string }[] }) {
  if (outcomes.length === 0) return null;
  return (
    <ul aria-label="VMs on its local storage">
      {outcomes.map((o) => (
        <li key={o.name} data-vm={o.name}>
          VM <strong>{o.name}</strong>: {o.outcome}
        </li>
      ))}
    </ul>
  );
}
