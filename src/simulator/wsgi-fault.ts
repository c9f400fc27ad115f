// The fault body Nova and Cinder share, as their wsgi.Fault writes it (Cinder's is Nova's,
// forked): {"itemNotFound": {"code": 404, "message": ...}}, named by status; other statuses
// are computeFault, in Cinder too.

/** The names both services give; Nova has since added 429. */
export const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: "badRequest",
  401: "unauthorized",
  403: "forbidden",
  404: "itemNotFound",
  405: "badMethod",
  409: "conflictingRequest",
  413: "overLimit",
  415: "badMediaType",
  501: "notImplemented",
  503: "serviceUnavailable",
};

export const faultBody = (
  status: number,
  fault: Record<string, unknown>,
  names: Readonly<Record<number, string>> = FAULT_NAMES,
) => ({ [names[status] ?? "computeFault"]: fault });
