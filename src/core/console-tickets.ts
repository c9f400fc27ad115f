// The web desktop's console access: a user with a completed request gets either a console
// ticket for the broker's gateway (the desktop's own VNC server) or, for pools that use Nova's
// console, the URL of Nova's proxy. The ticket is the only thing the gateway trusts: it names
// the user, the request, the instance and the one address and port the gateway may reach, all
// taken from our records when it is issued; the WebSocket URL can add nothing to it.
// API (the broker's console-ticket route and its gateway):
//   open(input) → ticket or Nova URL / redeem(ticket) → the binding, once
//   connected(binding, clientIp) → session id / disconnected(sessionId) / active(sessionId)
//   limiter: connections per user and in total, in this process
//   purgeExpired() → removes tickets expired an hour ago (a periodic job, src/composition.ts)
import { createHash, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { isCloudError } from "../cloud/http.ts";
import type { ConsoleTicket } from "../store/console-tickets.ts";
import type { AdminCore } from "./admin-core.ts";
import { BrokerCode, BrokerError } from "./broker-error.ts";
import type { CoreDeps } from "./deps.ts";
import { userResourcesOf } from "./user-resources.ts";

/** How a pool's desktops are reached from the browser. */
export const CONSOLE_KINDS = ["gateway", "nova-novnc", "nova-spice"] as const;
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];

export interface ConsoleOpenInput {
  userId: string;
  userName: string | null;
  requestId: string;
  clientOs?: string;
  clientInfo?: string;
}

export type ConsoleAccess =
  | { kind: "gateway"; ticket: string; expiresAt: Date; instanceId: string }
  | { kind: "nova"; protocol: "vnc" | "spice"; type: string; url: string; instanceId: string };

/** What a redeemed ticket allows: one connection to host:port, on behalf of the user. */
export interface ConsoleBinding {
  userId: string;
  userName: string | null;
  requestId: string;
  instanceId: string;
  host: string;
  port: number;
  clientOs: string | null;
  clientInfo: string | null;
}

export type RedeemResult = { kind: "ok"; binding: ConsoleBinding } | { kind: "refused"; reason: string };

export interface ConsoleCore {
  open(input: ConsoleOpenInput): Promise<ConsoleAccess>;
  redeem(ticket: string): Promise<RedeemResult>;
  /** Records the gateway connection as a session (conn_type web); answers its id. */
  connected(binding: ConsoleBinding, clientIp: string | null): Promise<string>;
  /** Closes that session (closed_at now). */
  disconnected(sessionId: string): Promise<void>;
  /** The browser sent input on that session: its activity for the idle policy (core/session-policy.ts). */
  active(sessionId: string): Promise<void>;
  /** Deletes tickets expired over an hour ago (a replay until then is logged as such). */
  purgeExpired(): Promise<void>;
  limiter: ConnectionLimiter;
}

/** 32 random bytes in base64url: 43 characters, nothing else is a ticket. */
const TICKET = /^[A-Za-z0-9_-]{43}$/;
const hashOf = (ticket: string) => createHash("sha256").update(ticket).digest("base64url");
/** Expired tickets are kept an hour (a replay is then logged as such), then deleted. */
const PURGE_AFTER_MS = 3600_000;

/**
 * Concurrent gateway connections in this process, per user and in total: a guard of this
 * process's sockets and memory (each connection is two sockets and their buffers), so it
 * counts what this process carries. acquire answers a release function, or why not.
 */
export class ConnectionLimiter {
  private total = 0;
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly maxPerUser: number,
    private readonly maxTotal: number,
  ) {}

  acquire(userId: string): { ok: true; release: () => void } | { ok: false; reason: string } {
    const mine = this.perUser.get(userId) ?? 0;
    if (this.total >= this.maxTotal) return { ok: false, reason: `${this.maxTotal} connections in total` };
    if (mine >= this.maxPerUser) return { ok: false, reason: `${this.maxPerUser} connections for this user` };
    this.total++;
    this.perUser.set(userId, mine + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perUser.get(userId) ?? 1) - 1;
        if (left > 0) this.perUser.set(userId, left);
        else this.perUser.delete(userId);
      },
    };
  }

  counts(): { total: number; users: number } {
    return { total: this.total, users: this.perUser.size };
  }
}

export function createConsoleCore(deps: CoreDeps, admin: AdminCore): ConsoleCore {
  const { config, cloud, logger } = deps;
  const { consoleTickets: tickets, requests } = deps.repos;
  const log = logger.child({ component: "console" });
  const resources = userResourcesOf(deps, log);
  const limiter = new ConnectionLimiter(config.console.maxConnectionsPerUser, config.console.maxConnections);

  /** The user's instance as our records have it now, or the broker error that says why not. */
  async function heldInstance(userId: string, requestId: string) {
    const request = await requests.get(requestId);
    if (!request) throw new BrokerError(BrokerCode.RequestNotFound, {}, `no request ${requestId}`);
    if (request.user_id !== userId)
      throw new BrokerError(
        BrokerCode.RequestOfAnotherUser,
        {},
        `request ${requestId} belongs to another user`,
      );
    if (request.status !== "completed" || !request.instance_id) {
      throw new BrokerError(BrokerCode.InvalidRequest, {
        reason: "the request has not completed: no desktop to open yet",
      });
    }
    const instance = await admin.repos.instances.get(request.instance_id);
    // A desktop released or given to someone else since the request is no longer this user's.
    if (!instance || !(await admin.assignments.isAssigned(instance.id, userId))) {
      throw new BrokerError(
        BrokerCode.RequestOfAnotherUser,
        {},
        `instance ${request.instance_id} is no longer assigned to the user`,
      );
    }
    const pool = await admin.repos.pools.get(instance.pool_id);
    if (!pool)
      throw new BrokerError(
        BrokerCode.RequestOfAnotherUser,
        {},
        `the pool of instance ${instance.id} is gone`,
      );
    return { request, instance, pool };
  }

  async function novaConsole(instanceId: string, protocol: "vnc" | "spice"): Promise<ConsoleAccess> {
    try {
      const rc = await cloud.nova.createRemoteConsole(instanceId, protocol);
      return { kind: "nova", protocol: rc.protocol, type: rc.type, url: rc.url, instanceId };
    } catch (err) {
      if (isCloudError(err, "conflict"))
        throw new BrokerError(BrokerCode.InstanceInvalidState, { instance_id: instanceId }, err.message);
      throw err;
    }
  }

  const core: ConsoleCore = {
    async open(input) {
      const { instance, pool } = await heldInstance(input.userId, input.requestId);
      const kind = pool.console_kind as ConsoleKind;
      if (kind === "nova-novnc") return novaConsole(instance.id, "vnc");
      if (kind === "nova-spice") return novaConsole(instance.id, "spice");
      // The address Neutron gave the instance's port, as the allocation recorded it: never an
      // address from the client.
      const host = instance.fixed_ip;
      if (!host || isIP(host) === 0) {
        throw new BrokerError(
          BrokerCode.NoInstanceIp,
          { instance_id: instance.id },
          "the instance has no recorded address",
        );
      }
      const ticket = randomBytes(32).toString("base64url");
      const expiresAt = await tickets.insert({
        hash: hashOf(ticket),
        userId: input.userId,
        userName: input.userName,
        requestId: input.requestId,
        instanceId: instance.id,
        host,
        port: pool.console_port ?? config.console.defaultPort,
        clientOs: input.clientOs ?? null,
        clientInfo: input.clientInfo ?? null,
        ttlSeconds: config.console.ticketTtlSeconds,
      });
      return { kind: "gateway", ticket, expiresAt, instanceId: instance.id };
    },

    async redeem(ticket) {
      if (!TICKET.test(ticket)) return { kind: "refused", reason: "not a ticket" };
      const outcome = await tickets.redeem(hashOf(ticket));
      if (outcome.kind !== "ok") return { kind: "refused", reason: `ticket ${outcome.kind}` };
      const t: ConsoleTicket = outcome.ticket;
      // Between issue and use (seconds) the desktop may have been released or readdressed:
      // the ticket only ever reaches what the records still say is the user's, at that address.
      const instance = await admin.repos.instances.get(t.instance_id);
      if (!instance || instance.fixed_ip !== t.host) {
        return { kind: "refused", reason: "the instance or its address changed" };
      }
      if (!(await admin.assignments.isAssigned(t.instance_id, t.user_id))) {
        return { kind: "refused", reason: "the instance is no longer assigned to the user" };
      }
      return {
        kind: "ok",
        binding: {
          userId: t.user_id,
          userName: t.user_name,
          requestId: t.request_id,
          instanceId: t.instance_id,
          host: t.host,
          port: t.port,
          clientOs: t.client_os,
          clientInfo: t.client_info,
        },
      };
    },

    async connected(binding, clientIp) {
      const session = await admin.sessions.record({
        instanceId: binding.instanceId,
        userId: binding.userId,
        userName: binding.userName,
        connType: "web",
        clientIp: clientIp && isIP(clientIp) ? clientIp : null,
        clientOs: binding.clientOs,
        clientInfo: binding.clientInfo,
        requestId: binding.requestId,
      });
      return session.id;
    },

    async active(sessionId) {
      await deps.repos.sessionPolicy.report(sessionId, { activeAt: new Date() });
    },

    async disconnected(sessionId) {
      // Closes it once: a session an admin closed meanwhile keeps the time the admin gave.
      if (!(await resources.closeSession(sessionId))) {
        log.info({ session_id: sessionId }, "console session was already closed");
      }
    },

    async purgeExpired() {
      await tickets.purgeExpired(new Date(Date.now() - PURGE_AFTER_MS));
    },

    limiter,
  };
  return core;
}
