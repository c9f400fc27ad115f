// The core's closed set of failures for the admin use cases: what went wrong, in the
// domain's words, never an HTTP status. The admin API maps each kind to its envelope in one
// place (src/admin/errors.ts); the broker's own failures are BrokerError (./broker-error.ts).

import { CloudError } from "../cloud/http.ts";

export type CoreErrorKind =
  /** The input breaks a rule (a bad value, a combination that cannot be). */
  | "invalid"
  /** The caller may not do this to this thing. */
  | "forbidden"
  /** The thing named does not exist (or is not one rs-server manages). */
  | "not_found"
  /** The thing exists but its state refuses the change (in use, taken, already there). */
  | "conflict"
  /** Something rs-server depends on cannot serve the request now. */
  | "unavailable";

export class CoreError extends Error {
  constructor(
    readonly kind: CoreErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "CoreError";
  }
}

export const isCoreError = (err: unknown): err is CoreError => err instanceof CoreError;

export const invalid = (message: string) => new CoreError("invalid", message);
export const forbidden = (message: string) => new CoreError("forbidden", message);
export const notFound = (message: string) => new CoreError("not_found", message);
export const conflict = (message: string) => new CoreError("conflict", message);
export const unavailable = (message: string) => new CoreError("unavailable", message);

/**
 * An OpenStack failure that reaches the edge of a use case, as a core error: what OpenStack
 * could not find or refused is the caller's problem; anything else means it is unavailable.
 * Undefined for anything that is neither (a bug: the API answers 500).
 */
export function asCoreError(err: unknown): CoreError | undefined {
  if (err instanceof CoreError) return err;
  if (!(err instanceof CloudError)) return undefined;
  switch (err.kind) {
    case "not_found":
      return notFound(err.message);
    case "conflict":
      return conflict(err.message);
    case "bad_request":
    case "quota_exceeded":
      return invalid(err.message);
    case "forbidden":
      return forbidden(err.message);
    default:
      return unavailable(`OpenStack is not available: ${err.message}`);
  }
}
