// Query-string rules (docs/admin-api.md#wire-rules): booleans as JSON booleans or "True"/"False"/"true"/"false"/
// "1"/"0", and filter modifiers `param__modifier=value` on the parameters that support them.
import { type Filter, MODIFIERS, type Modifier } from "../shared/types.ts";
import { badRequest } from "./errors.ts";

export function parseBool(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "boolean") return value;
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (typeof v === "string") {
    const lower = v.toLowerCase();
    if (lower === "true" || lower === "1") return true;
    if (lower === "false" || lower === "0") return false;
  }
  throw badRequest(`${name} must be a boolean (true/false)`);
}

const ALIASES: Record<string, Modifier> = { not_eq: "noteq" };

export interface QuerySpec {
  /** Parameters that accept modifiers. */
  modifiable: readonly string[];
  /** Other parameters the endpoint knows (exact match only, parsed by the route). */
  plain: readonly string[];
}

function asList(value: unknown): string[] {
  const raw = Array.isArray(value) ? value : [value];
  return raw.map((v) => String(v));
}

/**
 * Splits a query into modifier filters (for the modifiable parameters, a bare `param=value`
 * being `eq`) and the remaining plain parameters. Unknown parameters and modifiers are 400s.
 */
export function parseFilters(
  query: Record<string, unknown>,
  spec: QuerySpec,
): { filters: Filter[]; plain: Record<string, string> } {
  const filters: Filter[] = [];
  const plain: Record<string, string> = {};
  for (const [key, value] of Object.entries(query ?? {})) {
    const sep = key.indexOf("__");
    const field = sep === -1 ? key : key.slice(0, sep);
    const rawOp = sep === -1 ? undefined : key.slice(sep + 2);
    if (rawOp !== undefined) {
      if (!spec.modifiable.includes(field)) {
        if (spec.plain.includes(field)) throw badRequest(`Parameter ${field} does not support modifiers`);
        throw badRequest(`Unknown query parameter: ${field}`);
      }
      const op = (ALIASES[rawOp] ?? rawOp) as Modifier;
      if (!MODIFIERS.includes(op)) throw badRequest(`Unknown modifier ${rawOp} on ${field}`);
      let values = asList(value);
      if (op === "in" || op === "notin") values = values.flatMap((v) => v.split(",")).filter((v) => v !== "");
      else if (values.length > 1) throw badRequest(`Parameter ${key} given more than once`);
      filters.push({ field, op, values });
      continue;
    }
    if (spec.modifiable.includes(field)) {
      const values = asList(value);
      if (values.length > 1) throw badRequest(`Parameter ${key} given more than once`);
      filters.push({ field, op: "eq", values });
      continue;
    }
    if (!spec.plain.includes(field)) throw badRequest(`Unknown query parameter: ${field}`);
    const values = asList(value);
    plain[field] = values[values.length - 1];
  }
  return { filters, plain };
}
