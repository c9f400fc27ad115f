// Types that several layers share (routes, core, store), in a module that imports nothing:
// a filter parsed from a query string, a step of a broker request, the numbers /metrics
// reads. Each layer imports them from here instead of from the layer that first needed them.

/** The filter modifiers of the admin API's query strings (`param__modifier=value`). */
export const MODIFIERS = [
  "eq",
  "noteq",
  "contains",
  "notcontains",
  "in",
  "notin",
  "gt",
  "gte",
  "lt",
  "lte",
  "startswith",
  "notstartswith",
  "endswith",
  "notendswith",
] as const;
export type Modifier = (typeof MODIFIERS)[number];

/** One filter on a list: `field` compared with `values` by `op`. */
export interface Filter {
  field: string;
  op: Modifier;
  values: string[];
}

/** A step of a broker request (get-vm shows them; the allocation records them). */
export interface RequestStep {
  name: string;
  started_at: string;
  duration_ms: number | null;
  outcome: "ok" | "failed" | "running" | "skipped";
  /** In English. */
  detail?: string;
  /** The detail in other languages, for the portal and the dashboard (core/allocation/step-text.ts). */
  detail_translations?: { ru: string };
}

/** The numbers /metrics reads at scrape time (store/metrics.ts → core/metrics.ts). */
export interface MetricsSnapshot {
  pools: {
    id: string;
    name: string | null;
    free: number;
    /** min_reserve_vm: the target outside the schedule's windows. */
    target: number;
    backoff: boolean;
    /** Free instances still in BUILD. */
    building?: number;
    /** Live instances held by a user or a group. */
    inUse?: number;
    /** reserve_state: ok, backoff (the build circuit open), half_open... */
    state?: string;
    /** The reserve schedule as stored (core/reserve-schedule.ts), or null. */
    schedule?: unknown;
  }[];
  buildsInFlight: number;
  sessionsOpen: number;
  /** Tasks by state, PENDING and STARTED at least. */
  tasks: Record<string, number>;
  /** Sessions closed by a session policy, ever, per pool and reason (idle, disconnected, max_length). */
  closedByPolicy: { pool: string; reason: string; count: number }[];
  /** Drain per pool: the pool's flag and its instances set draining one by one (issue 16). */
  drain?: { id: string; draining: boolean; drainingInstances: number }[];
  /** Roll-outs in progress (running or paused): old and new instances of each pool. */
  rollouts?: { id: string; state: string; old: number; new: number }[];
  /** The periodic jobs: the end of the last run that did not fail (epoch seconds), failures in a row. */
  jobs?: { name: string; lastSucceeded: number | null; failures: number }[];
}

/**
 * A pool's operation mode, as the API writes it: Standard ("1", an instance holds one user)
 * or Simultaneous ("2", several users share an instance up to max_users_per_instance).
 */
export const OperationMode = { Standard: "1", Simultaneous: "2" } as const;
export type OperationMode = (typeof OperationMode)[keyof typeof OperationMode];

/** A key's failures in its open window (the rate limits: core/throttle.ts, store/rate-limits.ts). */
export interface ThrottleCount {
  key: string;
  count: number;
  retryAfterSeconds: number;
}
