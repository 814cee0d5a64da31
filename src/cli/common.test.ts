import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configPath, DEFAULT_CONFIG_PATH } from './common.ts';

test('one config lookup: --config, else $RAPTOR_CONFIG, else /etc/raptor/raptor.toml when it exists, else none', () => {
  const exists = (p: string) => p === DEFAULT_CONFIG_PATH;
  assert.equal(configPath('/x.toml', { RAPTOR_CONFIG: '/y.toml' }, exists), '/x.toml');
  assert.equal(configPath(undefined, { RAPTOR_CONFIG: '/y.toml' }, exists), '/y.toml');
  // the default is what host check's "config readable" judges when no flag or variable names one
  assert.equal(configPath(undefined, {}, exists), '/etc/raptor/raptor.toml');
  assert.equal(configPath(undefined, {}, () => false), undefined);
});
