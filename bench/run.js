// Runs the compiled benchmarks (npm run bench builds first). KILN_BENCH_BUILD names another build
// directory (e.g. a private `tsc -p tsconfig.build.json --outDir out/NAME`), so a run need not build into dist/.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const build = process.env.KILN_BENCH_BUILD;
await import(build ? pathToFileURL(resolve(build, 'bench/index.js')).href : '../dist/bench/index.js');
