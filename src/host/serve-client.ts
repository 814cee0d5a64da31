// `raptor web …`'s side: one JSON request to the local raptor serve, over its TCP address or unix socket.
import { request } from 'node:http';
import type { Config } from '../core/config.ts';
import { RaptorError, type ErrorKind } from '../core/errors.ts';
import { parseListen } from '../core/web-config.ts';

const KINDS: readonly string[] = ['unexpected', 'bad-input', 'conflict', 'not-found', 'not-allowed'];

/** POST body to path; the answer's JSON, or the server's error as a RaptorError of the same kind. */
export function postToServer(config: Config, path: string, body: unknown, timeoutMs = 30_000): Promise<unknown> {
  const listen = parseListen(config.web.listen);
  const where = config.web.socket ? { socketPath: config.web.socket, headers: { host: 'localhost' } } : { host: listen?.host, port: listen?.port };
  const shown = config.web.socket ? `unix:${config.web.socket}` : `http://${config.web.listen}`;
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { ...where, method: 'POST', path, timeout: timeoutMs, headers: { ...('headers' in where ? where.headers : {}), 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 1_000_000) text += d;
        });
        res.on('end', () => {
          let doc: unknown;
          try {
            doc = JSON.parse(text);
          } catch {
            return reject(new RaptorError('unexpected', `raptor serve at ${shown} answered ${res.statusCode} without JSON`));
          }
          if (res.statusCode === 200) return resolve(doc);
          const err = (doc as { error?: { code?: string; message?: string } }).error;
          const kind = (KINDS.includes(err?.code ?? '') ? err!.code : 'unexpected') as ErrorKind;
          reject(new RaptorError(kind, err?.message ?? `raptor serve answered ${res.statusCode}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (e) => reject(new RaptorError('unexpected', `cannot reach raptor serve at ${shown}: ${(e as NodeJS.ErrnoException).code ?? e.message} (is it running? an admin starts it: systemctl start raptor-serve)`)));
    req.end(data);
  });
}
