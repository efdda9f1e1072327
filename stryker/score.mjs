// One score over several mutation reports: `node stryker/score.mjs reports/a.json reports/b.json …`
// prints each file's score and the total (killed + timed out over every valid mutant, as Stryker
// counts it). A file in more than one report is taken from the last one given, so a narrow re-run
// of a few files can be listed after the run it updates (docs/testing.md).
import fs from 'node:fs';

const reports = process.argv.slice(2);
if (reports.length === 0) {
  console.error('usage: node stryker/score.mjs <report.json> …');
  process.exit(2);
}
const byFile = new Map();
for (const report of reports) {
  for (const [file, { mutants }] of Object.entries(JSON.parse(fs.readFileSync(report, 'utf8')).files)) {
    const count = { detected: 0, valid: 0 };
    for (const { status } of mutants) {
      if (status === 'Killed' || status === 'Timeout') count.detected++;
      if (status === 'Killed' || status === 'Timeout' || status === 'Survived' || status === 'NoCoverage') count.valid++;
    }
    byFile.set(file, count);
  }
}
let detected = 0;
let valid = 0;
for (const [file, count] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
  detected += count.detected;
  valid += count.valid;
  const score = count.valid === 0 ? 'n/a' : `${((100 * count.detected) / count.valid).toFixed(1)} %`;
  console.log(`${file.padEnd(44)} ${score.padStart(8)}  ${count.detected} of ${count.valid}`);
}
console.log(`${'all'.padEnd(44)} ${`${((100 * detected) / valid).toFixed(2)} %`.padStart(8)}  ${detected} of ${valid}`);
