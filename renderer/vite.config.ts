import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const adoptedStyle = fileURLToPath(new URL('./src/console/adopted-style.ts', import.meta.url));

/**
 * The renderer runs under `style-src 'self'`. xterm.js puts its computed CSS into <style>
 * elements and (for true-colour cells) style attributes, both of which that CSP blocks. This
 * rewrites those few spots to the CSSOM: constructed stylesheets and element.style. The build
 * fails if xterm changes shape, rather than shipping a terminal that renders wrong.
 */
function xtermUnderStrictCsp(): Plugin {
  return {
    name: 'kiln-xterm-strict-csp',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]@xterm[\\/]xterm[\\/]lib[\\/]xterm\.m?js$/.test(id.split('?')[0]!)) return null;
      let styleElements = 0;
      let out = code.replace(/([\w$.]+)\.createElement\("style"\)/g, (_m, doc: string) => {
        styleElements++;
        return `__kilnAdoptedStyle(${doc})`;
      });
      const attribute = /(\w+)\.setAttribute\("style",`\$\{\1\.getAttribute\("style"\)\|\|""\}\$\{(\w+)\};`\)/g;
      let attributes = 0;
      out = out.replace(attribute, (_m, el: string, css: string) => {
        attributes++;
        return `${el}.style.cssText+=${css}+";"`;
      });
      if (styleElements === 0 || attributes === 0) throw new Error(`xterm.js changed: found ${styleElements} <style> and ${attributes} style-attribute sites to adapt for the CSP`);
      return { code: `import { adoptedStyleElement as __kilnAdoptedStyle } from ${JSON.stringify(adoptedStyle)};\n${out}`, map: null };
    },
  };
}

// The renderer is served by Kiln itself (serve mode) or loaded from disk by Electron, so
// asset paths are relative and the output sits beside the compiled main process.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [xtermUnderStrictCsp(), react()],
  // es2022: noVNC (the graphical console) awaits at the top level of a module.
  build: { outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)), emptyOutDir: true, chunkSizeWarningLimit: 1024, target: 'es2022' },
});
