/**
 * The GPU page's data: the inventory (hosts with their gpugroup[], clusters, zones, following the
 * 'hosts' live channel), the VMs holding GPUs (listGpuResidents) and the GPU offerings. A VM that
 * starts, stops or moves changes capacity, so any change of a VM's state or host reloads all of
 * it, and the planner's answers for the offerings with it; so does the end of any job that can
 * take or free a GPU, since the host re-reads its capacity after the VM's state has changed (the
 * record the 'hosts' channel carries at the state change can be the one before).
 */
import { useEffect, useMemo, useState } from 'react';
import { kiln } from '../../transport';
import { errorCode, errorText, listOf, type Placement, type ServiceOffering } from '../../api/model';
import { offeringGpu, type GpuHost, type GpuResident } from '../../api/gpu';
import { useVms } from '../../stores/vm-store';
import { useFinishedJobsKey } from '../../api/use-finished-jobs';
import { useInfra, type Infra } from '../hosts/use-infra';

/** The explainer's answer for one GPU offering in one zone (or why it could not answer). */
const GPU_JOBS: ReadonlySet<string> = new Set([
  'deployVirtualMachine', 'startVirtualMachine', 'stopVirtualMachine', 'rebootVirtualMachine', 'destroyVirtualMachine', 'expungeVirtualMachine',
  'recoverVirtualMachine', 'migrateVirtualMachine', 'migrateVirtualMachineWithVolume', 'changeServiceForVirtualMachine', 'scaleVirtualMachine',
]);

export interface OfferingPlacement {
  offering: ServiceOffering;
  zoneid: string;
  placement?: Placement;
  error?: string;
}

export interface GpuData {
  infra?: Infra;
  hosts: GpuHost[];
  residents: GpuResident[];
  offerings: ServiceOffering[];
  placements: OfferingPlacement[];
  error?: string;
}

export function useGpuData(): GpuData {
  const { infra, error: infraError, reload } = useInfra();
  const [residents, setResidents] = useState<GpuResident[]>([]);
  const [offerings, setOfferings] = useState<ServiceOffering[]>([]);
  const [placements, setPlacements] = useState<OfferingPlacement[]>([]);
  const [error, setError] = useState<string>();
  // What changes GPU capacity: a VM's state or host (its live record comes over the 'vms' channel).
  const vmKey = useVms((s) => s.vms.map((v) => `${v.id}:${v.state}:${v.hostid ?? ''}`).join(',')) + useFinishedJobsKey(GPU_JOBS);
  const hosts = useMemo(() => (infra?.hosts ?? []) as GpuHost[], [infra]);
  const zoneKey = [...new Set(hosts.filter((h) => h.gpugroup?.length && h.zoneid).map((h) => h.zoneid!))].sort().join(',');
  const hostKey = hosts.map((h) => `${h.id}:${h.state}:${JSON.stringify(h.gpugroup ?? [])}`).join(',');

  useEffect(() => {
    void reload();
  }, [vmKey, reload]);

  useEffect(() => {
    let live = true;
    Promise.all([kiln.invoke('listGpuResidents'), kiln.invoke('listServiceOfferings')])
      .then(async ([r, o]) => {
        const gpuOfferings = listOf<ServiceOffering>(o, 'serviceoffering').filter((x) => offeringGpu(x));
        const answers = await Promise.all(
          gpuOfferings.flatMap((offering) =>
            zoneKey.split(',').filter(Boolean).map(async (zoneid): Promise<OfferingPlacement> => {
              try {
                const answer = await kiln.invoke('explainPlacement', { zoneid, serviceofferingid: offering.id });
                return { offering, zoneid, placement: answer['placement'] as Placement };
              } catch (e) {
                return { offering, zoneid, error: `${errorCode(e) ? `${errorCode(e)}: ` : ''}${errorText(e)}` };
              }
            }),
          ),
        );
        if (!live) return;
        setResidents(listOf<GpuResident>(r, 'gpuresident'));
        setOfferings(gpuOfferings);
        setPlacements(answers);
        setError(undefined);
      })
      .catch((e: unknown) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [hostKey, vmKey, zoneKey]);

  return { infra, hosts, residents, offerings, placements, error: infraError ?? error };
}
