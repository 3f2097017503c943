/** The volume service of an engine (stateless; one per engine, made on first use) and the async shape the volume commands share. */
import type { Engine } from '../../engine.js';
import type { AsyncWork, Caller } from '../../registry/types.js';
import { VolumeService, type DataVolumeRow } from '../../volumes/volume-service.js';
import { volumeResponse } from '../../volumes/volume-response.js';

const services = new WeakMap<Engine, VolumeService>();

export function volumesOf(engine: Engine): VolumeService {
  let service = services.get(engine);
  if (!service) services.set(engine, (service = new VolumeService(engine)));
  return service;
}

/**
 * A volume job: in the queue of the VM it works through (so it runs after that VM's earlier
 * jobs), else in the volume's own; answers the volume as listVolumes shows it afterwards.
 */
export function volumeJob(engine: Engine, caller: Caller, volume: DataVolumeRow, vmId: number | null, work: (jobUuid: string) => Promise<DataVolumeRow>): AsyncWork {
  return {
    instanceType: 'Volume',
    instanceId: volume.uuid,
    queueKey: vmId !== null ? `vm:${vmId}` : `volume:${volume.id}`,
    run: async (job) => ({ ...volumeResponse(engine.db, (await work(job.uuid)).id, caller) }),
  };
}
