// An OpenStack failure that reaches a route becomes an admin error of the closed set.
import { CloudError } from "../cloud/http.ts";
import { ApiError } from "../http/errors.ts";

export function cloudErrorToApi(err: unknown): ApiError | undefined {
  if (!(err instanceof CloudError)) return undefined;
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
