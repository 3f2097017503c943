/**
 * The backups route: the offerings, then the repositories. A repository added or deleted changes
 * what the nas provider lists to import, so it reloads the offerings above.
 */
import { useState } from 'react';
import { BackupOfferingsView } from '../BackupOfferingsView';
import { BackupRepositories } from './BackupRepositories';

export function BackupsPage() {
  const [version, setVersion] = useState(0);
  return (
    <>
      <BackupOfferingsView version={version} />
      <BackupRepositories onChanged={() => setVersion((v) => v + 1)} />
    </>
  );
}
