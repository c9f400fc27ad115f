// What the portal says to the broker API, without any DOM: sign in (get-projects), ask for a
// desktop (request-vm), poll it (get-vm) until it is ready or failed, change the password.
// Plain ES module so that browsers load it as is and Node 20 (global fetch) runs it in tests.
// The token lives only in the caller's memory: it is never put in a URL.

/** A failure: `code` is the broker's numbered code (0 when the broker could not be reached). */
export class PortalError extends Error {
  constructor(code, message, data = {}, steps = []) {
    super(message);
    this.name = "PortalError";
    this.code = code;
    this.data = data;
    this.steps = steps;
  }
}

export const UNREACHABLE = 0;
export const OTP_REQUIRED = 27;
export const PASSWORD_EXPIRED = 7;
export const PASSWORD_EXPIRING = 19;

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** The body fields the broker expects for a user's credentials (empty otp left out). */
export function credentials({ user, password, domain, otp }) {
  const body = { user, password, user_domain_name: domain || "Default" };
  if (otp !== undefined && otp !== null && String(otp).trim() !== "") body.otp = String(otp).trim();
  return body;
}

/**
 * @param {{ baseUrl: string | URL, lang?: string, fetch?: typeof fetch,
 *   unreachableMessage?: string }} options baseUrl is where /v1/ lives (the portal passes
 *   new URL("../", location.href) so that a reverse proxy's path prefix is kept).
 */
export function createBrokerClient(options) {
  const base = new URL(options.baseUrl);
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const unreachable = options.unreachableMessage ?? "The broker cannot be reached. Try again later.";

  async function post(path, body, token) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (options.lang) headers["Accept-Language"] = options.lang;
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await doFetch(new URL(`v1/${path}/`, base), {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (err) {
      throw new PortalError(UNREACHABLE, unreachable, { reason: String(err?.message ?? err) });
    }
    let json;
    try {
      json = await res.json();
    } catch {
      throw new PortalError(UNREACHABLE, unreachable, { reason: `HTTP ${res.status} without JSON` });
    }
    if (json?.error && typeof json.error.code === "number") {
      const e = json.error;
      throw new PortalError(e.code, e.message, e.data ?? {}, Array.isArray(json.steps) ? json.steps : []);
    }
    if (!res.ok) throw new PortalError(UNREACHABLE, unreachable, { reason: `HTTP ${res.status}` });
    return { json, headers: res.headers };
  }

  return {
    /** The user's TRS project names (27 when a one-time code is needed). */
    async getProjects(creds) {
      const { json } = await post("get-projects", credentials(creds));
      return Array.isArray(json.projects) ? json.projects : [];
    },

    /** Starts an allocation: the request id, the user's token and a password warning (19). */
    async requestVm(creds, extra = {}) {
      const body = { ...credentials(creds) };
      for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== "") body[k] = v;
      const { json, headers } = await post("request-vm", body);
      const token = headers.get("x-auth-token");
      if (!token || !json.request_id) throw new PortalError(1, "The broker answered without a request id.");
      return { requestId: json.request_id, token, warning: json.warning ?? null };
    },

    /** One look at a request: {status, message, server, steps}; a failed request throws. */
    async getVm(token, requestId) {
      return (await post("get-vm", { request: requestId }, token)).json;
    },

    /**
     * Polls get-vm until the request completes (answers its last state) or fails (throws its
     * PortalError, with the steps). onUpdate sees every state; a few network failures in a
     * row are tolerated (a broker node restarting), more end the wait.
     */
    async waitForVm(token, requestId, { intervalMs = 1000, onUpdate, signal, maxNetworkFailures = 5 } = {}) {
      let failures = 0;
      for (;;) {
        let state;
        try {
          state = await this.getVm(token, requestId);
          failures = 0;
        } catch (err) {
          if (!(err instanceof PortalError) || err.code !== UNREACHABLE) throw err;
          if (++failures > maxNetworkFailures) throw err;
        }
        if (state) {
          onUpdate?.(state);
          if (state.status === "completed") return state;
        }
        await sleep(intervalMs, signal);
      }
    },

    /**
     * Opens the desktop of a completed request in the browser: {kind: "gateway", ticket, path}
     * (a single-use ticket for the broker's WebSocket gateway) or {kind: "nova", url} (Nova's
     * own console page). `client` is {os, client} for the session the connection records.
     */
    async consoleTicket(token, requestId, client = {}) {
      const body = { request: requestId };
      if (client.os) body.os = String(client.os).slice(0, 255);
      if (client.client) body.client = String(client.client).slice(0, 255);
      return (await post("console-ticket", body, token)).json;
    },

    async changePassword({ user, domain, password, newPassword }) {
      const { json } = await post("change-password", {
        user,
        user_domain_name: domain || "Default",
        password,
        new_password: newPassword,
      });
      return json.message;
    },
  };
}

/** The first port of a connTypes entry ("5900-5999" → 5900), or the usual one. */
function firstPort(ports, fallback) {
  const n = Number.parseInt(String(ports?.[0] ?? ""), 10);
  return Number.isFinite(n) ? n : fallback;
}

const hostPort = (ip, port) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * How to reach the desktop for a connection type: [{kind: "link"|"command", text, href?}].
 * `ports` is the broker's connTypes (portal config.json); `user` goes into the ssh line.
 */
export function connectionHints(connType, ip, { ports = {}, user } = {}) {
  const p = (type, fallback) => firstPort(ports[type], fallback);
  switch (connType) {
    case "ssh": {
      const port = p("ssh", 22);
      const who = user ? `${user}@${ip}` : ip;
      return [
        { kind: "command", text: port === 22 ? `ssh ${who}` : `ssh -p ${port} ${who}` },
        { kind: "link", text: `ssh://${who}`, href: `ssh://${user ? `${user}@` : ""}${hostPort(ip, port)}` },
      ];
    }
    case "vnc":
    case "rsclient": {
      const port = p(connType, 5900);
      return [
        { kind: "link", text: `vnc://${hostPort(ip, port)}`, href: `vnc://${hostPort(ip, port)}` },
        { kind: "command", text: `vncviewer ${hostPort(ip, port)}` },
      ];
    }
    case "spice": {
      const port = p("spice", 5900);
      return [
        { kind: "link", text: `spice://${hostPort(ip, port)}`, href: `spice://${hostPort(ip, port)}` },
        { kind: "command", text: `remote-viewer spice://${hostPort(ip, port)}` },
      ];
    }
    case "web":
      // A browser client of the operator's own: nothing to open from here but the address.
      return [];
    default: {
      const port = p("rdp", 3389);
      const target = port === 3389 ? ip : hostPort(ip, port);
      return [
        {
          kind: "link",
          text: `rdp://full address=s:${target}`,
          href: `rdp://full%20address=s:${target}`,
        },
        { kind: "command", text: `mstsc /v:${target}` },
        { kind: "command", text: `xfreerdp /v:${target}` },
      ];
    }
  }
}

/**
 * Files a desktop client opens directly: [{name, type, content}]. rdp: an .rdp file for mstsc,
 * xfreerdp and Remmina; spice: a virt-viewer .vv file for remote-viewer. Other types have a
 * link or a command instead (connectionHints).
 */
export function connectionFiles(connType, ip, { ports = {}, user, name = "desktop" } = {}) {
  const p = (type, fallback) => firstPort(ports[type], fallback);
  const safe = String(name).replace(/[^A-Za-z0-9._-]+/g, "-") || "desktop";
  if (!ip) return [];
  if (connType === "rdp" || connType === undefined || connType === "" || connType === "none") {
    const port = p("rdp", 3389);
    const lines = [
      `full address:s:${port === 3389 ? ip : hostPort(ip, port)}`,
      "prompt for credentials:i:1",
      "screen mode id:i:2",
      "audiomode:i:0",
      "redirectclipboard:i:1",
    ];
    if (user) lines.push(`username:s:${user}`);
    return [{ name: `${safe}.rdp`, type: "application/x-rdp", content: `${lines.join("\r\n")}\r\n` }];
  }
  if (connType === "spice") {
    const lines = ["[virt-viewer]", "type=spice", `host=${ip}`, `port=${p("spice", 5900)}`, `title=${safe}`];
    lines.push("delete-this-file=1", "fullscreen=0");
    return [{ name: `${safe}.vv`, type: "application/x-virt-viewer", content: `${lines.join("\n")}\n` }];
  }
  return [];
}

/** A step's duration for people: "12 ms", "1.4 s", "2 min 5 s"; null while it runs. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
