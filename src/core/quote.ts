// Echoing user input in messages: one quoting rule, so no input can break a line, recolour a
// terminal or flood it. Pure.

/** Longest piece of user input a message repeats; the rest is counted, not shown. */
export const MAX_ECHO = 64;

// C0 and C1 controls, DEL, Unicode line/paragraph separators, bidi overrides and isolates,
// zero-width characters and the BOM: none may reach a terminal unescaped.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_KEEP_NL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e', '"': '\\"', '\\': '\\\\' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * User input as it may appear in a message: in double quotes, every control and invisible
 * character escaped (`\n`, `\e`, `\x07`, `\u202e`), cut after `max` characters with the length said.
 */
export function quoteInput(value: string, max = MAX_ECHO): string {
  const chars = [...value];
  const cut = chars.length > max ? chars.slice(0, max).join('') : value;
  const body = cut.replace(/["\\]/g, escapeChar).replace(UNSAFE, escapeChar);
  return chars.length > max ? `"${body}"... (${chars.length} characters)` : `"${body}"`;
}

/**
 * The last line of defence before a message reaches a terminal: escapes every control and
 * invisible character except the newlines a message may hold on purpose.
 */
export function escapeControls(text: string, opts: { keepNewlines?: boolean } = {}): string {
  return text.replace(opts.keepNewlines === false ? UNSAFE : UNSAFE_KEEP_NL, escapeChar);
}
