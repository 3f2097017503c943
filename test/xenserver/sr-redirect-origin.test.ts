/**
 * Where Kiln lets xapi's 302 from an upload handler (/import, /import_raw_vdi) send the bytes
 * (drivers/xenserver/sr-upload.ts srRedirectOrigin), for Locations as real xapi writes them:
 * Importexport.return_302_redirect gives `https://<host address><uri>?<query>`, no port (443).
 * The pool here is reached at https://10.0.0.1 (port 443) or at a test port; it has a master,
 * a member 10.0.0.2 with a local SR, and a member at an IPv6 address with its own local SR.
 */
import { describe, expect, it } from 'vitest';
import type { XenPool } from '../../drivers/xenserver/pool.js';
import { srRedirectOrigin } from '../../drivers/xenserver/sr-upload.js';

type Rec = Record<string, unknown>;

function pool(base: string): XenPool {
  const records: Record<string, Record<string, Rec>> = {
    host: { 'OpaqueRef:h1': { name_label: 'xs1', address: '10.0.0.1' }, 'OpaqueRef:h2': { name_label: 'xs2', address: '10.0.0.2' }, 'OpaqueRef:h6': { name_label: 'xs6', address: 'fd00::6' } },
    SR: {
      'OpaqueRef:nfs': { name_label: 'NFS', shared: true },
      'OpaqueRef:local2': { name_label: 'Local storage on xs2', shared: false },
      'OpaqueRef:local6': { name_label: 'Local storage on xs6', shared: false },
    },
    PBD: {
      'OpaqueRef:p2': { SR: 'OpaqueRef:local2', host: 'OpaqueRef:h2', currently_attached: true },
      'OpaqueRef:p6': { SR: 'OpaqueRef:local6', host: 'OpaqueRef:h6', currently_attached: true },
    },
  };
  const inventory = {
    get: (cls: string, ref: string) => records[cls]?.[ref],
    all: (cls: string) => Object.entries(records[cls] ?? {}),
  };
  return { client: { baseUrl: new URL(base) }, inventory } as unknown as XenPool;
}

const refused = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'not refused';
};

describe('srRedirectOrigin: the one hop Kiln follows', () => {
  const query = '/import_raw_vdi?session_id=OpaqueRef:s&vdi=OpaqueRef:v&format=raw&task_id=OpaqueRef:t';

  it('a portless Location naming the member that reaches the SR goes to that member at the pool\'s scheme and port', () => {
    expect(srRedirectOrigin(pool('https://10.0.0.1'), 'OpaqueRef:local2', `https://10.0.0.2${query}`).toString()).toBe('https://10.0.0.2/');
    expect(srRedirectOrigin(pool('https://10.0.0.1:8443'), 'OpaqueRef:local2', `https://10.0.0.2${query}`).toString()).toBe('https://10.0.0.2:8443/');
    expect(srRedirectOrigin(pool('https://10.0.0.1:8443'), 'OpaqueRef:local2', `https://10.0.0.2:8443${query}`).toString()).toBe('https://10.0.0.2:8443/');
    // An IPv6 host address is matched as URL writes it, in brackets.
    expect(srRedirectOrigin(pool('https://10.0.0.1'), 'OpaqueRef:local6', `https://[fd00::6]${query}`).toString()).toBe('https://[fd00::6]/');
  });

  it('anything else is refused, named without its query (the session)', () => {
    const p = pool('https://10.0.0.1');
    expect(refused(() => srRedirectOrigin(p, 'OpaqueRef:local2', `https://203.0.113.7${query}`))).toBe('xapi redirected the import to https://203.0.113.7/import_raw_vdi, which Kiln does not follow: it is no host of this pool');
    expect(refused(() => srRedirectOrigin(p, 'OpaqueRef:local2', `http://10.0.0.2${query}`))).toBe('xapi redirected the import to http://10.0.0.2/import_raw_vdi, which Kiln does not follow: the pool is reached over https');
    expect(refused(() => srRedirectOrigin(p, 'OpaqueRef:local2', `https://10.0.0.2:9443${query}`))).toBe('xapi redirected the import to https://10.0.0.2:9443/import_raw_vdi, which Kiln does not follow: the pool\'s hosts answer on port 443');
    expect(refused(() => srRedirectOrigin(p, 'OpaqueRef:local2', `https://[fd00::6]${query}`))).toBe('xapi redirected the import to https://[fd00::6]/import_raw_vdi, which Kiln does not follow: host xs6 does not reach storage repository Local storage on xs2');
    expect(refused(() => srRedirectOrigin(p, 'OpaqueRef:local2', '/import_raw_vdi?session_id=OpaqueRef:s'))).toBe('xapi redirected the import to a Location that is not a URL; Kiln does not follow it');
  });
});
