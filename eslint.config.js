import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Modules that take values and return values: no file system, processes or sockets, and no
// adapter (the modules that reach the host). Most unit tests live here.
const PURE = [
  'src/core/**/*.ts',
  'src/libvirt/domain-xml.ts',
  'src/libvirt/domain-edit.ts',
  'src/libvirt/domain-resize.ts',
  'src/storage/capacity.ts',
  'src/storage/volume-use.ts',
  'src/dns/wire.ts',
  'src/dns/records.ts',
  'src/dns/tsig.ts',
  'src/access/polkit-rules.ts',
  'src/access/permissions.ts',
  'src/access/account-types.ts',
  'src/access/ssh-keys.ts',
  'src/libvirt/domain-caps.ts',
  'src/plan/account-planner.ts',
  'src/plan/account-steps.ts',
  'src/plan/dns-steps.ts',
  'src/access/libvirt-conf.ts',
  'src/access/login-defs.ts',
  'src/access/nixos.ts',
  'src/access/nixos-settings.ts',
  'src/access/confinement.ts',
  'src/plan/planner.ts',
  'src/plan/adopt.ts',
  'src/plan/resize.ts',
  'src/plan/usage.ts',
  'src/plan/steps.ts',
  'src/plan/events.ts',
  'src/plan/apply.ts',
];

// The modules that reach the host (processes, files, sockets), by path as imported.
const ADAPTER_IMPORTS = [
  '^(\\.\\./|\\./)+(host|service|cli)/',
  '/libvirt/(virsh|hypervisor-virsh|console)\\.ts$',
  '/storage/(lvm|wipe|image|seed|holders|volumes-lvm)\\.ts$',
  '/dns/(client|service)\\.ts$',
  '/access/(accounts|account-record|ssh-keys-file|host-files)\\.ts$',
  '/plan/(observe|executors[^/]*|adopt-executors)\\.ts$',
];
const IO_MODULES = ['node:fs', 'node:fs/promises', 'node:child_process', 'node:net', 'node:dgram', 'node:os', 'fs', 'fs/promises', 'child_process', 'net', 'dgram'];

const pureRule = (message) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: IO_MODULES.map((name) => ({ name, message })),
      patterns: [{ regex: ADAPTER_IMPORTS.join('|'), message }],
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/golden/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // a promise nobody awaits loses its error and its ordering: await it, return it, or mark it `void`
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test runs the tests it is handed; their promises are its to await
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: PURE,
    ignores: ['**/*.test.ts'],
    rules: pureRule('this module is pure (values in, values out): it may not reach the host or import an adapter'),
  },
  {
    // the front ends translate flags (or HTTP requests) into service requests and results into
    // output; they reach the host only through the service layer (pure renderers and the core are fine)
    files: ['src/cli/**/*.ts', 'src/web/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: ['^\\.\\./(host|plan/(observe|apply|executors[^/]*|adopt-executors))', '/libvirt/(virsh|hypervisor-virsh)\\.ts$', '/storage/(lvm|wipe|image|seed|holders)\\.ts$', '/dns/(client|service)\\.ts$', '/access/accounts\\.ts$'].join('|'),
              message: 'the front ends (CLI, web) reach the host only through src/service/',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/*.mjs', 'eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
