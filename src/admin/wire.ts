// Wire rules (docs/admin-api.md#wire-rules) shared by the admin routes of pools, instances, assignments, user
// resources and sessions: lenient booleans, timestamps without offset, error responses.
import { Type as T, type TSchema } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { badRequest } from "../http/errors.ts";
import { ErrorBody } from "./tasks.ts";

/** A boolean as JSON or as "True"/"False"/"true"/"false"/"1"/"0" (parse with parseBool). */
export const LenientBool = (description: string) =>
  T.Union([T.Boolean(), T.String({ enum: ["True", "False", "true", "false", "1", "0"] })], { description });

/** 2018-10-31T12:59:43: ISO 8601 in UTC without offset or fraction, as the reference shows. */
export function isoUtc(d: Date | null | undefined): string | null {
  return d ? d.toISOString().slice(0, 19) : null;
}

export const Timestamp = (description: string) =>
  T.Union([T.String({ examples: ["2018-10-31T12:59:43"] }), T.Null()], { description });

/** Error responses a route can give, in the Keystone-style envelope. */
export function errors(...statuses: (400 | 401 | 403 | 404 | 409)[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = { 401: ErrorBody, 403: ErrorBody };
  for (const s of statuses) out[s] = ErrorBody;
  return out;
}

/** A 204 answer: no content. */
export const NoContent = T.Null({ description: "No content." });

export const Id = (description: string) => T.String({ minLength: 1, maxLength: 255, description });

export const IdList = (description: string) => T.Array(Id(description), { maxItems: 1000, description });

/** A NUL, or a lone surrogate (JSON's "\ud800" escape is valid JSON but no Unicode text). */
const unfit = (text: string) => text.includes("\u0000") || LONE_SURROGATE.test(text);
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether a NUL or a lone surrogate is in any string or key of a parsed input, walked with a
 * stack of its own: JSON nested thousands deep (which JSON.parse accepts) would overflow a
 * recursive walk.
 */
function hasUnfitText(input: unknown): boolean {
  const pending: unknown[] = [input];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (unfit(value)) return true;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (unfit(k)) return true;
        pending.push(v);
      }
    }
  }
  return false;
}

/**
 * PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded into an OpenStack URL
 * (encodeURIComponent throws): either anywhere in the input is refused as a 400 here rather
 * than becoming a database error or a 500.
 */
export async function noNulBytes(req: FastifyRequest): Promise<void> {
  if (hasUnfitText(req.params) || hasUnfitText(req.query) || hasUnfitText(req.body))
    throw badRequest("Input must not contain NUL characters or lone surrogates (text that is not Unicode)");
}
