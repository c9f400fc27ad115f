// Prometheus metrics of one process, in their own registry (never prom-client's global one,
// so that two runtimes in one test process do not collide). Counters and histograms are
// observed where things happen; gauges (reserve, builds, sessions, task queue) are read from
// the database at scrape time, so every process reports the shared truth.
//   metrics.observeAllocation(seconds, code)  → the broker, when a request-vm completes
//   metrics.reconcilerAction(kind)             → the reconciler
//   metrics.reserveCreate(poolId, n) / reserveFailure(poolId) → the reserve keeper
//   metrics.observeHttp(app, method, route, status, seconds)
//   metrics.render(snapshot)                   → the /metrics text
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { MetricsSnapshot } from "../shared/types.ts";
import { scheduleOf, targetInEffect } from "./reserve-schedule.ts";

export class Metrics {
  readonly registry = new Registry();
  private readonly reserveSize = new Gauge({
    name: "rs_reserve_free_instances",
    help: "Free instances (BUILD or ACTIVE, no user, no group) per pool.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly reserveTarget = new Gauge({
    name: "rs_reserve_target_instances",
    help: "The pool's reserve target in effect: its schedule's window's, else min_reserve_vm.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly reserveBuilding = new Gauge({
    name: "rs_reserve_building_instances",
    help: "Free instances of the pool still in BUILD.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly poolInUse = new Gauge({
    name: "rs_pool_instances_in_use",
    help: "Live instances of the pool held by a user or a group.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly reserveCircuit = new Gauge({
    name: "rs_reserve_circuit",
    help: "The pool's build circuit: 0 closed, 1 half-open (one probe build), 2 open (no builds: back-off).",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly reserveBackoffGauge = new Gauge({
    name: "rs_reserve_backoff",
    help: "1 while the pool's reserve backs off after failed builds.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly builds = new Gauge({
    name: "rs_builds_in_flight",
    help: "TRS instances in BUILD across every pool.",
    registers: [this.registry],
  });
  private readonly sessions = new Gauge({
    name: "rs_sessions_open",
    help: "Sessions not closed.",
    registers: [this.registry],
  });
  private readonly queue = new Gauge({
    name: "rs_task_queue_depth",
    help: "Tasks by state (PENDING and STARTED: not finished).",
    labelNames: ["state"],
    registers: [this.registry],
  });
  private readonly reserveCreated = new Counter({
    name: "rs_reserve_created_total",
    help: "Instances the reserve keeper asked Nova for.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly reserveFailures = new Counter({
    name: "rs_reserve_failures_total",
    help: "Reserve failures per pool: Nova refused a create, builds went to ERROR, or builds stuck in BUILD were removed.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly allocationLatency = new Histogram({
    name: "rs_allocation_duration_seconds",
    help: "From request-vm to the request completed (success or failure).",
    labelNames: ["code"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  private readonly allocations = new Counter({
    name: "rs_allocations_total",
    help: "Completed allocations by broker code (0 = success).",
    labelNames: ["code"],
    registers: [this.registry],
  });
  private readonly reconciler = new Counter({
    name: "rs_reconciler_actions_total",
    help: "Reconciler actions: gone, adopted, stuck_build, refreshed, session_closed.",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  /** Read from the sessions' records at scrape time: every process reports the shared count. */
  private readonly closedByPolicy = new Counter({
    name: "rs_sessions_closed_by_policy_total",
    help: "Sessions a pool's session policy closed, per pool and reason (idle, disconnected, max_length).",
    labelNames: ["pool", "reason"],
    registers: [this.registry],
  });
  private readonly poolDraining = new Gauge({
    name: "rs_pool_draining",
    help: "1 while the pool drains (no new allocation goes to it).",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly instancesDraining = new Gauge({
    name: "rs_instances_draining",
    help: "Live instances of the pool set draining one by one.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly rolloutInstances = new Gauge({
    name: "rs_rollout_instances",
    help: "Instances of a pool with a roll-out in progress, by image: old (still to replace) or new.",
    labelNames: ["pool", "image"],
    registers: [this.registry],
  });
  private readonly rolloutPaused = new Gauge({
    name: "rs_rollout_paused",
    help: "Per pool with a roll-out in progress: 1 while it is paused, 0 while it runs.",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  private readonly jobLastSuccess = new Gauge({
    name: "rs_job_last_success_timestamp_seconds",
    help: "When a periodic job's last run that did not fail ended (Unix time; 0: none yet). Alert on time() minus it.",
    labelNames: ["job"],
    registers: [this.registry],
  });
  private readonly jobFailures = new Gauge({
    name: "rs_job_failures",
    help: "Runs of a periodic job failed in a row since the last that did not.",
    labelNames: ["job"],
    registers: [this.registry],
  });
  private readonly http = new Histogram({
    name: "rs_http_request_duration_seconds",
    help: "HTTP latency by app, method, route and status.",
    labelNames: ["app", "method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  observeAllocation(seconds: number, code: number | string): void {
    const label = String(code);
    this.allocationLatency.observe({ code: label }, seconds);
    this.allocations.inc({ code: label });
  }

  reconcilerAction(kind: string, n = 1): void {
    if (n > 0) this.reconciler.inc({ kind }, n);
  }

  reserveCreate(poolId: string, n: number): void {
    if (n > 0) this.reserveCreated.inc({ pool: poolId }, n);
  }

  reserveFailure(poolId: string): void {
    this.reserveFailures.inc({ pool: poolId });
  }

  observeHttp(app: string, method: string, route: string, status: number, seconds: number): void {
    this.http.observe({ app, method, route, status: String(status) }, seconds);
  }

  /** The exposition text, with the gauges set from a fresh snapshot. */
  async render(
    snapshot: MetricsSnapshot,
    options: { leadSeconds?: number; now?: Date } = {},
  ): Promise<string> {
    this.reserveSize.reset();
    this.reserveTarget.reset();
    this.reserveBackoffGauge.reset();
    this.reserveBuilding.reset();
    this.poolInUse.reset();
    this.reserveCircuit.reset();
    const now = options.now ?? new Date();
    const leadMs = (options.leadSeconds ?? 0) * 1000;
    for (const p of snapshot.pools) {
      this.reserveSize.set({ pool: p.id }, p.free);
      const target = targetInEffect(scheduleOf(p.schedule), p.target, now, leadMs).target;
      this.reserveTarget.set({ pool: p.id }, target);
      this.reserveBackoffGauge.set({ pool: p.id }, p.backoff ? 1 : 0);
      this.reserveBuilding.set({ pool: p.id }, p.building ?? 0);
      this.poolInUse.set({ pool: p.id }, p.inUse ?? 0);
      this.reserveCircuit.set({ pool: p.id }, p.state === "backoff" ? 2 : p.state === "half_open" ? 1 : 0);
    }
    this.closedByPolicy.reset();
    for (const c of snapshot.closedByPolicy ?? [])
      this.closedByPolicy.inc({ pool: c.pool, reason: c.reason }, c.count);
    this.poolDraining.reset();
    this.instancesDraining.reset();
    for (const d of snapshot.drain ?? []) {
      this.poolDraining.set({ pool: d.id }, d.draining ? 1 : 0);
      this.instancesDraining.set({ pool: d.id }, d.drainingInstances);
    }
    this.rolloutInstances.reset();
    this.rolloutPaused.reset();
    for (const r of snapshot.rollouts ?? []) {
      this.rolloutInstances.set({ pool: r.id, image: "old" }, r.old);
      this.rolloutInstances.set({ pool: r.id, image: "new" }, r.new);
      this.rolloutPaused.set({ pool: r.id }, r.state === "paused" ? 1 : 0);
    }
    this.jobLastSuccess.reset();
    this.jobFailures.reset();
    for (const j of snapshot.jobs ?? []) {
      this.jobLastSuccess.set({ job: j.name }, j.lastSucceeded ?? 0);
      this.jobFailures.set({ job: j.name }, j.failures);
    }
    this.builds.set(snapshot.buildsInFlight);
    this.sessions.set(snapshot.sessionsOpen);
    this.queue.reset();
    for (const state of ["PENDING", "STARTED"]) this.queue.set({ state }, snapshot.tasks[state] ?? 0);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The process's metrics: one per process, as Prometheus scrapes a process. */
export const metrics = new Metrics();

/** For the broker: a request-vm completed after `seconds` with broker code `code` (0: success). */
export const observeAllocation = (seconds: number, code: number | string) =>
  metrics.observeAllocation(seconds, code);
