// The admin API's closed set of errors and their Keystone-style envelope:
// {"error": {"code": <http status>, "title": "...", "message": "..."}}.

export type ApiErrorKind =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "unavailable";

const STATUS: Record<ApiErrorKind, { status: number; title: string }> = {
  bad_request: { status: 400, title: "Bad Request" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not Found" },
  conflict: { status: 409, title: "Conflict" },
  unavailable: { status: 503, title: "Service Unavailable" },
};

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
  get status() {
    return STATUS[this.kind].status;
  }
  get title() {
    return STATUS[this.kind].title;
  }
}

export const badRequest = (message: string) => new ApiError("bad_request", message);
export const notFound = (message: string) => new ApiError("not_found", message);
export const conflict = (message: string) => new ApiError("conflict", message);
export const forbidden = (message: string) => new ApiError("forbidden", message);
export const unauthorized = (message = "The request you have made requires authentication.") =>
  new ApiError("unauthorized", message);

export interface ErrorEnvelope {
  error: { code: number; title: string; message: string };
}

export function envelope(status: number, title: string, message: string): ErrorEnvelope {
  return { error: { code: status, title, message } };
}

/** A title for any status, for errors Fastify raises itself (413, 415, ...). */
export function titleFor(status: number): string {
  const known = Object.values(STATUS).find((s) => s.status === status);
  if (known) return known.title;
  return (
    {
      405: "Method Not Allowed",
      406: "Not Acceptable",
      413: "Payload Too Large",
      415: "Unsupported Media Type",
      500: "Internal Server Error",
    }[status] ?? "Error"
  );
}
