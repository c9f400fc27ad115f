// Session records: who connected to which instance, from where, with what client, and when
// it opened and closed. API (used by the admin core and the broker):
//   insert(row) → the session / insertBounded(row, limit, since) / get(id) / list(filter) / count(filter)
//   page(filter, page) → one page by keyset (undefined: unknown marker)
//   stream(filter, sort, batch, onRows) → every match through a server-side cursor
//   close(id, at) → the closed session (undefined when unknown) / openOf(instanceId)
import type { Expression, Insertable, Kysely, Selectable, SqlBool } from "kysely";
import { CompiledQuery, sql } from "kysely";
import type { PageQuery, TimeFilter } from "../shared/paging.ts";
import type { Filter } from "../shared/types.ts";
import { filterSql, keysetAfter } from "./filters.ts";
import type { Database, SessionsTable } from "./schema.ts";

export type Session = Selectable<SessionsTable>;
export type NewSession = Insertable<SessionsTable>;

export interface SessionFilter {
  /** Modifier filters on user_id, user_name, instance_id. */
  filters?: Filter[];
  instanceName?: string;
  projectId?: string;
  connectionType?: string;
  /** Only the latest session of each instance. */
  last?: boolean;
  /** created_at / closed_at ranges. */
  times?: TimeFilter[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MODIFIABLE = new Set(["user_id", "user_name", "instance_id"]);
const TIME_COLUMNS = new Set(["created_at", "closed_at"]);

/**
 * The keys a list sorts by: API name → the columns of the order (each key's own index: a
 * page is one index range). Only the first may be null; the id ends each (a total order).
 */
const SORTS: Record<string, readonly string[]> = {
  created_at: ["created_at", "id"],
  closed_at: ["closed_at", "id"],
  user_id: ["user_id", "created_at", "id"],
  user_name: ["user_name", "created_at", "id"],
  instance_id: ["instance_id", "created_at", "id"],
  session_id: ["id"],
};
const NULLABLE = new Set(["closed_at", "user_name"]);
export const SESSION_SORT_KEYS = Object.keys(SORTS);

/** Rows a whole-list cursor fetches at a time. */
export const STREAM_BATCH = 500;

export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: NewSession): Promise<Session> {
    return this.db.insertInto("sessions").values(row).returningAll().executeTakeFirstOrThrow();
  }

  /**
   * Inserts the session unless its user already recorded `limit` on its instance since `since`
   * (answers undefined then). One user's concurrent inserts on one instance take turns (an
   * advisory lock in the transaction), so the bound holds under any race.
   */
  async insertBounded(row: NewSession, limit: number, since: Date): Promise<Session | undefined> {
    return this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`session:${row.user_id}:${row.instance_id}`}))`.execute(
        trx,
      );
      const recent = await trx
        .selectFrom("sessions")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", row.user_id)
        .where("instance_id", "=", row.instance_id)
        .where("created_at", ">=", since)
        .executeTakeFirstOrThrow();
      if (Number(recent.n) >= limit) return undefined;
      return trx.insertInto("sessions").values(row).returningAll().executeTakeFirstOrThrow();
    });
  }

  async get(id: string): Promise<Session | undefined> {
    return this.db.selectFrom("sessions").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The sessions matching the filters (the alias names the table in the query). */
  /** The filters as one condition on the sessions under `alias`. */
  private condition(filter: SessionFilter, alias: "s" | "l") {
    const col = (name: string) => sql.ref(`${alias}.${name}`);
    const parts: Expression<SqlBool>[] = [];
    for (const f of filter.filters ?? []) {
      if (MODIFIABLE.has(f.field)) parts.push(filterSql(col(f.field), f));
    }
    if (filter.instanceName !== undefined)
      parts.push(sql<SqlBool>`${col("instance_name")} = ${filter.instanceName}`);
    if (filter.projectId !== undefined) parts.push(sql<SqlBool>`${col("project_id")} = ${filter.projectId}`);
    if (filter.connectionType !== undefined)
      parts.push(sql<SqlBool>`${col("connection_type")} = ${filter.connectionType}`);
    for (const t of filter.times ?? []) {
      if (!TIME_COLUMNS.has(t.field)) continue;
      const op = { gt: ">", gte: ">=", lt: "<", lte: "<=" }[t.op];
      parts.push(sql<SqlBool>`${col(t.field)} ${sql.raw(op)} ${t.at}::timestamptz`);
    }
    return parts.length === 0 ? sql<SqlBool>`true` : sql<SqlBool>`(${sql.join(parts, sql` AND `)})`;
  }

  private matching(filter: SessionFilter, alias: "s" | "l") {
    return this.db.selectFrom(`sessions as ${alias}`).where(this.condition(filter, alias));
  }

  /**
   * Whether the latest session of each instance among the matches is the latest of each
   * instance that has a match: the filters are on the instance (its id, its pool), not on the
   * session, so session_latest (kept by the triggers of migration 074) answers.
   */
  private latestKept(filter: SessionFilter): boolean {
    return (
      (filter.filters ?? []).every((f) => f.field === "instance_id") &&
      (filter.times ?? []).length === 0 &&
      filter.instanceName === undefined &&
      filter.connectionType === undefined
    );
  }

  /**
   * The kept latest sessions (session_latest, filtered on its own instance_id and project_id),
   * optionally already cut to a page by their created_at and id, each then read by its
   * primary key: a page of the latest sessions of a pool reads `limit` sessions, not one per
   * instance.
   */
  private latest(filter: SessionFilter, page?: PageQuery) {
    let x = this.db.selectFrom("session_latest as x").selectAll("x");
    if (filter.projectId !== undefined) x = x.where("x.project_id", "=", filter.projectId);
    for (const f of filter.filters ?? [])
      if (f.field === "instance_id") x = x.where(filterSql(sql.ref("x.instance_id"), f));
    if (page) {
      const op = sql.raw(page.sortDir === "asc" ? ">" : "<");
      const m = sql`${page.marker}::uuid`;
      if (page.marker !== undefined)
        x = x.where(
          page.sortKey === "session_id"
            ? sql<SqlBool>`x.session_id ${op} ${m}`
            : sql<SqlBool>`(x.created_at, x.session_id) ${op} ((SELECT created_at FROM sessions WHERE id = ${m}), ${m})`,
        );
      if (page.sortKey !== "session_id") x = x.orderBy("x.created_at", page.sortDir);
      x = x.orderBy("x.session_id", page.sortDir);
      if (page.limit !== undefined) x = x.limit(page.limit);
    }
    // LIMIT 1 keeps the planner from hashing the whole sessions table to join them.
    return this.db.selectFrom(x.as("x")).innerJoinLateral(
      (eb) =>
        eb.selectFrom("sessions as l").selectAll("l").whereRef("l.id", "=", "x.session_id").limit(1).as("s"),
      (join) => join.onTrue(),
    ) as unknown as ReturnType<SessionRepository["matching"]>;
  }

  /** A page of the latest sessions cut in session_latest (sorted by created_at or the id). */
  private latestPaged(filter: SessionFilter, sortKey: string): boolean {
    return !!filter.last && this.latestKept(filter) && (sortKey === "created_at" || sortKey === "session_id");
  }

  private base(filter: SessionFilter) {
    if (!filter.last) return this.matching(filter, "s");
    if (this.latestKept(filter)) return this.latest(filter);
    // The latest session of each instance among those matching the filters: the instances
    // found by skipping through the (instance_id, created_at, id) index (one probe each, not
    // a scan of every session), then each one's newest match read backwards from that index.
    const instanceIds = sql<{ instance_id: string }>`(
      WITH RECURSIVE ids(instance_id) AS (
        (SELECT instance_id FROM sessions ORDER BY instance_id LIMIT 1)
        UNION ALL
        SELECT (SELECT n.instance_id FROM sessions n WHERE n.instance_id > ids.instance_id
                ORDER BY n.instance_id LIMIT 1)
        FROM ids WHERE ids.instance_id IS NOT NULL
      )
      SELECT instance_id FROM ids WHERE instance_id IS NOT NULL)`;
    return this.db.selectFrom(instanceIds.as("ids")).innerJoinLateral(
      () =>
        this.matching(filter, "l")
          .selectAll("l")
          .where(sql<boolean>`l.instance_id = ids.instance_id`)
          .orderBy(sql.ref("l.created_at"), "desc")
          .orderBy(sql.ref("l.id"), "desc")
          .limit(1)
          .as("s"),
      (join) => join.onTrue(),
    ) as unknown as ReturnType<SessionRepository["matching"]>;
  }

  /** Every match, newest first (what the reference answers). */
  async list(filter: SessionFilter = {}): Promise<Session[]> {
    return this.ordered(filter, { sortKey: "created_at", sortDir: "desc" }).execute();
  }

  private ordered(filter: SessionFilter, sort: Pick<PageQuery, "sortKey" | "sortDir">) {
    let q = this.base(filter).selectAll("s");
    for (const c of SORTS[sort.sortKey] ?? SORTS.created_at) q = q.orderBy(sql.ref(`s.${c}`), sort.sortDir);
    return q;
  }

  /**
   * One page: the matches after the marker in the sort order, at most `limit`. The order is
   * the key's columns in one direction, nulls last ascending and first descending
   * (PostgreSQL's), so that a row comparison on the key's index answers it. Undefined when
   * the marker is no session.
   */
  async page(filter: SessionFilter, page: PageQuery): Promise<Session[] | undefined> {
    const columns = SORTS[page.sortKey] ?? SORTS.created_at;
    if (this.latestPaged(filter, page.sortKey)) {
      if (page.marker !== undefined && !(UUID.test(page.marker) && (await this.get(page.marker))))
        return undefined;
      let q = this.latest(filter, page).selectAll("s");
      for (const c of columns) q = q.orderBy(sql.ref(`s.${c}`), page.sortDir);
      return q.execute();
    }
    let q = this.ordered(filter, page);
    if (page.marker !== undefined) {
      if (!UUID.test(page.marker)) return undefined;
      const [first, ...rest] = columns;
      const marker = await this.db
        .selectFrom("sessions")
        .select(sql<boolean>`${sql.ref(first)} IS NULL`.as("key_null"))
        .where("id", "=", page.marker)
        .executeTakeFirst();
      if (!marker) return undefined;
      const asc = page.sortDir === "asc";
      const after = (cols: readonly string[]) =>
        keysetAfter("sessions", "s", cols, "id", page.marker!, page.sortDir);
      if (!NULLABLE.has(first)) q = q.where(() => after(columns));
      else if (marker.key_null) {
        // Nulls come last ascending (only nulls follow), first descending (then every value).
        const key = sql.ref(`s.${first}`);
        q = asc
          ? q.where(sql<boolean>`${key} IS NULL`).where(() => after(rest))
          : q.where((eb) => eb.or([sql<boolean>`${key} IS NOT NULL`, after(rest)]));
      } else {
        const key = sql.ref(`s.${first}`);
        q = asc
          ? q.where((eb) => eb.or([after(columns), sql<boolean>`${key} IS NULL`]))
          : q.where(() => after(columns));
      }
    }
    if (page.limit !== undefined) q = q.limit(page.limit);
    return q.execute();
  }

  /**
   * Every match in the sort order, read through a server-side cursor `batch` rows at a time
   * in one read-only transaction (one snapshot), so that memory holds one batch, not the
   * table. `onRows` answers false to stop early (the client went away).
   */
  async stream(
    filter: SessionFilter,
    sort: Pick<PageQuery, "sortKey" | "sortDir">,
    batch: number,
    onRows: (rows: Session[]) => Promise<boolean>,
  ): Promise<void> {
    const query = this.ordered(filter, sort).compile();
    await this.db.connection().execute(async (conn) => {
      await sql`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`.execute(conn);
      try {
        // Every row will be read: plan for all of them, not for the first 10% (the cursor
        // default, which walks the time index past a million rows to find a rare match).
        await sql`SET LOCAL cursor_tuple_fraction = 1.0`.execute(conn);
        await conn.executeQuery(
          CompiledQuery.raw(`DECLARE rs_list NO SCROLL CURSOR FOR ${query.sql}`, [...query.parameters]),
        );
        const fetch = CompiledQuery.raw(`FETCH ${Math.max(1, Math.floor(batch))} FROM rs_list`);
        for (;;) {
          const { rows } = await conn.executeQuery<Session>(fetch);
          if (rows.length === 0 || !(await onRows(rows)) || rows.length < batch) break;
        }
        await sql`COMMIT`.execute(conn);
      } catch (err) {
        await sql`ROLLBACK`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Without filters but the pool, the connection type and a created_at range, the counters
   * the triggers of migration 073 keep per UTC day (no scan of the table); otherwise a count
   * of the matches.
   */
  async count(filter: SessionFilter = {}): Promise<number> {
    const times = filter.times ?? [];
    const lower = times.filter((t) => t.field === "created_at" && (t.op === "gt" || t.op === "gte"));
    const upper = times.filter((t) => t.field === "created_at" && (t.op === "lt" || t.op === "lte"));
    const countable =
      !filter.last &&
      (filter.filters ?? []).length === 0 &&
      filter.instanceName === undefined &&
      lower.length <= 1 &&
      upper.length <= 1 &&
      lower.length + upper.length === times.length;
    if (!countable) return this.countRows(filter);
    // Whole UTC days inside the range from the counters; the part-days at its ends (at most
    // one day each) counted in the rows through the created_at index.
    const DAY = 86400_000;
    const floorDay = (at: string) => Math.floor(new Date(at).getTime() / DAY) * DAY;
    const from = lower.length ? floorDay(lower[0].at) + DAY : undefined;
    const to = upper.length ? floorDay(upper[0].at) : undefined;
    if (from !== undefined && to !== undefined && from >= to) return this.countRows(filter);
    const iso = (ms: number) => new Date(ms).toISOString();
    let q = this.db.selectFrom("session_counts").select(sql<string>`coalesce(sum(n), 0)`.as("n"));
    if (filter.projectId !== undefined) q = q.where("project_id", "=", filter.projectId);
    if (filter.connectionType !== undefined) q = q.where("connection_type", "=", filter.connectionType);
    if (from !== undefined) q = q.where("day", ">=", iso(from).slice(0, 10));
    if (to !== undefined) q = q.where("day", "<", iso(to).slice(0, 10));
    const edge = (op: "lt" | "gte", ms: number) =>
      this.countRows({ ...filter, times: [...times, { field: "created_at", op, at: iso(ms) }] });
    const [days, head, tail] = await Promise.all([
      q.executeTakeFirstOrThrow().then((r) => Number(r.n)),
      from !== undefined ? edge("lt", from) : 0,
      to !== undefined ? edge("gte", to) : 0,
    ]);
    return days + head + tail;
  }

  /**
   * Folds the counter slots of days before today (one per database connection, migration 097)
   * into slot 0 of their day; answers how many slot rows it folded.
   */
  async foldCountSlots(): Promise<number> {
    const { rows } = await sql<{ n: number }>`
      WITH gone AS (
        DELETE FROM session_counts WHERE slot <> 0 AND day < (now() AT TIME ZONE 'UTC')::date
        RETURNING project_id, connection_type, day, n
      ), kept AS (
        INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
        SELECT project_id, connection_type, day, 0, sum(n) FROM gone GROUP BY 1, 2, 3
        ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n
      )
      SELECT count(*)::int AS n FROM gone`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  private async countRows(filter: SessionFilter): Promise<number> {
    if (filter.last && this.latestKept(filter)) {
      // One kept row per instance: counted without reading the sessions.
      let x = this.db.selectFrom("session_latest as x").select((eb) => eb.fn.countAll<number>().as("n"));
      if (filter.projectId !== undefined) x = x.where("x.project_id", "=", filter.projectId);
      for (const f of filter.filters ?? [])
        if (f.field === "instance_id") x = x.where(filterSql(sql.ref("x.instance_id"), f));
      return Number((await x.executeTakeFirstOrThrow()).n);
    }
    const row = await this.base(filter)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async close(id: string, at: Date): Promise<Session | undefined> {
    return this.db
      .updateTable("sessions")
      .set({ closed_at: at })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Open sessions of an instance (the instance is going away, or its user changes). */
  async openOf(instanceId: string): Promise<Session[]> {
    return this.db
      .selectFrom("sessions")
      .selectAll()
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();
  }
}
