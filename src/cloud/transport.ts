// How ServiceHttp sends one request: node:http(s) on the process's kept-alive connections.
// fetch did this before; it cost the broker about twice the CPU per Keystone call in the login
// storm (issue 13: its web streams, abort signals and header objects), and the storm's two
// identity calls per allocation made it a tenth of rs-server's CPU. What fetch did that this
// keeps: redirects followed (at most 5), the whole body read, a timeout for the whole request,
// answers as a fetch `Headers`.
import http from "node:http";
import https from "node:https";

export interface Sent {
  status: number;
  statusText: string;
  headers: Headers;
  text: string;
}

/** A request that could not be sent: its header values (the caller's fault), or the network. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly reason: "header" | "timeout" | "network",
    /** The server closed a kept-alive connection as it was reused: the request never reached it. */
    readonly stale = false,
  ) {
    super(message);
  }
}

// An idle connection is closed after 4 s, before the usual servers' keep-alive (Apache: 5 s)
// closes it under a request being sent.
const agents = {
  "http:": new http.Agent({ keepAlive: true, timeout: 4000 }),
  "https:": new https.Agent({ keepAlive: true, timeout: 4000 }),
};
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

export async function send(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<Sent> {
  const deadline = Date.now() + timeoutMs;
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await once(method, target, headers, body, deadline - Date.now()).catch((err) => {
      // An idempotent request is sent again once on a new connection; a POST is not (the
      // server may have applied it): ServiceHttp decides, as for any other failure.
      if (err instanceof TransportError && err.stale && IDEMPOTENT.has(method))
        return once(method, target, headers, body, deadline - Date.now());
      throw err;
    });
    const location = res.headers.get("location");
    if (!REDIRECTS.has(res.status) || !location || hop >= MAX_REDIRECTS) return res;
    target = new URL(location, target);
    // As fetch: a 303, and a 301/302 to a POST, are followed with a GET and no body.
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      method = "GET";
      body = undefined;
    }
  }
}

function once(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === "https:" ? https : http;
    const agent = agents[url.protocol as keyof typeof agents];
    if (!agent) return reject(new TransportError(`unsupported scheme ${url.protocol}`, "network"));
    const payload = body === undefined ? undefined : Buffer.from(body);
    let req: http.ClientRequest;
    const timer = setTimeout(
      () => {
        req?.destroy(new TransportError("timed out", "timeout"));
      },
      Math.max(1, timeoutMs),
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      const reset = (err as { code?: string }).code === "ECONNRESET" && req?.reusedSocket;
      reject(err instanceof TransportError ? err : new TransportError(err.message, "network", reset));
    };
    try {
      req = client.request(url, {
        method,
        agent,
        headers: payload ? { ...headers, "Content-Length": String(payload.length) } : headers,
      });
    } catch (err) {
      clearTimeout(timer);
      // An invalid header value (a token out of range): the message may quote it, so it is not kept.
      const code = (err as { code?: string }).code ?? "";
      return reject(
        code.startsWith("ERR_INVALID_") || err instanceof TypeError
          ? new TransportError("a header value cannot be sent", "header")
          : new TransportError((err as Error).message, "network"),
      );
    }
    req.on("error", fail);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", fail);
      res.on("end", () => {
        clearTimeout(timer);
        const answer = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
          answer.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? "",
          headers: answer,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    req.end(payload);
  });
}
