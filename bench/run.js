// Runs the compiled benchmarks (npm run bench builds first).
await import('../dist/bench/index.js');
