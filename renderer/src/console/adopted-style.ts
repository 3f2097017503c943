/**
 * xterm.js's DOM renderer writes its computed CSS (cell size, theme colours) into `<style>`
 * elements, which the renderer's CSP (`style-src 'self'`) blocks. The build rewrites xterm's
 * `createElement("style")` calls to this factory (see the plugin in renderer/vite.config.ts): an
 * inert element whose `textContent` goes into a constructed stylesheet adopted by the document.
 * That is the CSSOM, which the CSP permits, so no inline style is ever parsed from markup.
 */
export function adoptedStyleElement(doc: Document): HTMLElement {
  const element = doc.createElement('template');
  const sheet = new CSSStyleSheet();
  let text = '';
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  Object.defineProperty(element, 'textContent', {
    configurable: true,
    get: () => text,
    set: (value: unknown) => {
      text = value == null ? '' : String(value);
      sheet.replaceSync(text);
    },
  });
  const remove = element.remove.bind(element);
  element.remove = () => {
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    remove();
  };
  return element;
}
