// Bridge allocation: one VM per bridge; a VM asks for one or takes the lowest free (docs/house-rules.md).
import type { BridgeConfig } from './config.ts';
import { badInput, conflict } from './errors.ts';
import { quoteInput } from './quote.ts';

export function allocateBridge(
  pool: readonly BridgeConfig[],
  inUse: ReadonlySet<string>,
  requested?: string,
): BridgeConfig {
  if (requested !== undefined) {
    const b = pool.find((x) => x.name === requested);
    if (!b) throw badInput(`unknown bridge ${quoteInput(requested)}: configured bridges are ${pool.map((x) => x.name).join(', ')}`);
    if (inUse.has(b.name)) throw conflict(`bridge ${b.name} is already used by another domain`);
    return b;
  }
  const free = pool.find((b) => !inUse.has(b.name));
  if (!free) throw conflict(`no free bridge: all of ${pool.map((x) => x.name).join(', ')} are in use`);
  return free;
}
