// Reads jest's JSON results and prints the suite's 15 checks as the official
// runner groups them (by a test's outer describe, or its name at top level).
import { readFileSync } from 'node:fs';

const CHECKS = [
  ['introspection', '_service'],
  ['@key single', '@key (single)'],
  ['@key multiple', '@key (multi)'],
  ['@key composite', '@key (composite)'],
  ['repeatable @key', 'repeatable @key'],
  ['@requires', '@requires'],
  ['@provides', '@provides'],
  ['ftv1', 'federated tracing'],
  ['@link', '@link'],
  ['@shareable', '@shareable'],
  ['@tag', '@tag'],
  ['@override', '@override'],
  ['@inaccessible', '@inaccessible'],
  ['@composeDirective', '@composeDirective'],
  ['@interfaceObject', '@interfaceObject'],
];

const results = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const assertions = results.testResults.flatMap((file) => file.assertionResults);
let passed = 0;
for (const [assertion, column] of CHECKS) {
  const mine = assertions.filter(
    (a) => (a.ancestorTitles.length === 0 ? a.fullName : a.ancestorTitles[0]) === assertion,
  );
  const ok = mine.length > 0 && mine.every((a) => a.status === 'passed');
  if (ok) passed += 1;
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${column}`);
  for (const a of mine.filter((x) => x.status !== 'passed')) {
    console.log(`      ${a.fullName}: ${(a.failureMessages ?? []).join(' ').slice(0, 600)}`);
  }
}
console.log(`\nApollo subgraph compatibility: ${passed}/${CHECKS.length} checks passed`);
process.exit(passed === CHECKS.length ? 0 : 1);
