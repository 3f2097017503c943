#!/usr/bin/env node
// The kiln command: runs the compiled CLI (npm run build produces dist/).
import { main } from '../dist/main/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error) => {
    console.error(`kiln: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
