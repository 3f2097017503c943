// Starts test/xapi-sim/main.ts under plain Node 20: a module hook turns the simulator's
// TypeScript into JavaScript on load (oxc, which vite already brings), and maps the .js import
// specifiers of NodeNext sources to their .ts files. Test-only: nothing here is product code.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
await import('./main.ts');
