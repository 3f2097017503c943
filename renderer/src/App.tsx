import { useEffect } from 'react';
import { useVms } from './store';

const TRANSIENT = ['Creating', 'Starting', 'Stopping', 'Destroying', 'Expunging', 'Migrating'];

export function App() {
  const { vms, error, loading, refresh } = useVms();
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), 5000);
    return () => clearInterval(timer);
  }, [refresh]);
  return (
    <main>
      <header>
        <h1>Kiln</h1>
        <button type="button" onClick={() => void refresh()} disabled={loading}>
          Refresh
        </button>
      </header>
      {error && <p role="alert" className="error">{error}</p>}
      <table aria-label="Virtual machines">
        <thead>
          <tr>
            <th>Name</th>
            <th>State</th>
            <th>Host</th>
            <th>IP</th>
            <th>Offering</th>
            <th>Zone</th>
          </tr>
        </thead>
        <tbody>
          {vms.map((vm) => (
            <tr key={vm.id} data-vm={vm.id}>
              <td>{vm.displayname}</td>
              <td>
                <span className={`badge state-${vm.state.toLowerCase()}${TRANSIENT.includes(vm.state) ? ' busy' : ''}`}>{vm.state}</span>
              </td>
              <td>{vm.hostname ?? ''}</td>
              <td>{vm.nic?.[0]?.ipaddress ?? ''}</td>
              <td>{vm.serviceofferingname ?? ''}</td>
              <td>{vm.zonename ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {vms.length === 0 && !loading && !error && <p>No virtual machines.</p>}
    </main>
  );
}
