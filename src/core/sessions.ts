// Sessions: one row per connection to an instance. API (admin routes, broker):
//   list(filter) / count(filter) / create(input, caller, isAdmin) / close(id, at)
//   page(filter, page) → one page after a marker / stream(filter, sort, onRows) → every match
//   record(input) → the session, for the broker after it hands out an address (no checks)
import { isIP } from "node:net";
import type { Config } from "../config/schema.ts";
import type { PageQuery } from "../shared/paging.ts";
import type { SessionPolicyRepository } from "../store/session-policy.ts";
import {
  SESSION_SORT_KEYS,
  type Session,
  type SessionFilter,
  type SessionRepository,
  STREAM_BATCH,
} from "../store/sessions.ts";

/** Records as the routes shape them. */
export type { Session, SessionFilter };
/** The keys GET /sessions/ sorts by. */
export const SESSION_SORTS: readonly string[] = SESSION_SORT_KEYS;

import type { AssignmentService } from "./assignments.ts";
import { conflict, forbidden, invalid, notFound } from "./errors.ts";
import type { Caller } from "./identity.ts";
import type { InstanceService } from "./instances.ts";
import type { UserResources } from "./user-resources.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SessionCreateInput {
  instance_id: string;
  conn_type?: string | null;
  client_ip?: string | null;
  client_os?: string | null;
  client_info?: string | null;
}

export interface SessionRecordInput {
  instanceId: string;
  userId: string;
  userName: string | null;
  connType: string | null;
  clientIp?: string | null;
  clientOs?: string | null;
  clientInfo?: string | null;
  requestId?: string | null;
  ruleIds?: string[];
}

export class SessionService {
  constructor(
    private readonly d: {
      config: Config;
      sessions: SessionRepository;
      instanceService: InstanceService;
      assignments: AssignmentService;
      /** Removes the client rules a closed session opened. */
      resources: Pick<UserResources, "sweepRules">;
      /** Where a client's activity and disconnection reports go (session policies). */
      reports: Pick<SessionPolicyRepository, "report">;
    },
  ) {}

  list(filter: SessionFilter): Promise<Session[]> {
    return this.d.sessions.list(filter);
  }

  count(filter: SessionFilter): Promise<number> {
    return this.d.sessions.count(filter);
  }

  /** One page after `page.marker` (which must be a session's id: else invalid). */
  async page(filter: SessionFilter, page: PageQuery): Promise<Session[]> {
    const rows = await this.d.sessions.page(filter, page);
    if (!rows) throw invalid(`marker ${page.marker} is not a session`);
    return rows;
  }

  /** Every match, a batch at a time from one database cursor (onRows false: stop). */
  stream(
    filter: SessionFilter,
    sort: Pick<PageQuery, "sortKey" | "sortDir">,
    onRows: (rows: Session[]) => Promise<boolean>,
  ): Promise<void> {
    return this.d.sessions.stream(filter, sort, STREAM_BATCH, onRows);
  }

  /** conn_type values are the configured connection types (web, rsclient, rdp, vnc, spice, ssh). */
  checkConnType(connType: string | null | undefined): void {
    if (connType == null) return;
    const known = Object.keys(this.d.config.connTypes);
    if (!known.includes(connType)) throw invalid(`conn_type must be one of ${known.join(", ")}`);
  }

  /** An admin records a session on any instance; a user only on one assigned to them. */
  async create(input: SessionCreateInput, caller: Caller, isAdmin: boolean): Promise<Session> {
    this.checkConnType(input.conn_type);
    if (input.client_ip != null && isIP(input.client_ip) === 0) {
      throw invalid("client_ip must be an IPv4 or IPv6 address");
    }
    const instance = await this.d.instanceService.require(input.instance_id).catch(() => {
      throw isAdmin
        ? notFound(`TRS instance ${input.instance_id} not found`)
        : forbidden("Not assigned to this instance");
    });
    if (!isAdmin && !(await this.d.assignments.isAssigned(instance.id, caller.userId))) {
      throw forbidden("Not assigned to this instance");
    }
    const rec: SessionRecordInput = {
      instanceId: instance.id,
      userId: caller.userId,
      userName: caller.userName,
      connType: input.conn_type ?? null,
      clientIp: input.client_ip,
      clientOs: input.client_os,
      clientInfo: input.client_info,
    };
    if (isAdmin) return this.record(rec);
    // A user's own records are bounded: they are the history admins read, not a store of theirs.
    const limit = this.d.config.sessions.userSessionsPerHour;
    const row = await this.d.sessions.insertBounded(
      this.rowOf(rec, instance),
      limit,
      new Date(Date.now() - 3600_000),
    );
    if (!row) throw invalid(`at most ${limit} sessions per instance and hour may be recorded`);
    return row;
  }

  async record(input: SessionRecordInput): Promise<Session> {
    const instance = await this.d.instanceService.require(input.instanceId);
    return this.d.sessions.insert(this.rowOf(input, instance));
  }

  private rowOf(input: SessionRecordInput, instance: { id: string; name: string | null; pool_id: string }) {
    return {
      id: crypto.randomUUID(),
      instance_id: instance.id,
      instance_name: instance.name,
      project_id: instance.pool_id,
      user_id: input.userId,
      user_name: input.userName,
      connection_type: input.connType,
      client_ip: input.clientIp ?? null,
      client_os: input.clientOs ?? null,
      client_info: input.clientInfo ?? null,
      request_id: input.requestId ?? null,
      rule_ids: JSON.stringify(input.ruleIds ?? []),
    };
  }

  /**
   * A client's report on its open session (session policies, core/session-policy.ts): it was
   * active at `activeAt`, or disconnected at `disconnectedAt` (null: connected again). Same
   * access as closing; a closed session takes no report (409).
   */
  async report(
    id: string,
    report: { activeAt?: Date; disconnectedAt?: Date | null },
    caller?: Caller,
    isAdmin = true,
  ): Promise<Session> {
    const existing = UUID.test(id) ? await this.d.sessions.get(id) : undefined;
    if (!existing || (!isAdmin && existing.user_id !== caller?.userId))
      throw notFound(`Session ${id} not found`);
    for (const at of [report.activeAt, report.disconnectedAt])
      if (at && at < existing.created_at) throw invalid("a reported time is before the session was created");
    const state = await this.d.reports.report(id, report);
    if (state === "closed") throw conflict(`Session ${id} is closed`);
    if (state === "unknown") throw notFound(`Session ${id} not found`);
    return (await this.d.sessions.get(id)) as Session;
  }

  /**
   * Closes a session (at `at`, default now); closing it again moves the time. An admin closes
   * any session; a user only their own (another's is a 404, as if it did not exist).
   */
  async close(id: string, at: Date = new Date(), caller?: Caller, isAdmin = true): Promise<Session> {
    // Session ids are UUIDs: anything else names no session.
    const existing = UUID.test(id) ? await this.d.sessions.get(id) : undefined;
    if (!existing || (!isAdmin && existing.user_id !== caller?.userId))
      throw notFound(`Session ${id} not found`);
    if (at < existing.created_at) throw invalid("closed_at is before the session was created");
    const skew = this.d.config.sessions.closeSkewSeconds;
    if (at.getTime() > Date.now() + skew * 1000)
      throw invalid(`closed_at is in the future (more than ${skew} s from now)`);
    const closed = await this.d.sessions.close(id, at);
    if (!closed) throw notFound(`Session ${id} not found`);
    // The client's address loses its way in now, not at the broker's next sweep.
    const ruleIds = (closed.rule_ids ?? []) as string[];
    if (ruleIds.length > 0) await this.d.resources.sweepRules(id, ruleIds);
    return closed;
  }
}
