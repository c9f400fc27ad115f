// Periodic work that runs once per period across all processes: the reserve keeper, the
// reconciler. Periods are sub-minute, so pg-boss cron (one-minute resolution) does not fit.
// Each job is a row with next_run_at; a process runs it only after an UPDATE that finds it
// due moves next_run_at one period ahead, so of all processes exactly one wins each period.
// A run holds a lease (running_until) so that runs never overlap, even when one outlasts its
// period, and a run whose process died is taken over once the lease lapses — at once by a
// process starting on the same host when that process is gone (a restart after a crash: the
// reserve keeper and the reconciler would otherwise wait out the lease, up to a minute).
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { PeriodicClaim, PeriodicJobRepository } from "../store/tasks.ts";
import { traceback } from "./engine.ts";

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface PeriodicContext {
  name: string;
  /** Aborted when the scheduler stops or the run's lease was lost. */
  signal: AbortSignal;
}

export type PeriodicFn = (ctx: PeriodicContext) => Promise<void> | void;

export interface SchedulerOptions {
  /** The periodic jobs' rows: their next run and who holds the current one. */
  jobs: PeriodicJobRepository;
  logger: Logger;
  /** How often this process looks for due jobs (default 1000 ms). trigger() wakes it at once. */
  tickMs?: number;
  /** How long a run holds without renewal (default 60). */
  leaseSeconds?: number;
  /** Most jobs this process claims in one pass (default 10). */
  batch?: number;
  workerId?: string;
}

interface Job {
  periodSeconds: number;
  fn: PeriodicFn;
  /** The row exists (upserted at start, or at every() after start). */
  ready: Promise<void> | undefined;
}

export class Scheduler {
  readonly workerId: string;
  private readonly repo: PeriodicJobRepository;
  private readonly log: Logger;
  private readonly tickMs: number;
  private readonly leaseSeconds: number;
  private readonly batch: number;
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> = Promise.resolve();

  constructor(options: SchedulerOptions) {
    this.repo = options.jobs;
    this.log = options.logger.child({ component: "scheduler" });
    this.tickMs = options.tickMs ?? 1000;
    this.leaseSeconds = options.leaseSeconds ?? 60;
    this.batch = options.batch ?? 10;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Runs `fn` every `seconds` (once per period across all processes that register `name`). */
  every(name: string, seconds: number, fn: PeriodicFn): void {
    if (!(seconds > 0)) throw new Error(`period of ${name} must be positive`);
    const job: Job = { periodSeconds: seconds, fn, ready: undefined };
    this.jobs.set(name, job);
    if (this.started) job.ready = this.prepare(name, job);
  }

  /** Stops running `name` here and deletes its row (e.g. the pool is gone). */
  async remove(name: string): Promise<void> {
    this.jobs.delete(name);
    await this.repo.remove(name);
  }

  /**
   * Makes `name` due now: a process that registered it runs it at its next pass (this one
   * at once). A run in progress is not interrupted: the triggered run follows it.
   * False when no process ever registered `name`.
   */
  async trigger(name: string): Promise<boolean> {
    const known = await this.repo.trigger(name);
    if (known && this.started && this.jobs.has(name)) this.schedule(0);
    return known;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const [name, job] of this.jobs) job.ready = this.prepare(name, job);
    await Promise.all([...this.jobs.values()].map((j) => j.ready));
    await this.takeOverDeadRuns().catch((err) =>
      this.log.warn({ err }, "cannot look for runs of a process that is gone: their leases will lapse"),
    );
    this.schedule(0);
  }

  /**
   * Ends the leases of runs held by a process of this host (worker id `host:pid:…`) that no
   * longer exists, e.g. this server before it was killed. A pid that exists, even reused, or
   * a worker of another host, is left to its lease.
   */
  private async takeOverDeadRuns(): Promise<void> {
    const host = hostname();
    for (const run of await this.repo.heldRuns()) {
      const [workerHost, pidText, rest] = run.worker.split(":");
      const pid = Number(pidText);
      if (workerHost !== host || rest === undefined || !Number.isInteger(pid) || pid <= 0) continue;
      if (pid === process.pid || processExists(pid)) continue;
      if (await this.repo.abandon(run))
        this.log.warn(
          { job: run.name, worker: run.worker },
          "periodic job run of a process of this host that is gone: lease ended, the job runs again",
        );
    }
  }

  /** Stops looking for due jobs and waits for the runs in progress (aborted after `timeoutMs`). */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.timer);
    await this.pass;
    const all = Promise.allSettled([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), options.timeoutMs ?? 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) for (const r of this.running.values()) r.controller.abort(new Error("scheduler stopped"));
  }

  /**
   * One pass: claims the due jobs registered here that are not running anywhere and starts
   * them. Returns the names it claimed. The loop calls it every tickMs.
   */
  async runDue(): Promise<string[]> {
    const names = [...this.jobs.keys()].filter((n) => !this.running.has(n));
    const claims = await this.repo.claimDue(names, this.workerId, this.leaseSeconds, this.batch);
    for (const claim of claims) this.launch(claim);
    return claims.map((c) => c.name);
  }

  /** Resolves when the runs started here so far have finished. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async prepare(name: string, job: Job): Promise<void> {
    try {
      await this.repo.upsert(name, job.periodSeconds);
    } catch (err) {
      // Retried by the next pass, which prepares jobs whose row is not known to exist.
      job.ready = undefined;
      this.log.error({ err, job: name }, "cannot register periodic job");
    }
  }

  private schedule(delayMs: number) {
    if (!this.started) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.pass = this.tick();
    }, delayMs);
    this.timer.unref();
  }

  private async tick() {
    try {
      for (const [name, job] of this.jobs) if (!job.ready) job.ready = this.prepare(name, job);
      await this.runDue();
    } catch (err) {
      this.log.error({ err }, "periodic jobs pass failed");
    }
    this.schedule(this.tickMs);
  }

  private launch(claim: PeriodicClaim) {
    const job = this.jobs.get(claim.name);
    const controller = new AbortController();
    const renew = setInterval(
      () => {
        this.repo.renew(claim, this.leaseSeconds).then(
          (held) => {
            if (!held) controller.abort(new Error("periodic job lease lost"));
          },
          (err) => this.log.warn({ err, job: claim.name }, "cannot renew periodic job lease"),
        );
      },
      (this.leaseSeconds * 1000) / 3,
    );
    const done = (async () => {
      let error: string | null = null;
      try {
        if (!job) throw new Error(`periodic job ${claim.name} was removed`);
        await job.fn({ name: claim.name, signal: controller.signal });
      } catch (err) {
        error = traceback(err);
        this.log.error({ err, job: claim.name }, "periodic job failed");
      } finally {
        clearInterval(renew);
      }
      await this.repo.finish(claim, error);
    })()
      .catch((err) => this.log.error({ err, job: claim.name }, "cannot record periodic job run"))
      .finally(() => {
        this.running.delete(claim.name);
        // A trigger that arrived during the run made the job due again.
        this.schedule(0);
      });
    this.running.set(claim.name, { controller, done });
  }
}
