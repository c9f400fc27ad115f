// @ts-check
// The admin API client: every call goes to this server's /v1 (relative, so a reverse proxy's
// path prefix keeps working). The token lives in this module's memory only: never in the URL,
// a cookie or web storage, so closing or reloading the tab signs the operator out.

/** @typedef {{ id: string, expires_at: string, user: { id: string, name: string, domain_id: string, domain_name: string }, project: { id: string, name: string } | null, roles: string[] }} Session */

export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {boolean} [otpRequired] */
  constructor(status, message, otpRequired = false) {
    super(message);
    this.status = status;
    this.otpRequired = otpRequired;
  }
}

/** @type {Session | null} */
let session = null;
/** @type {(reason: "expired") => void} */
let onExpired = () => {};
/** @type {ReturnType<typeof setTimeout> | undefined} */
let expiryTimer;

const BASE = "../v1";

/** @param {(reason: "expired") => void} fn */
export function whenExpired(fn) {
  onExpired = fn;
}

export function current() {
  return session;
}

/** Wire timestamps are UTC without an offset. @param {string | null | undefined} wire */
export function parseWire(wire) {
  return wire ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(wire) ? wire : `${wire}Z`) : null;
}

function expire() {
  if (!session) return;
  signOut();
  onExpired("expired");
}

/** @param {Session} s */
function start(s) {
  session = s;
  clearTimeout(expiryTimer);
  const left = (parseWire(s.expires_at)?.getTime() ?? 0) - Date.now();
  // setTimeout's delay is a 32-bit integer: a token for longer than ~24 days is checked daily.
  expiryTimer = setTimeout(
    function check() {
      if ((parseWire(session?.expires_at)?.getTime() ?? 0) <= Date.now()) expire();
      else expiryTimer = setTimeout(check, 86_400_000);
    },
    Math.max(0, Math.min(left, 86_400_000)),
  );
}

export function signOut() {
  session = null;
  clearTimeout(expiryTimer);
}

/** @param {Response} res */
async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  let otp = false;
  try {
    const body = await res.json();
    if (body?.error?.message) message = body.error.message;
    otp = body?.error?.otp_required === true;
  } catch {
    // Not JSON (a proxy's page): the status line says enough.
  }
  return new ApiError(res.status, message, otp);
}

/**
 * Signs in with a password (and a one-time code when asked) or a pasted token.
 * @param {{ user?: string, password?: string, domain?: string, project?: string, otp?: string, token?: string }} creds
 */
export async function signIn(creds) {
  /** @type {Record<string, string>} */
  const body = {};
  for (const [k, v] of Object.entries(creds)) if (v) body[k] = v;
  const res = await fetch(`${BASE}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw await failure(res);
  const s = (await res.json()).token;
  start(s);
  return s;
}

/**
 * One admin API call. A 401 means the token has expired or was revoked: the page signs out.
 * @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function call(method, path, body) {
  if (!session) throw new ApiError(401, "Not signed in");
  /** @type {Record<string, string>} */
  const headers = { "X-Auth-Token": session.id };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    const err = await failure(res);
    expire();
    throw err;
  }
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  return res.json();
}

/** @param {string} path */
export const get = (path) => call("GET", path);

/** A query string from the defined, non-empty values. @param {Record<string, string | number | boolean | undefined | null>} q */
export function query(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}
