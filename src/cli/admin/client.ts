// A thin client of the admin API for the operator CLI: one request per command, the token in
// X-Auth-Token, and every failure turned into a CliError carrying the message an operator reads.
import { buildQuery } from "../../cloud/http.ts";

/** An expected failure: printed as one line on stderr, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    /** 1: the API or a service refused or could not be reached; 2: the command was used wrongly. */
    readonly exitCode: 1 | 2 = 1,
    /** The admin API's HTTP status, when it refused. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export type Query = Record<string, string | string[] | undefined>;

export interface ApiReply {
  status: number;
  /** The answer's text exactly as the API sent it (empty for 204). */
  text: string;
  body: any;
  /** The marker of the next page, from a `Link: <...marker=...>; rel="next"` header. */
  next?: string;
}

/** Why fetch failed, in words: "connection refused" rather than "fetch failed". */
export function networkReason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  const code = e?.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND") return "host not found";
  return e?.cause?.message ?? e?.message ?? String(err);
}

export class AdminClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly timeoutMs = 60_000,
  ) {}

  async request(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown } = {},
  ): Promise<ApiReply> {
    const url = `${this.baseUrl.replace(/\/+$/, "")}/v1${path}${buildQuery(opts.query)}`;
    const headers: Record<string, string> = { Accept: "application/json", "X-Auth-Token": this.token };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new CliError(`cannot reach the admin API at ${this.baseUrl}: ${networkReason(err)}`);
    }
    const text = await res.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const message = body?.error?.message ?? (text.slice(0, 300) || res.statusText);
      throw new CliError(`${message} (HTTP ${res.status})`, 1, res.status);
    }
    const link = /<([^>]*)>\s*;\s*rel="next"/.exec(res.headers.get("link") ?? "");
    const next = link ? (new URL(link[1], url).searchParams.get("marker") ?? undefined) : undefined;
    return { status: res.status, text, body, ...(next ? { next } : {}) };
  }
}
