// The web desktop's gateway: a WebSocket at /v1/console-gateway?ticket=T on the broker that
// carries the browser's noVNC to the desktop's VNC server, byte for byte (RFB over binary
// frames, as websockify does). The upgrade is refused, before anything is connected, unless
// the page's Origin is one of ours and the ticket redeems (one use, unexpired); the TCP
// connection then goes to the host and port the ticket was bound to from our records, never
// to anything the URL says. Each connection is a session (conn_type web) closed when either
// side ends. The connection limits are this process's (core/console-tickets.ts).
import type { IncomingMessage, Server } from "node:http";
import { BlockList, connect, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream";
import type { Logger } from "pino";
import { createWebSocketStream, type WebSocket, WebSocketServer } from "ws";
import type { Config } from "../config/schema.ts";
import type { ConsoleBinding, ConsoleCore } from "../core/console-tickets.ts";

export const GATEWAY_PATH = "/v1/console-gateway";
/** How long the desktop's VNC port may take to accept the connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** The browser's input is noted as the session's activity at most this often (the idle policy counts minutes). */
const ACTIVITY_EVERY_MS = 60_000;
/** A noVNC frame is at most a screen update; anything larger is not RFB from a browser. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface GatewayDeps {
  config: Config;
  console: ConsoleCore;
  logger: Logger;
}

export interface Gateway {
  /** Ends every connection (the broker is stopping) and waits for their sessions to be closed. */
  close(): Promise<void>;
  /** Open connections of this gateway (tests, metrics). */
  size(): number;
}

function refuse(socket: Duplex, status: number, text: string, message: string) {
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(message)}\r\nCache-Control: no-store\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}

/** scheme://host[:port] of a configured or sent origin, lowercased; undefined when it is not one. */
export function normalOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Browsers send the page's Origin with every WebSocket handshake and let no page forge it:
 * checking it is what stops another site's page from using a ticket it got hold of (or
 * riding a user's network position). Allowed: the configured origins, and (sameHostOrigin)
 * the host the handshake was sent to, i.e. the portal served by this broker.
 */
export function originAllowed(
  config: Config["console"],
  origin: string | undefined,
  host: string | undefined,
) {
  const sent = origin ? normalOrigin(origin) : undefined;
  if (!sent) return false;
  if (config.allowedOrigins.some((o) => normalOrigin(o) === sent)) return true;
  return config.sameHostOrigin && !!host && new URL(sent).host === host.toLowerCase();
}

function trustedProxies(list: string[]): BlockList {
  const trusted = new BlockList();
  for (const entry of list) {
    const [addr, bits] = entry.split("/");
    const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
    if (isIP(addr) === 0) continue;
    if (bits === undefined) trusted.addAddress(addr, family);
    else trusted.addSubnet(addr, Number(bits), family);
  }
  return trusted;
}

/** The client's address: the peer, or through trusted proxies the first untrusted X-Forwarded-For hop. */
export function clientAddress(req: IncomingMessage, trusted: BlockList): string | null {
  const plain = (a: string | undefined) => (a?.startsWith("::ffff:") ? a.slice(7) : a);
  let addr = plain(req.socket.remoteAddress);
  const forwarded = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(forwarded) ? forwarded.join(",") : (forwarded ?? ""))
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const family = (a: string) => (isIP(a) === 6 ? "ipv6" : "ipv4");
  while (addr && isIP(addr) && trusted.check(addr, family(addr)) && hops.length) {
    addr = plain(hops.pop());
  }
  return addr && isIP(addr) ? addr : null;
}

function connectTo(binding: ConsoleBinding): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = connect({ host: binding.host, port: binding.port });
    const timer = setTimeout(
      () => tcp.destroy(new Error("the desktop did not answer in time")),
      CONNECT_TIMEOUT_MS,
    );
    tcp.once("connect", () => {
      clearTimeout(timer);
      tcp.setNoDelay(true);
      resolve(tcp);
    });
    tcp.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function attachConsoleGateway(server: Server, deps: GatewayDeps): Gateway {
  const { config, console: consoleCore } = deps;
  const log = deps.logger.child({ component: "console-gateway" });
  const trusted = trustedProxies(config.broker.trustedProxies);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    // noVNC asks for no subprotocol by default; older clients (websockify's) ask for "binary".
    handleProtocols: (protocols) => (protocols.has("binary") ? "binary" : false),
  });
  /** Open connections, each with the function that ends it (both sockets, slot, session). */
  const open = new Map<WebSocket, () => void>();
  /** Session closes in flight: the broker's stop waits for them before the database goes. */
  const closing = new Set<Promise<void>>();

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? "/", "http://gateway.invalid");
    if (url.pathname.replace(/\/+$/, "") !== GATEWAY_PATH)
      return refuse(socket, 404, "Not Found", "not found");
    const peer = clientAddress(req, trusted);
    const refused = (status: number, text: string, reason: string, extra: Record<string, unknown> = {}) => {
      log.warn(
        { reason, client_ip: peer, origin: req.headers.origin, ...extra },
        "console connection refused",
      );
      refuse(socket, status, text, status === 403 ? "forbidden" : reason);
    };
    if (!originAllowed(config.console, req.headers.origin, req.headers.host)) {
      return refused(403, "Forbidden", "origin not allowed");
    }
    const ticket = url.searchParams.get("ticket") ?? "";
    const redeemed = await consoleCore.redeem(ticket);
    if (redeemed.kind !== "ok") return refused(403, "Forbidden", redeemed.reason);
    const binding = redeemed.binding;
    const slot = consoleCore.limiter.acquire(binding.userId);
    if (!slot.ok) {
      return refused(429, "Too Many Requests", `connection limit reached: ${slot.reason}`, {
        user_id: binding.userId,
      });
    }
    let tcp: Socket;
    try {
      tcp = await connectTo(binding);
    } catch (err) {
      slot.release();
      log.warn({ err, instance_id: binding.instanceId }, "console: the desktop's VNC port cannot be reached");
      return refuse(socket, 502, "Bad Gateway", "the desktop's VNC server cannot be reached");
    }
    if (socket.destroyed) {
      tcp.destroy();
      slot.release();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, tcp, binding, peer, slot.release));
  }

  function bridge(
    ws: WebSocket,
    tcp: Socket,
    binding: ConsoleBinding,
    peer: string | null,
    release: () => void,
  ) {
    const sessionId = consoleCore.connected(binding, peer).catch((err) => {
      log.error({ err, instance_id: binding.instanceId }, "console: cannot record the session");
      ws.close(1011, "session not recorded");
      return undefined;
    });
    log.info(
      { user_id: binding.userId, instance_id: binding.instanceId, client_ip: peer },
      "console connection opened",
    );
    const stream = createWebSocketStream(ws);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      open.delete(ws);
      release();
      tcp.destroy();
      stream.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      const done = sessionId
        .then(async (id) => {
          if (id) await consoleCore.disconnected(id);
          log.info(
            { user_id: binding.userId, instance_id: binding.instanceId, session_id: id },
            "console connection closed",
          );
        })
        .catch((err) => log.error({ err }, "console: cannot close the session"))
        .finally(() => closing.delete(done));
      closing.add(done);
    };
    open.set(ws, end);
    // Frames from the browser are its keyboard and mouse (and RFB's replies): activity.
    let noted = 0;
    ws.on("message", () => {
      const now = Date.now();
      if (now - noted < ACTIVITY_EVERY_MS) return;
      noted = now;
      void sessionId
        .then((id) => (id ? consoleCore.active(id) : undefined))
        .catch((err) => log.warn({ err }, "console: cannot note the session's activity"));
    });
    pipeline(stream, tcp, end);
    pipeline(tcp, stream, end);
    ws.once("close", end);
    tcp.once("close", end);
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    upgrade(req, socket, head).catch((err) => {
      log.error({ err }, "console gateway error");
      refuse(socket, 500, "Internal Server Error", "unexpected error");
    });
  };
  server.on("upgrade", onUpgrade);
  return {
    async close() {
      server.off("upgrade", onUpgrade);
      for (const end of [...open.values()]) end();
      wss.close();
      await Promise.allSettled([...closing]);
    },
    size: () => open.size,
  };
}
