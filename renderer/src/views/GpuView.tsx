/**
 * GPUs (R65–R72, admins): each host's GPU groups with their physical GPUs and vGPU types, the
 * remaining against the maximum capacity of each type as a bar and the VMs holding it; a summary
 * of each cluster's groups; where each GPU offering fits now; and, for an offering and a host the
 * admin picks, the placement explainer's reason it would not run there. Capacity and placement
 * are the engine's answers (listHosts' gpugroup[], listGpuResidents, explainPlacement).
 */
import { useGpuData } from './gpu/use-gpu-data';
import { ClusterGpuSummary, HostGpuTree } from './gpu/GpuTree';
import { OfferingFit, WhyNotHere } from './gpu/OfferingFit';
import { ViewSection } from '../components/ViewSection';
import '../styles/gpu.css';

export function GpuView() {
  const data = useGpuData();
  const { infra, hosts, residents, offerings, placements, error } = data;
  const gpuHosts = hosts.filter((h) => (h.gpugroup?.length ?? 0) > 0);
  // The hosts a GPU offering could be placed on: those in the zones that have GPU hosts.
  const zones = new Set(gpuHosts.map((h) => h.zoneid));
  const plainHosts = hosts.filter((h) => (h.gpugroup?.length ?? 0) === 0 && zones.has(h.zoneid));
  return (
    <ViewSection name="gpus" title="GPUs" error={error}>
      {infra && gpuHosts.length === 0 && <p className="empty">No host reports a GPU. Add a XenServer pool whose hosts carry GPU boards; its groups and vGPU types appear here.</p>}
      {infra && gpuHosts.length > 0 && (
        <>
          <section className="card" aria-labelledby="gpu-clusters-title">
            <h2 id="gpu-clusters-title">GPU groups per cluster</h2>
            {infra.clusters.map((c) => (
              <ClusterGpuSummary key={c.id} cluster={c} hosts={hosts} />
            ))}
          </section>
          <section className="card" aria-labelledby="gpu-hosts-title">
            <h2 id="gpu-hosts-title">Hosts, GPUs and vGPU types</h2>
            {gpuHosts.map((h) => (
              <HostGpuTree key={h.id} host={h} residents={residents.filter((r) => r.hostid === h.id)} />
            ))}
            {plainHosts.length > 0 && <p className="muted small gpu-plain-hosts">Without GPUs: {plainHosts.map((h) => h.name).join(', ')}</p>}
          </section>
          <OfferingFit offerings={offerings} placements={placements} hosts={gpuHosts.concat(plainHosts)} />
          <WhyNotHere offerings={offerings} placements={placements} hosts={gpuHosts.concat(plainHosts)} />
        </>
      )}
    </ViewSection>
  );
}
