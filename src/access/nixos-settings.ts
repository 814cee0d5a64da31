// The config schema as data for the NixOS module (nix/settings-options.json): every key with its
// type, so `services.raptor.settings` is a strict option tree and a misspelt key fails evaluation.
// Defaults stay raptor's own: the module writes only what the admin set. Pure.
import { z } from 'zod';
import { configSchema } from '../core/config.ts';

export type OptionType =
  | { type: 'str' | 'int' | 'bool' }
  | { type: 'enum'; values: string[] }
  | { type: 'list'; of: OptionType }
  | { type: 'section'; options: Record<string, OptionNode> };
export type OptionNode = OptionType & { required?: true };

function describe(schema: z.ZodTypeAny): OptionNode {
  let s = schema;
  let required = true;
  // unwrap .default(), .optional() and refinements: in Nix every key with a default may be left out
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodOptional) {
      required = false;
      s = s._def.innerType as z.ZodTypeAny;
    } else if (s instanceof z.ZodEffects) s = s._def.schema as z.ZodTypeAny;
    else break;
  }
  const t = typeOf(s);
  return required ? { ...t, required: true } : t;
}

function typeOf(schema: z.ZodTypeAny): OptionType {
  // refinements check values at run time; the Nix type is the refined one's
  let s = schema;
  while (s instanceof z.ZodEffects) s = s._def.schema as z.ZodTypeAny;
  if (s instanceof z.ZodString) return { type: 'str' };
  if (s instanceof z.ZodBoolean) return { type: 'bool' };
  if (s instanceof z.ZodNumber) {
    if (!s.isInt) throw new Error('config-options: a number that is not a whole number has no Nix type here');
    return { type: 'int' };
  }
  if (s instanceof z.ZodEnum) return { type: 'enum', values: [...(s.options as string[])] };
  if (s instanceof z.ZodArray) return { type: 'list', of: typeOf(unwrap(s.element as z.ZodTypeAny)) };
  if (s instanceof z.ZodObject) {
    const shape = s.shape as Record<string, z.ZodTypeAny>;
    return { type: 'section', options: Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, describe(v)])) };
  }
  throw new Error(`config-options: no Nix type for ${s.constructor.name}`);
}

function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  // list elements keep their own required keys (a bridge needs its name)
  if (s instanceof z.ZodEffects) return unwrap(s._def.schema as z.ZodTypeAny);
  return s instanceof z.ZodDefault || s instanceof z.ZodOptional ? unwrap(s._def.innerType as z.ZodTypeAny) : s;
}

/** nix/settings-options.json, byte for byte. */
export function configOptionsJson(): string {
  const root = typeOf(configSchema);
  return JSON.stringify(root, null, 2) + '\n';
}
