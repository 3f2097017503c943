// A vitest reporter that writes what each test file took, hooks and imports included, to the JSON
// file named by KILN_FILE_TIMES ({ seconds: { "test/…": s } }): run-tests.js balances the real
// shards by these figures (scripts/real-timings.json is a copy of one run's).
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export default class FileTimesReporter {
  onTestRunEnd(testModules) {
    const out = process.env['KILN_FILE_TIMES'];
    if (!out) return;
    const seconds = {};
    for (const m of testModules) {
      const d = m.diagnostic();
      const ms = d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration;
      seconds[path.relative(process.cwd(), m.moduleId).split(path.sep).join('/')] = Math.round(ms / 100) / 10;
    }
    writeFileSync(out, `${JSON.stringify({ seconds }, null, 2)}\n`);
  }
}
