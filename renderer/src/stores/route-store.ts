/** The current view, from the location hash (#/vms, #/vms/<id>/<tab>, #/deploy, …). */
import { create } from 'zustand';

export type Route =
  | { view: 'vms' }
  | { view: 'vm'; id: string; tab: string }
  | { view: 'deploy' }
  | { view: 'hosts' }
  | { view: 'gpus' }
  | { view: 'affinity' }
  | { view: 'keys' }
  | { view: 'images' }
  | { view: 'events' }
  | { view: 'settings' }
  | { view: 'backups' }
  | { view: 'import' }
  | { view: 'storage' };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'vms':
      return parts[1] ? { view: 'vm', id: parts[1], tab: parts[2] ?? 'overview' } : { view: 'vms' };
    case 'deploy':
    case 'hosts':
    case 'gpus':
    case 'affinity':
    case 'keys':
    case 'images':
    case 'events':
    case 'settings':
    case 'backups':
    case 'import':
    case 'storage':
      return { view: parts[0] };
    default:
      return { view: 'vms' };
  }
}

export function hrefOf(route: Route): string {
  return route.view === 'vm' ? `#/vms/${encodeURIComponent(route.id)}/${route.tab}` : `#/${route.view}`;
}

export const useRoute = create<{ route: Route }>(() => ({ route: parseHash(location.hash) }));

window.addEventListener('hashchange', () => useRoute.setState({ route: parseHash(location.hash) }));

export function navigate(route: Route): void {
  location.hash = hrefOf(route);
}
