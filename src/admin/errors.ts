// The one place where failures become the admin API's envelope: a core error by its kind, an
// OpenStack failure that reached a route by its kind. Anything else is the app's 500.
import { CloudError } from "../cloud/http.ts";
import { CoreError, type CoreErrorKind } from "../core/errors.ts";
import { ApiError, type ApiErrorKind } from "../http/errors.ts";

const CORE_KIND: Record<CoreErrorKind, ApiErrorKind> = {
  invalid: "bad_request",
  forbidden: "forbidden",
  not_found: "not_found",
  conflict: "conflict",
  unavailable: "unavailable",
};

function cloudErrorToApi(err: CloudError): ApiError {
  switch (err.kind) {
    case "not_found":
      return new ApiError("not_found", err.message);
    case "conflict":
      return new ApiError("conflict", err.message);
    case "bad_request":
    case "quota_exceeded":
      return new ApiError("bad_request", err.message);
    case "forbidden":
      return new ApiError("forbidden", err.message);
    default:
      return new ApiError("unavailable", `OpenStack is not available: ${err.message}`);
  }
}

export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof CoreError) return new ApiError(CORE_KIND[err.kind], err.message);
  if (err instanceof CloudError) return cloudErrorToApi(err);
  return undefined;
}
