// Evaluate rendered polkit rules the way polkitd does (a script calling polkit.addRule), with a
// fake `polkit` object: tests compare the rules with the permission table this way. Pure.
import { runInNewContext } from 'node:vm';

export type PolkitAnswer = 'yes' | 'no' | 'not handled';

type Rule = (action: unknown, subject: unknown) => unknown;

export interface PolkitSubject {
  user: string;
  groups: string[];
}

/** The rules file as one decision function: (subject, action id, domain name) → polkit's answer. */
export function loadPolkitRules(text: string): (subject: PolkitSubject, actionId: string, domain?: string) => PolkitAnswer {
  const added: Rule[] = [];
  const polkit = { Result: { YES: 'yes', NO: 'no', NOT_HANDLED: null }, addRule: (f: Rule) => added.push(f) };
  runInNewContext(text, { polkit });
  if (added.length !== 1) throw new Error(`the rules add ${added.length} rules, not 1`);
  const rule = added[0]!;
  return (subject, actionId, domain) => {
    const action = { id: actionId, lookup: (k: string) => (k === 'domain_name' ? domain : undefined) };
    const r = rule(action, { user: subject.user, isInGroup: (g: string) => subject.groups.includes(g) });
    return r === 'yes' ? 'yes' : r === 'no' ? 'no' : 'not handled';
  };
}
