// The task engine: Celery-style task states in the `tasks` table, delivery through pg-boss in
// the same database. The row is the truth; a pg-boss job only says "look at task X". Whoever
// runs a task first claims the row with a conditional UPDATE and a lease, renewed while the
// handler runs. A claim always leaves a pg-boss job due when the lease would expire, so a
// task whose process died is run again by another process, and a finished one is left alone.
//
// Two ways in: enqueue() (a worker picks it after a poll, ~0.5 s) and runNow() (the warm
// path: the handler starts in this process at once, pg-boss only holds the recovery job).
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CompiledQuery, type Kysely } from "kysely";
import PgBoss from "pg-boss";
import type { Logger } from "pino";
import { TASK_LIST_LIMIT } from "../shared/tasks.ts";
import { connect, PgPool, type Store } from "../store/db.ts";
import type { Database, TaskStatus } from "../store/schema.ts";
import { type Holder, TaskRepository, type TaskRow } from "../store/tasks.ts";

export interface TaskContext {
  id: string;
  name: string;
  /** 1 for the first run; counts re-runs after a lost worker too. */
  attempt: number;
  /** Failed attempts so far that were retried (Celery's `retries`). */
  retries: number;
  /** Aborted when the task is revoked, its lease is lost, or shutdown gives up waiting. */
  signal: AbortSignal;
}

/**
 * Runs a task. Args and the returned result are stored as JSON and shown by the admin API:
 * never put tokens or passwords in args, results or error messages.
 */
export type TaskHandler<A = any, R = unknown> = (args: A, ctx: TaskContext) => Promise<R> | R;

export interface TaskOptions {
  /** Failed attempts retried before FAILURE (default 0). */
  retryLimit?: number;
  /** Delay before a retry (default 5). */
  retryDelaySeconds?: number;
  /** Handlers this process runs at once for this task name through pg-boss (default 4). */
  concurrency?: number;
}

export interface TaskInfo {
  id: string;
  name: string;
  status: TaskStatus;
  args: Record<string, unknown>;
  /** JSON text of the handler's return value (SUCCESS only). */
  result: string | null;
  /** Error message and stack of the last failed attempt (FAILURE, RETRY). */
  traceback: string | null;
  retries: number;
  attempt: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** What the admin API and the core use. */
export interface TaskService {
  enqueue(name: string, args?: Record<string, unknown>): Promise<string>;
  runNow(name: string, args?: Record<string, unknown>): Promise<string>;
  revoke(id: string): Promise<boolean>;
  get(id: string): Promise<TaskInfo | undefined>;
  /** Newest first; after `marker` (a task id) when given. */
  list(limit?: number, marker?: string): Promise<TaskInfo[]>;
}

export interface TaskEngineOptions {
  store: Pick<Store, "db" | "url">;
  logger: Logger;
  /** Poll pg-boss and run tasks (default true). False: this process only enqueues (and runs runNow). */
  workers?: boolean;
  /** pg-boss's schema in the database (default "pgboss"). */
  schema?: string;
  /** How long a claim holds without renewal; the recovery delay of runNow (default 30). */
  leaseSeconds?: number;
  /** pg-boss poll period, at least 0.5 (default 0.5). */
  pollingIntervalSeconds?: number;
  /** Re-runs after lost workers before a task is failed as lost (default 3). */
  maxLostRuns?: number;
  /** Connections of pg-boss's own pool (default 4). */
  poolSize?: number;
  workerId?: string;
}

export const DEFAULT_LIST_LIMIT = TASK_LIST_LIMIT;
export const MAX_LIST_LIMIT = 1000;

const QUEUE_PREFIX = "rs.task.";
const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
// A wake job's own retries cover database hiccups in the engine, not handler failures
// (those are the task's retries, kept in the row).
const WAKE_QUEUE = { retryLimit: 5, retryDelay: 5, retryBackoff: true, expireInSeconds: 6 * 3600 };

interface Registration {
  handler: TaskHandler;
  retryLimit: number;
  retryDelaySeconds: number;
  concurrency: number;
}

interface WakeJob {
  taskId: string;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
  /** Resolves once a run aborted by shutdown gave its claim up (or finished). */
  released: Promise<void>;
}

/** The abort reason of handlers still running when stop() gives up waiting. */
const SHUTDOWN = new Error("task engine stopped");

export function traceback(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const head = `${err.name}: ${err.message}`;
  const stack = err.stack ?? head;
  return stack.startsWith(head) ? stack : `${head}\n${stack}`;
}

function toInfo(row: TaskRow): TaskInfo {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    args: row.args,
    result: row.result,
    traceback: row.traceback,
    retries: row.retries,
    attempt: row.attempt,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export class TaskEngine implements TaskService {
  readonly workerId: string;
  private readonly repo: TaskRepository;
  /**
   * Lease renewals on a connection of their own: when busy handlers hold every connection of
   * the main pool, a renewal queued behind them would let the lease lapse and the task be run
   * a second time by the recovery job while the first run is still acting.
   */
  private readonly leases: TaskRepository;
  private readonly leaseDb: Kysely<Database>;
  private readonly boss: PgBoss;
  /** pg-boss's connections: ours, so that they report errors and close like the others. */
  private readonly bossPool: PgPool;
  private readonly log: Logger;
  private readonly workersEnabled: boolean;
  private readonly leaseSeconds: number;
  private readonly pollingIntervalSeconds: number;
  private readonly maxLostRuns: number;
  private readonly handlers = new Map<string, Registration>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly workerIds = new Map<string, string[]>();
  /** Handlers running in this process, by task id: for revoke and graceful stop. */
  private readonly running = new Map<string, Running>();
  private state: "new" | "started" | "stopping" | "stopped" = "new";

  constructor(options: TaskEngineOptions) {
    this.log = options.logger.child({ component: "tasks" });
    this.repo = TaskRepository.of(options.store.db);
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.leaseDb = connect(
      options.store.url,
      1,
      (err) => this.log.warn({ err }, "task lease connection lost: reconnecting"),
      // Named after the worker, so an operator (or a test) can tell one engine's connections apart.
      `rs-server task leases ${this.workerId}`.slice(0, 63),
    );
    this.leases = TaskRepository.of(this.leaseDb);
    this.workersEnabled = options.workers ?? true;
    this.leaseSeconds = options.leaseSeconds ?? 30;
    this.pollingIntervalSeconds = Math.max(0.5, options.pollingIntervalSeconds ?? 0.5);
    this.maxLostRuns = options.maxLostRuns ?? 3;
    this.bossPool = new PgPool({
      url: options.store.url,
      max: options.poolSize ?? 4,
      applicationName: `rs-server tasks ${this.workerId}`.slice(0, 63),
      onError: (err) => this.log.warn({ err }, "pg-boss connection lost: reconnecting"),
    });
    const bossDb: PgBoss.Db = { executeSql: (text, values) => this.bossPool.pool.query(text, values) };
    this.boss = new PgBoss({
      db: bossDb,
      schema: options.schema ?? "pgboss",
      // Periodic work has its own scheduler (sub-minute periods); pg-boss cron is not used.
      schedule: false,
    });
    this.boss.on("error", (err) => this.log.error({ err }, "pg-boss error"));
  }

  register<A = any, R = unknown>(name: string, handler: TaskHandler<A, R>, options: TaskOptions = {}): void {
    if (!NAME.test(name)) throw new Error(`invalid task name ${JSON.stringify(name)}`);
    if (this.handlers.has(name)) throw new Error(`task ${name} is already registered`);
    const registration: Registration = {
      handler: handler as TaskHandler,
      retryLimit: options.retryLimit ?? 0,
      retryDelaySeconds: options.retryDelaySeconds ?? 5,
      concurrency: options.concurrency ?? 4,
    };
    this.handlers.set(name, registration);
    if (this.state === "started")
      void this.startWorkers(name, registration).catch((err) => this.failedToWork(name, err));
  }

  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`task engine is ${this.state}`);
    await this.boss.start();
    this.state = "started";
    for (const [name, registration] of this.handlers) await this.startWorkers(name, registration);
  }

  /**
   * Graceful: stops taking jobs, waits for the handlers running here (up to `timeoutMs`),
   * then closes pg-boss. Handlers still running after the timeout are aborted; their leases
   * lapse and another process runs those tasks again.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping") return;
    const wasStarted = this.state === "started";
    this.state = "stopping";
    if (wasStarted) {
      for (const ids of this.workerIds.values()) for (const id of ids) await this.boss.offWork({ id });
    }
    const all = Promise.allSettled([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), options.timeoutMs ?? 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.log.warn(
        { running: [...this.running.keys()] },
        "stopping with tasks still running: they will be re-run",
      );
      for (const r of this.running.values()) r.controller.abort(SHUTDOWN);
      await Promise.allSettled([...this.running.values()].map((r) => r.released));
    }
    try {
      if (wasStarted) await this.boss.stop({ graceful: true, wait: true, timeout: 1000 });
    } finally {
      await Promise.all([this.bossPool.end(), this.leaseDb.destroy()]);
      this.state = "stopped";
    }
  }

  async enqueue(name: string, args: Record<string, unknown> = {}): Promise<string> {
    this.assertOpen();
    if (!NAME.test(name)) throw new Error(`invalid task name ${JSON.stringify(name)}`);
    await this.ensureQueue(name);
    const id = randomUUID();
    await this.repo.kysely.transaction().execute(async (trx) => {
      await this.repo.insert(trx, { id, name, args });
      await this.sendWake(trx, name, id, { id });
    });
    // A local worker need not wait for its next poll.
    for (const workerId of this.workerIds.get(name) ?? []) this.boss.notifyWorker(workerId);
    return id;
  }

  /**
   * The warm path: the row is inserted already claimed by this process and the handler
   * starts at once, without waiting for a poll. The pg-boss job with the task's id starts
   * after the lease: a no-op if the run finished, a re-run if this process died.
   * A task not registered in this process is enqueued instead.
   */
  async runNow(name: string, args: Record<string, unknown> = {}): Promise<string> {
    this.assertOpen();
    const registration = this.handlers.get(name);
    if (!registration) return this.enqueue(name, args);
    await this.ensureQueue(name);
    const id = randomUUID();
    const row = await this.repo.kysely.transaction().execute(async (trx) => {
      const claimed = await this.repo.insertClaimed(
        trx,
        { id, name, args },
        this.workerId,
        this.leaseSeconds,
      );
      await this.sendWake(trx, name, id, { id, startAfter: this.leaseSeconds + 1 });
      return claimed;
    });
    this.execute(row, registration);
    return id;
  }

  /**
   * REVOKED: a pending or retrying task never runs; a running one has its signal aborted
   * (here at once, elsewhere at its next lease renewal) and its outcome discarded.
   */
  async revoke(id: string): Promise<boolean> {
    const revoked = await this.repo.revoke(id);
    if (revoked) this.running.get(id)?.controller.abort(new Error("task revoked"));
    return revoked;
  }

  async get(id: string): Promise<TaskInfo | undefined> {
    const row = await this.repo.get(id);
    return row && toInfo(row);
  }

  /** Newest first, at most MAX_LIST_LIMIT, after the task `marker` when given. */
  async list(limit = DEFAULT_LIST_LIMIT, marker?: string): Promise<TaskInfo[]> {
    const n = Math.min(Math.max(1, Math.trunc(limit)), MAX_LIST_LIMIT);
    return (await this.repo.list(n, marker)).map(toInfo);
  }

  private assertOpen() {
    if (this.state !== "started")
      throw new Error(`task engine is ${this.state === "new" ? "not started" : this.state}`);
  }

  private ensureQueue(name: string): Promise<void> {
    let ready = this.queues.get(name);
    if (!ready) {
      ready = this.boss.createQueue(QUEUE_PREFIX + name, { name: QUEUE_PREFIX + name, ...WAKE_QUEUE });
      ready.catch(() => this.queues.delete(name));
      this.queues.set(name, ready);
    }
    return ready;
  }

  /** Sends a wake job inside `trx`, so the row change and its follow-up commit together. */
  private async sendWake(
    trx: { executeQuery: (q: CompiledQuery) => Promise<{ rows: unknown[] }> },
    name: string,
    taskId: string,
    options: { id?: string; startAfter?: number | string },
  ): Promise<void> {
    const db = {
      executeSql: async (text: string, values: unknown[]) =>
        trx.executeQuery(CompiledQuery.raw(text, values)),
    };
    const data: WakeJob = { taskId };
    const jobId = await this.boss.send(QUEUE_PREFIX + name, data, { ...options, db: db as PgBoss.Db });
    if (!jobId) throw new Error(`pg-boss did not accept a job for task ${taskId} (queue ${name})`);
  }

  private async startWorkers(name: string, registration: Registration): Promise<void> {
    await this.ensureQueue(name);
    if (!this.workersEnabled) return;
    const ids: string[] = [];
    for (let i = 0; i < registration.concurrency; i++) {
      ids.push(
        await this.boss.work<WakeJob>(
          QUEUE_PREFIX + name,
          { pollingIntervalSeconds: this.pollingIntervalSeconds, batchSize: 1 },
          async ([job]) => this.wake(name, job.data.taskId),
        ),
      );
    }
    this.workerIds.set(name, ids);
  }

  private failedToWork(name: string, err: unknown) {
    this.log.error({ err, task: name }, "cannot start workers for task");
  }

  /** A wake job: claim and run the task, or make sure someone looks again when it is due. */
  private async wake(name: string, taskId: string): Promise<void> {
    const registration = this.handlers.get(name);
    if (!registration || this.state !== "started") throw new Error(`not accepting task ${name} now`);
    const row = await this.repo.kysely.transaction().execute(async (trx) => {
      const claimed = await this.repo.claim(trx, taskId, this.workerId, this.leaseSeconds);
      if (claimed) await this.sendWake(trx, name, taskId, { startAfter: this.leaseSeconds + 1 });
      return claimed;
    });
    if (row) {
      await this.execute(row, registration);
      return;
    }
    const current = await this.repo.get(taskId);
    if (!current) return;
    // Held by a live runner, or a retry not yet due: look again when that may change.
    const due =
      current.status === "STARTED"
        ? current.lease_until
        : current.status === "RETRY"
          ? current.run_after
          : null;
    if (due) {
      await this.repo.kysely.transaction().execute(async (trx) => {
        await this.sendWake(trx, name, taskId, { startAfter: new Date(due.getTime() + 1000).toISOString() });
      });
    }
  }

  /** Runs a claimed task; resolves when its outcome is recorded (never rejects). */
  private execute(row: TaskRow, registration: Registration): Promise<void> {
    const controller = new AbortController();
    const holder: Holder = { worker: this.workerId, attempt: row.attempt };
    const done = this.run(row, registration, holder, controller)
      .catch((err) => this.log.error({ err, task: row.name, task_id: row.id }, "cannot record task outcome"))
      .finally(() => this.running.delete(row.id));
    // On shutdown the claim is given up at once: the handler may never settle, and the
    // task must be re-run elsewhere rather than recorded as failed by its own abort.
    const released = new Promise<void>((resolve) => {
      done.then(resolve);
      controller.signal.addEventListener("abort", () => {
        if (controller.signal.reason !== SHUTDOWN) return;
        this.repo.release(row.id, holder).then(
          () => resolve(),
          (err) => {
            this.log.warn({ err, task_id: row.id }, "cannot release task lease: it will lapse");
            resolve();
          },
        );
      });
    });
    this.running.set(row.id, { controller, done, released });
    return done;
  }

  private async run(row: TaskRow, registration: Registration, holder: Holder, controller: AbortController) {
    const lost = row.attempt - 1 - row.retries;
    if (lost > this.maxLostRuns) {
      const message = `TaskLost: the process running this task stopped ${lost} times before it finished`;
      await this.repo.finish(row.id, holder, { status: "FAILURE", result: null, traceback: message });
      return;
    }
    const renew = setInterval(
      () => {
        if (controller.signal.aborted) return;
        this.leases.renewLease(row.id, holder, this.leaseSeconds).then(
          (held) => {
            if (!held) controller.abort(new Error("task lease lost (revoked or taken over)"));
          },
          (err) => this.log.warn({ err, task_id: row.id }, "cannot renew task lease"),
        );
      },
      (this.leaseSeconds * 1000) / 3,
    );
    // An aborted run renews nothing more, even if its handler never settles (a stuck handler
    // must not keep a stopped engine's process alive with a timer).
    controller.signal.addEventListener("abort", () => clearInterval(renew), { once: true });
    let outcome: { ok: true; result: string } | { ok: false; traceback: string };
    try {
      const ctx: TaskContext = {
        id: row.id,
        name: row.name,
        attempt: row.attempt,
        retries: row.retries,
        signal: controller.signal,
      };
      const value = await registration.handler(row.args, ctx);
      outcome = { ok: true, result: JSON.stringify(value ?? null) };
    } catch (err) {
      outcome = { ok: false, traceback: traceback(err) };
    } finally {
      clearInterval(renew);
    }

    if (controller.signal.reason === SHUTDOWN) return;
    let recorded: boolean;
    if (outcome.ok) {
      recorded = await this.repo.finish(row.id, holder, {
        status: "SUCCESS",
        result: outcome.result,
        traceback: null,
      });
    } else if (row.retries < registration.retryLimit) {
      const delay = registration.retryDelaySeconds;
      recorded = await this.repo.kysely.transaction().execute(async (trx) => {
        if (!(await this.repo.retry(trx, row.id, holder, outcome.traceback, delay))) return false;
        await this.sendWake(trx, row.name, row.id, { startAfter: delay > 0 ? delay : undefined });
        return true;
      });
    } else {
      recorded = await this.repo.finish(row.id, holder, {
        status: "FAILURE",
        result: null,
        traceback: outcome.traceback,
      });
    }
    if (!recorded)
      this.log.info({ task: row.name, task_id: row.id }, "task outcome discarded: revoked or taken over");
  }
}
