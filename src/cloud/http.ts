// The one way rs-server speaks HTTP to an OpenStack service: timeouts, bounded retries on
// idempotent calls, and every failure mapped to the closed set of CloudError kinds. The bytes
// go through ./transport.ts (node:http on kept-alive connections).

import { setTimeout as sleep } from "node:timers/promises";
import { type Sent, send, TransportError } from "./transport.ts";

export type CloudErrorKind =
  | "not_found"
  | "conflict"
  | "quota_exceeded"
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "unavailable";

export class CloudError extends Error {
  constructor(
    readonly kind: CloudErrorKind,
    message: string,
    readonly service: string,
    readonly status?: number,
    readonly headers?: Headers,
  ) {
    super(message);
    this.name = "CloudError";
  }
}

export function isCloudError(err: unknown, kind?: CloudErrorKind): err is CloudError {
  return err instanceof CloudError && (kind === undefined || err.kind === kind);
}

/** Pulls the human message out of any OpenStack error body shape. */
export function openstackErrorMessage(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  for (const value of Object.values(body as Record<string, unknown>)) {
    if (value && typeof value === "object") {
      const m = (value as Record<string, unknown>).message;
      if (typeof m === "string") return m;
    }
  }
  const m = (body as Record<string, unknown>).message;
  return typeof m === "string" ? m : undefined;
}

const QUOTA_RE = /quota|limit exceeded|exceeded/i;

export function classify(status: number, message: string): CloudErrorKind {
  if (status === 404) return "not_found";
  if (status === 409) return QUOTA_RE.test(message) && /quota/i.test(message) ? "quota_exceeded" : "conflict";
  if (status === 413) return "quota_exceeded";
  if (status === 403) return /quota/i.test(message) ? "quota_exceeded" : "forbidden";
  if (status === 401) return "unauthorized";
  // Rate limiting is transient: idempotent calls retry it like a 503.
  if (status === 429) return "unavailable";
  if (status >= 400 && status < 500) return "bad_request";
  return "unavailable";
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | string[] | undefined>;
  headers?: Record<string, string>;
  /** Retry on network errors and 5xx. Defaults to true for GET/HEAD/PUT/DELETE. */
  idempotent?: boolean;
  /** Raw mode: do not throw on these statuses, return them. */
  acceptStatus?: number[];
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ServiceHttpOptions {
  service: string;
  /** Resolves the service's base URL (from the catalog). */
  endpoint: () => Promise<string>;
  /** Resolves a valid token; `force` asks for a fresh one after a 401. */
  token?: (force?: boolean) => Promise<string>;
  headers?: Record<string, string>;
  timeoutMs: number;
  retries: number;
}

export function buildQuery(query: RequestOptions["query"]): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/**
 * A path segment "." or ".." (also percent-encoded, which URL parsing decodes the same way):
 * URL parsing resolves it away, so an id of ".." would send the request one level up, to another
 * resource. No OpenStack resource has such an id.
 */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?=\/|$)/i;

export interface IgnoreNotFound {
  /** Treat 404 as success (the thing is already gone); the call then answers false. */
  ignoreNotFound?: boolean;
}

/** Awaits a DELETE: true when it removed the thing, false when it was already gone and that was asked. */
export async function ignoringNotFound(call: Promise<unknown>, opts: IgnoreNotFound): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (err) {
    if (opts.ignoreNotFound && isCloudError(err, "not_found")) return false;
    throw err;
  }
}

/** How a client gets a ServiceHttp acting in another project (a session scoped to it). */
export type ScopedHttp = (projectId: string) => Promise<ServiceHttp>;

/** The client's own ServiceHttp, or one scoped to `projectId` (Nova and Cinder create only there). */
export async function httpForProject(
  own: ServiceHttp,
  scoped: ScopedHttp | undefined,
  projectId: string | undefined,
): Promise<ServiceHttp> {
  if (projectId === undefined) return own;
  if (!scoped) {
    throw new CloudError(
      "bad_request",
      "no project-scoped session to act in another project",
      own.opts.service,
    );
  }
  return scoped(projectId);
}

export class ServiceHttp {
  constructor(readonly opts: ServiceHttpOptions) {}

  async request<T = any>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    const idempotent = options.idempotent ?? method !== "POST";
    const attempts = idempotent ? this.opts.retries + 1 : 1;
    let lastError: unknown;
    let reauthed = false;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(Math.min(2000, 100 * 2 ** attempt));
      try {
        return await this.once<T>(method, path, options, false);
      } catch (err) {
        if (isCloudError(err, "unauthorized") && this.opts.token && !reauthed) {
          reauthed = true;
          try {
            return await this.once<T>(method, path, options, true);
          } catch (again) {
            lastError = again;
          }
        } else lastError = err;
        if (!isCloudError(lastError, "unavailable")) throw lastError;
      }
    }
    throw lastError;
  }

  private async once<T>(method: string, path: string, options: RequestOptions, freshToken: boolean) {
    if (DOT_SEGMENT.test(path)) {
      throw new CloudError(
        "not_found",
        `${this.opts.service} ${method} ${path}: no such resource (a "." or ".." segment names none)`,
        this.opts.service,
        404,
      );
    }
    const base = (await this.opts.endpoint()).replace(/\/+$/, "");
    const url = `${base}${path}${buildQuery(options.query)}`;
    const headers: Record<string, string> = {
      Accept: "application/json",
      ...this.opts.headers,
      ...options.headers,
    };
    if (this.opts.token) headers["X-Auth-Token"] = await this.opts.token(freshToken);
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    let res: Sent;
    try {
      res = await send(method, url, headers, body, this.opts.timeoutMs);
    } catch (err) {
      // A header value that cannot be sent (out of range) is the input's fault, not an outage;
      // its message may quote the value (a token), so it is not repeated.
      if (err instanceof TransportError && err.reason === "header")
        throw new CloudError(
          "bad_request",
          `${this.opts.service} ${method} ${path}: a header value cannot be sent`,
          this.opts.service,
        );
      throw new CloudError(
        "unavailable",
        `${this.opts.service} ${method} ${path}: ${(err as Error).message}`,
        this.opts.service,
      );
    }
    const text = res.text;
    let parsed: unknown = text;
    if (text && (res.headers.get("content-type") ?? "").includes("json")) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if ((res.status >= 200 && res.status < 300) || options.acceptStatus?.includes(res.status)) {
      return { status: res.status, headers: res.headers, body: (text ? parsed : undefined) as T };
    }
    const message = openstackErrorMessage(parsed) ?? (text.slice(0, 300) || res.statusText);
    throw new CloudError(
      classify(res.status, message),
      `${this.opts.service} ${method} ${path}: ${res.status} ${message}`,
      this.opts.service,
      res.status,
      res.headers,
    );
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>("GET", path, options).then((r) => r.body);
  }
  post<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("POST", path, { ...options, body }).then((r) => r.body);
  }
  put<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PUT", path, { ...options, body }).then((r) => r.body);
  }
  patch<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>("PATCH", path, { ...options, body, idempotent: false }).then((r) => r.body);
  }
  delete(path: string, options?: RequestOptions) {
    return this.request("DELETE", path, options).then(() => undefined);
  }
}

export type Query = NonNullable<RequestOptions["query"]>;

/**
 * The query of a `*_links` "next" href, to ask our own base again (the href's host may be an
 * internal name). Undefined at the end, or when the marker did not move (a broken deployment
 * would otherwise loop forever).
 */
export function nextPage(
  links: { rel: string; href: string }[] | undefined,
  current: Query,
): Query | undefined {
  const next = links?.find((l) => l.rel === "next");
  if (!next) return undefined;
  return pageAfter(next.href, current);
}

/** The query of a next-page URL or path, or undefined if its marker did not move. */
export function pageAfter(href: string, current: Query): Query | undefined {
  const query: Record<string, string[]> = {};
  for (const [k, v] of new URL(href, "http://x").searchParams) {
    query[k] = [...(query[k] ?? []), v];
  }
  const marker = query.marker?.[0];
  return marker && marker !== String(current.marker ?? "") ? query : undefined;
}

/**
 * Every item of a paged collection: GETs `path` with `first`, then the query `next` finds in
 * each page (by default the "next" of `<key>_links`, as Nova, Neutron and Cinder page), until
 * there is none; returns the `key` items of all pages in order.
 */
export async function listPages(
  http: ServiceHttp,
  path: string,
  key: string,
  first: Query,
  next: (page: Record<string, any>, query: Query) => Query | undefined = (page, query) =>
    nextPage(page[`${key}_links`], query),
): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  let query: Query | undefined = first;
  while (query) {
    const page = await http.get<Record<string, any>>(path, { query });
    for (const raw of (page[key] ?? []) as Record<string, any>[]) out.push(raw);
    query = next(page, query);
  }
  return out;
}
