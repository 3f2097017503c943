/** A VM's disks (listVolumes): root first, then data disks by device id; where each lives for the root admin. */
import type { Vm } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { hasApi, useApiCatalog } from '../../stores/api-catalog-store';

/** One item of listVolumes' `volume` list (the fields the UI reads; path and storage for the root admin only). */
interface Volume {
  id: string;
  name: string;
  type: string;
  deviceid?: number;
  size?: number;
  state: string;
  path?: string;
  storage?: string;
}

const GB = 1024 ** 3;

/** "8.0 GB" below 10 GB, "20 GB" from there. */
export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes <= 0) return '—';
  const gb = bytes / GB;
  return gb < 10 ? `${gb.toFixed(1)} GB` : `${Math.round(gb)} GB`;
}

export function VmVolumes({ vm }: { vm: Vm }) {
  const canList = useApiCatalog((s) => hasApi(s.apis, 'listVolumes'));
  const { items, loading, error } = useApiList<Volume>('listVolumes', 'volume', canList ? { virtualmachineid: vm.id } : undefined);
  if (error) return <p className="error" role="alert">Could not list the volumes: {error}</p>;
  if (items.length === 0) return <p className="empty">{loading ? 'Loading…' : 'No volumes.'}</p>;
  const showStorage = items.some((v) => v.storage || v.path);
  return (
    <div className="table-scroll volumes">
      <table className="plain-table" aria-label="Volumes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Device ID</th>
            <th className="num">Size</th>
            <th>State</th>
            {showStorage && <th>Storage</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((v) => (
            <tr key={v.id} data-volume-type={v.type}>
              <td className="volume-name">{v.name}</td>
              <td>{v.type}</td>
              <td>{v.deviceid ?? '—'}</td>
              <td className="num nowrap">{formatSize(v.size)}</td>
              <td>{v.state}</td>
              {showStorage && (
                <td className="volume-storage">
                  <div>
                    {v.storage && <span className="nowrap">{v.storage}</span>}
                    {v.path && <span className="mono volume-path">{v.path}</span>}
                  </div>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
