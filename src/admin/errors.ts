// The one place where failures become the admin API's envelope: a core error by its kind
// (an OpenStack failure that reached a route is one too: core/errors.ts asCoreError).
// Anything else is the app's 500.
import { asCoreError, type CoreErrorKind } from "../core/errors.ts";
import { ApiError, type ApiErrorKind } from "../http/errors.ts";

const STATUS_OF: Record<CoreErrorKind, ApiErrorKind> = {
  invalid: "bad_request",
  forbidden: "forbidden",
  not_found: "not_found",
  conflict: "conflict",
  unavailable: "unavailable",
};

export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const core = asCoreError(err);
  return core && new ApiError(STATUS_OF[core.kind], core.message);
}
