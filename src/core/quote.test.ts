import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControls, MAX_ECHO, quoteInput } from './quote.ts';

test('quoteInput escapes controls, ANSI escapes, bidi and invisible characters, and quotes', () => {
  assert.equal(quoteInput('alice-web'), '"alice-web"');
  assert.equal(quoteInput('a\nb'), '"a\\nb"');
  assert.equal(quoteInput('a\r\tb'), '"a\\r\\tb"');
  assert.equal(quoteInput('\u001b[31mred\u001b[0m'), '"\\e[31mred\\e[0m"');
  assert.equal(quoteInput('x\u0007\u0000\u007f\u009b'), '"x\\x07\\x00\\x7f\\x9b"');
  assert.equal(quoteInput('abc\u202edcba'), '"abc\\u202edcba"');
  assert.equal(quoteInput('a\u2028b\u200bc\ufeff'), '"a\\u2028b\\u200bc\\ufeff"');
  assert.equal(quoteInput('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
  assert.equal(quoteInput('ünïcödé'), '"ünïcödé"');
});

test('quoteInput cuts long input and says how long it was', () => {
  const long = 'x'.repeat(10_000);
  const q = quoteInput(long);
  assert.equal(q, `"${'x'.repeat(MAX_ECHO)}"... (10000 characters)`);
  assert.equal(quoteInput('abcdef', 3), '"abc"... (6 characters)');
  // a cut never splits a character
  assert.equal(quoteInput('😀😀😀', 2), '"😀😀"... (3 characters)');
});

test('escapeControls keeps newlines unless told not to, escapes every other control', () => {
  assert.equal(escapeControls('line 1\nline 2\u001b[2J\u0007'), 'line 1\nline 2\\e[2J\\x07');
  assert.equal(escapeControls('a\nb', { keepNewlines: false }), 'a\\nb');
  assert.equal(escapeControls('plain "text" \\ stays'), 'plain "text" \\ stays');
});
