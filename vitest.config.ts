import { defineConfig } from 'vitest/config';

// One runner for every suite. Real-component suites (cs client, KVM hosts, Chromium) take
// seconds each, so timeouts are generous and files run in forks (better-sqlite3 is native).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
