// The audit trail's records (migration 090; append-only: the database refuses UPDATE, DELETE
// and TRUNCATE). API: append(event) / list(filter) newest first.
import { type Kysely, type Selectable, sql } from "kysely";
import type { Filter } from "../shared/types.ts";
import { filterCondition } from "./filters.ts";
import type { AuditEventsTable, Database } from "./schema.ts";

export type AuditEvent = Selectable<AuditEventsTable>;

export interface NewAuditEvent {
  userId: string | null;
  userName: string | null;
  domainId: string | null;
  method: string;
  route: string;
  target: Record<string, string>;
  changedKeys: string[];
  changedValues: Record<string, unknown>;
  clientIp: string | null;
  status: number;
  requestId: string | null;
}

/** Columns the modifier filters may name; `target` matches the target ids' text. */
export const AUDIT_FILTER_FIELDS = [
  "user_id",
  "user_name",
  "method",
  "route",
  "status",
  "client_ip",
  "target",
  "changed_keys",
  "request_id",
] as const;

export interface AuditFilter {
  /** Modifier filters on AUDIT_FILTER_FIELDS. */
  filters: Filter[];
  /** Time bounds on `at` (op gt, gte, lt, lte, eq). */
  at: { op: "gt" | "gte" | "lt" | "lte" | "eq"; value: Date }[];
  /** Only events older than this one (its id): the cursor that pages through the trail. */
  beforeId?: string;
  limit: number;
}

const AT_OPS = { gt: ">", gte: ">=", lt: "<", lte: "<=", eq: "=" } as const;

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async append(e: NewAuditEvent): Promise<void> {
    await this.db
      .insertInto("audit_events")
      .values({
        user_id: e.userId,
        user_name: e.userName,
        domain_id: e.domainId,
        method: e.method,
        route: e.route,
        target: JSON.stringify(e.target),
        changed_keys: JSON.stringify(e.changedKeys),
        changed_values: JSON.stringify(e.changedValues),
        client_ip: e.clientIp,
        status: e.status,
        request_id: e.requestId,
      })
      .execute();
  }

  async list(filter: AuditFilter): Promise<AuditEvent[]> {
    let q = this.db.selectFrom("audit_events").selectAll();
    for (const f of filter.filters) {
      if (!(AUDIT_FILTER_FIELDS as readonly string[]).includes(f.field)) continue;
      q = q.where((eb) => filterCondition(eb, sql.ref(f.field), f));
    }
    for (const b of filter.at) q = q.where("at", AT_OPS[b.op], b.value);
    if (filter.beforeId !== undefined) q = q.where(sql<string>`id`, "<", filter.beforeId);
    return q.orderBy("at", "desc").orderBy("id", "desc").limit(filter.limit).execute();
  }
}
