import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// A sandboxed preload may require only Electron's own modules, so it ships as one CommonJS file.
export default defineConfig({
  build: {
    outDir: fileURLToPath(new URL('../dist/preload-bundle', import.meta.url)),
    emptyOutDir: true,
    minify: false,
    lib: { entry: fileURLToPath(new URL('./index.ts', import.meta.url)), formats: ['cjs'], fileName: () => 'preload.cjs' },
    rollupOptions: { external: ['electron'] },
  },
});
