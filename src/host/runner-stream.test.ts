import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openCommandStream } from './runner.ts';

test('a streamed child: bytes both ways; on destroy it gets its farewell first and may leave by itself', async () => {
  // echoes one line, then exits 7 only if the next line is the farewell
  const { stream, exited } = openCommandStream(['sh', '-c', 'read -r a; echo "got:$a"; read -r b; [ "$b" = bye ] && exit 7; exit 1'], { farewell: 'bye\n', graceMs: 5000 });
  const got = new Promise<string>((resolve) => stream.once('data', (d: Buffer) => resolve(d.toString())));
  stream.write('hello\n');
  assert.equal((await got).trim(), 'got:hello');
  const t0 = Date.now();
  stream.destroy();
  const { code } = await exited;
  assert.equal(code, 7, 'the child read the farewell and left with its own exit code');
  assert.ok(Date.now() - t0 < 4000, 'it left before the grace ran out (no SIGTERM needed)');
});

test('a streamed child that ignores its farewell is terminated after the grace', async () => {
  const { stream, exited } = openCommandStream(['sh', '-c', 'trap "" HUP; while :; do sleep 0.05; done'], { farewell: 'bye\n', graceMs: 200 });
  stream.destroy();
  const { code } = await exited;
  assert.equal(code, null, 'killed by a signal');
});
