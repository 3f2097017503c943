/** Every backup provider Kiln has; `backup.framework.provider.plugin` names one per zone. */
import type { BackupProvider } from '../provider.js';
import { dummyProvider } from './dummy.js';
import { nasProvider } from './nas.js';

export const BACKUP_PROVIDERS: readonly BackupProvider[] = [dummyProvider, nasProvider];

export function providerNamed(name: string): BackupProvider | undefined {
  return BACKUP_PROVIDERS.find((p) => p.name === name);
}
