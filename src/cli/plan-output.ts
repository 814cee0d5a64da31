// How a plan is shown: each step's title, why it is needed, and the commands an admin would run
// instead (every --dry-run), or the same as JSON.
import { stepCommands, stepTitle, stepWhy, type Step } from '../plan/steps.ts';

export function printSteps(steps: Step[], uri: string, out: (s: string) => void): void {
  steps.forEach((s, i) => {
    out(`${i + 1}. ${stepTitle(s)}`);
    const why = stepWhy(s);
    if (why) out(`     why: ${why}`);
    for (const c of stepCommands(s, uri)) out(`     $ ${c}`);
  });
}

export { planJson } from '../service/plan-json.ts';
