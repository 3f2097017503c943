/**
 * A menu button (WAI-ARIA menu button pattern), the one the VM actions menu and the console's
 * "Send keys" menu share: the button says it has a menu and whether it is open; ArrowDown on it
 * opens it. The open menu is a labelled role=menu of menuitems out of the tab order, the first
 * focused; ArrowDown/ArrowUp go round them, Home/End to the ends, Escape and Tab close it and give
 * the focus back to its button; a pointer down outside it and its button closes it; choosing an
 * item closes it, gives the focus back to its button and runs the item (which may move the focus
 * on). Keys in the button and the menu go no further (a list row around the button has arrow keys
 * of its own).
 *
 * placement 'inline': the menu stands under its button, in a .menu-anchor (.menu-inline).
 * placement 'portal': for a button in a scrolled list's rows, whose overflow would clip the menu: it
 * stands in document.body, placed beside its button, and closes when anything but itself scrolls
 * or the window resizes, since it does not follow its button.
 *
 * A closed menu is only its button: items() is called and its hooks mounted only while it is open
 * (a VM list row's button is mounted with every row scrolled in: bench P6).
 */
import { createContext, useCallback, useContext, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import { createPortal } from 'react-dom';

const ITEM = '[role="menuitem"]';

export function MenuButton({
  menuLabel,
  placement,
  items,
  children,
  label,
  className,
  tabIndex,
  disabled,
}: {
  /** The menu's accessible name. */
  menuLabel: string;
  placement: 'inline' | 'portal';
  /** The open menu's contents: MenuItems (and any note), rendered only while it is open. */
  items(): ReactNode;
  /** The button's contents. */
  children: ReactNode;
  /** The button's aria-label, when its contents do not name it. */
  label?: string;
  className?: string;
  tabIndex?: number;
  disabled?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const close = useCallback(() => setOpen(false), []);
  const trigger = (
    <button
      ref={button}
      type="button"
      className={className}
      aria-haspopup="menu"
      aria-expanded={open}
      aria-label={label}
      tabIndex={tabIndex}
      disabled={disabled}
      onClick={() => setOpen(!open)}
      onKeyDown={(event) => {
        if (event.key === 'ArrowDown') {
          event.preventDefault();
          setOpen(true);
        }
        event.stopPropagation();
      }}
    >
      {children}
    </button>
  );
  const menu = open && (
    <OpenMenu label={menuLabel} placement={placement} button={button} close={close}>
      {items()}
    </OpenMenu>
  );
  if (placement === 'portal') {
    return (
      <>
        {trigger}
        {menu}
      </>
    );
  }
  return (
    <div className="menu-anchor">
      {trigger}
      {menu}
    </div>
  );
}

/** What an item of the open menu needs of it: closing it, back to its button. */
const MenuContext = createContext<() => void>(() => {});

/** One item of a MenuButton's menu: choosing it closes the menu, back to its button, then runs onSelect. */
export function MenuItem({ onSelect, danger, title, children }: { onSelect(): void; danger?: boolean; title?: string; children: ReactNode }) {
  const closeToButton = useContext(MenuContext);
  return (
    <button
      type="button"
      role="menuitem"
      tabIndex={-1}
      className={danger ? 'danger' : undefined}
      title={title}
      onClick={() => {
        closeToButton();
        onSelect();
      }}
    >
      {children}
    </button>
  );
}

function OpenMenu({
  label,
  placement,
  button,
  close,
  children,
}: {
  label: string;
  placement: 'inline' | 'portal';
  button: RefObject<HTMLButtonElement | null>;
  close(): void;
  children: ReactNode;
}) {
  const menu = useRef<HTMLDivElement>(null);
  const closeToButton = useCallback(() => {
    close();
    button.current?.focus();
  }, [button, close]);

  useLayoutEffect(() => {
    if (!menu.current || !button.current) return;
    if (placement === 'portal') {
      // Placed beside its button through the CSSOM (the CSP allows element.style, not style attributes).
      const rect = button.current.getBoundingClientRect();
      const height = menu.current.offsetHeight;
      const below = rect.bottom + 4 + height <= window.innerHeight;
      menu.current.style.top = `${below ? rect.bottom + 4 : Math.max(4, rect.top - 4 - height)}px`;
      menu.current.style.left = `${Math.max(4, Math.min(rect.right - menu.current.offsetWidth, window.innerWidth - menu.current.offsetWidth - 4))}px`;
    }
    menu.current.querySelector<HTMLElement>(ITEM)?.focus();
  }, [button, placement]);

  // Added once, for as long as the menu is open (close is stable).
  useEffect(() => {
    const onOutside = (event: Event) => {
      if (event.type === 'scroll' && menu.current?.contains(event.target as Node)) return;
      if (event.type === 'pointerdown' && (menu.current?.contains(event.target as Node) || button.current?.contains(event.target as Node))) return;
      close();
    };
    window.addEventListener('pointerdown', onOutside);
    if (placement === 'portal') {
      window.addEventListener('scroll', onOutside, true);
      window.addEventListener('resize', onOutside);
    }
    return () => {
      window.removeEventListener('pointerdown', onOutside);
      window.removeEventListener('scroll', onOutside, true);
      window.removeEventListener('resize', onOutside);
    };
  }, [button, close, placement]);

  const onKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>(ITEM) ?? [])];
    const at = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      items[(at + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length]?.focus();
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      items[event.key === 'Home' ? 0 : items.length - 1]?.focus();
    } else if (event.key === 'Escape' || event.key === 'Tab') {
      event.preventDefault();
      closeToButton();
    }
    event.stopPropagation();
  };

  const element = (
    <MenuContext.Provider value={closeToButton}>
      <div ref={menu} className={placement === 'portal' ? 'menu' : 'menu menu-inline'} role="menu" aria-label={label} onKeyDown={onKey}>
        {children}
      </div>
    </MenuContext.Provider>
  );
  return placement === 'portal' ? createPortal(element, document.body) : element;
}
