/** The backup framework's objects as the API answers them (listBackups, listBackupOfferings, listBackupSchedule). */
export interface Backup {
  id: string;
  name: string;
  description?: string;
  virtualmachineid: string;
  virtualmachinename: string;
  type: 'FULL' | 'INCREMENTAL';
  parentid?: string;
  status: string;
  size: number;
  virtualsize: number;
  created: string;
  /** CloudStack's JSON string: [{uuid, type, size, path}] */
  volumes: string;
  intervaltype: string;
  provider: string;
  backupofferingname: string;
  jobid?: string;
  note?: string;
}

export interface BackedUpVolume {
  uuid: string;
  type: string;
  size: number;
}

export interface BackupOffering {
  id: string;
  name: string;
  description: string;
  provider: string;
  externalid: string;
  allowuserdrivenbackups: boolean;
  zoneid: string;
  zonename: string;
}

export interface BackupSchedule {
  id: string;
  intervaltype: string;
  schedule: string;
  timezone: string;
  maxbackups: number;
  scheduled?: string;
  nextruns?: string[];
  lastrun?: string;
  lastresult?: string;
}

export function volumesOf(backup: Backup): BackedUpVolume[] {
  try {
    return JSON.parse(backup.volumes) as BackedUpVolume[];
  } catch {
    return [];
  }
}


/** What a provider does, in words, so no zone promises what its provider cannot keep. */
export function providerNote(provider: string): string {
  if (provider === 'dummy') return 'dummy: records backups but copies no data. vSphere and XenServer zones use it for now (their drivers have no backup support yet).';
  if (provider === 'nas') return "nas: full and incremental qcow2 backups of each volume into the backup store of the VM's KVM host. vSphere and XenServer VMs cannot use it yet: their zones use dummy.";
  return provider;
}

/** The schedule string CloudStack takes: HOURLY MM, DAILY MM:HH, WEEKLY MM:HH:D (1 = Sunday), MONTHLY MM:HH:D (1-28). */
export function scheduleString(type: string, minute: string, hour: string, day: string): string {
  const two = (v: string) => v.padStart(2, '0');
  if (type === 'HOURLY') return two(minute);
  if (type === 'DAILY') return `${two(minute)}:${two(hour)}`;
  return `${two(minute)}:${two(hour)}:${day}`;
}
