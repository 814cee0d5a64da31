// The lint rules that guard the layering fire: each case is a real project path given code that
// breaks (or keeps) one rule, linted with the project's own eslint.config.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message.slice(0, 60)}`);
}

const cases: { file: string; code: string; expect: RegExp | null; why: string }[] = [
  { file: 'src/plan/planner.ts', code: "import type { Runner } from '../host/runner.ts';\nexport type R = Runner;\n", expect: /no-restricted-imports/, why: 'the planner imports no adapter, not even its types' },
  { file: 'src/plan/planner.ts', code: "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", expect: /no-restricted-imports/, why: 'the planner is pure' },
  { file: 'src/dns/wire.ts', code: "import { createSocket } from 'node:dgram';\nexport const s = createSocket;\n", expect: /no-restricted-imports/, why: 'dns/wire.ts is pure' },
  { file: 'src/access/polkit-rules.ts', code: "import { writeFileSync } from 'node:fs';\nexport const w = writeFileSync;\n", expect: /no-restricted-imports/, why: 'polkit-rules.ts is pure' },
  { file: 'src/core/naming.ts', code: "import { runCommand } from '../host/runner.ts';\nexport const r = runCommand;\n", expect: /no-restricted-imports/, why: 'the core imports no adapter' },
  { file: 'src/cli/app.ts', code: "import { runCommand } from '../host/runner.ts';\nexport const r = runCommand;\n", expect: /no-restricted-imports/, why: 'the CLI reaches the host only through the service layer' },
  { file: 'src/web/app.ts', code: "import { readProof } from '../host/signin-spool.ts';\nexport const r = readProof;\n", expect: /no-restricted-imports/, why: 'the web front end reaches the host only through the service layer' },
  { file: 'src/cli/app.ts', code: "import { formatSize } from '../core/size.ts';\nexport const f = formatSize;\n", expect: null, why: 'the CLI may use the pure core' },
  { file: 'src/service/vm.ts', code: 'async function f(): Promise<void> {}\nexport function g(): void {\n  f();\n}\n', expect: /no-floating-promises/, why: 'a promise nobody awaits is an error' },
  { file: 'src/service/vm.ts', code: 'async function f(): Promise<void> {}\nexport async function g(): Promise<void> {\n  await f();\n}\n', expect: null, why: 'an awaited promise is fine' },
];

for (const c of cases) {
  test(`lint: ${c.why}`, async () => {
    const found = await ruleIds(c.file, c.code);
    if (c.expect) assert.ok(found.some((m) => c.expect!.test(m)), `expected ${c.expect} for ${c.file}, got ${JSON.stringify(found)}`);
    else assert.deepEqual(found, []);
  });
}
