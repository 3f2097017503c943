/**
 * The actions of one VM as a menu button (WAI-ARIA menu button pattern): the menu lists what
 * the registry offers in the VM's state; arrows move, Escape closes and returns focus.
 */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { createPortal } from 'react-dom';
import type { Vm } from '../api/model';
import { actionsFor } from '../actions/vm-actions';
import { runVmAction } from '../actions/run-action';
import { hasApi, useApiCatalog } from '../stores/api-catalog-store';
import { useHostCapabilityMap } from '../stores/host-capabilities-store';

export function ActionMenu({ vm, tabbable = true, label }: { vm: Vm; tabbable?: boolean; label?: string }) {
  const apis = useApiCatalog((s) => s.apis);
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const hostCapabilities = useHostCapabilityMap(vm.hostid, hasApi(apis, 'listHosts'));
  // Only an open menu lists its actions: a closed one is one of the list's rows, rendered each time a row scrolls in.
  const actions = open ? actionsFor(vm, apis, hostCapabilities) : [];
  const name = vm.displayname || vm.name;

  useLayoutEffect(() => {
    if (!open || !menu.current || !button.current) return;
    // Placed beside its button through the CSSOM (the CSP allows element.style, not style attributes).
    const rect = button.current.getBoundingClientRect();
    const height = menu.current.offsetHeight;
    const below = rect.bottom + 4 + height <= window.innerHeight;
    menu.current.style.top = `${below ? rect.bottom + 4 : Math.max(4, rect.top - 4 - height)}px`;
    menu.current.style.left = `${Math.max(4, Math.min(rect.right - menu.current.offsetWidth, window.innerWidth - menu.current.offsetWidth - 4))}px`;
    menu.current.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const close = (event: Event) => {
      if (event.type === 'scroll' && menu.current?.contains(event.target as Node)) return;
      if (event.type === 'pointerdown' && (menu.current?.contains(event.target as Node) || button.current?.contains(event.target as Node))) return;
      setOpen(false);
    };
    window.addEventListener('pointerdown', close);
    window.addEventListener('scroll', close, true);
    window.addEventListener('resize', close);
    return () => {
      window.removeEventListener('pointerdown', close);
      window.removeEventListener('scroll', close, true);
      window.removeEventListener('resize', close);
    };
  }, [open]);

  const onMenuKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const at = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      items[(at + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length]?.focus();
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      items[event.key === 'Home' ? 0 : items.length - 1]?.focus();
    } else if (event.key === 'Escape' || event.key === 'Tab') {
      event.preventDefault();
      setOpen(false);
      button.current?.focus();
    }
    event.stopPropagation();
  };

  return (
    <>
      <button
        ref={button}
        type="button"
        className="menu-button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={label ?? `Actions for ${name}`}
        tabIndex={tabbable ? 0 : -1}
        onClick={() => setOpen(!open)}
        onKeyDown={(event) => {
          if (event.key === 'ArrowDown') {
            event.preventDefault();
            setOpen(true);
          }
          event.stopPropagation();
        }}
      >
        {/* One text node, not a span for the arrow: the button is in every row of the VM list (the aria-label names it). */}
        Actions ▾
      </button>
      {open &&
        createPortal(
          <div ref={menu} className="menu" role="menu" aria-label={`Actions for ${name}`} onKeyDown={onMenuKey}>
            {actions.length === 0 && <p className="menu-empty">No actions apply while {name} is {vm.state}.</p>}
            {actions.map((action) => (
              <button
                key={action.id}
                type="button"
                role="menuitem"
                tabIndex={-1}
                className={action.danger ? 'danger' : undefined}
                onClick={() => {
                  setOpen(false);
                  button.current?.focus();
                  void runVmAction(action, vm);
                }}
              >
                {action.label}
              </button>
            ))}
          </div>,
          document.body,
        )}
    </>
  );
}
