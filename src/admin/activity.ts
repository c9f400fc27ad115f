// GET /v1/activity and GET /v1/activity/tasks (extensions): what the dashboard's charts and
// task list need and the reference API has no route for. Allocations (broker requests that
// completed or failed) and sessions opened per time bucket; the recent tasks with their
// times, arguments, tracebacks and, for a broker allocation, the steps so far (its progress).
import { Type as T } from "@sinclair/typebox";
import { badRequest } from "../http/errors.ts";
import { ActivityRepository } from "../store/activity.ts";
import type { DashboardDeps } from "./dashboard-routes.ts";
import { ErrorBody } from "./tasks.ts";
import { isoUtc } from "./wire.ts";

/** Bucket lengths to choose from: the smallest that gives at most MAX_BUCKETS buckets. */
const STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400];
const MAX_BUCKETS = 72;

export function stepFor(hours: number): number {
  return STEPS.find((s) => (hours * 3600) / s <= MAX_BUCKETS) ?? 86400;
}

const PoolFilter = T.Optional(
  T.String({ minLength: 1, maxLength: 64, description: "Only this pool (project id)." }),
);

const ActivityQuery = T.Object(
  {
    hours: T.Optional(
      T.String({ pattern: "^[0-9]{1,3}$", description: "How far back in hours, 1-720 (default 24)." }),
    ),
    pool_id: PoolFilter,
  },
  { additionalProperties: false },
);

const TasksQuery = T.Object(
  {
    limit: T.Optional(
      T.String({ pattern: "^[0-9]{1,3}$", description: "At most this many, 1-200 (default 50)." }),
    ),
    pool_id: PoolFilter,
  },
  { additionalProperties: false },
);

const Activity = T.Object(
  {
    since: T.String({ description: "Start of the first bucket (UTC)." }),
    step_seconds: T.Integer({ description: "Length of each bucket." }),
    open_sessions: T.Integer({ description: "Sessions open now." }),
    open_by_instance: T.Optional(
      T.Record(T.String(), T.Integer(), {
        description: "With pool_id: sessions open now per instance of the pool.",
      }),
    ),
    buckets: T.Array(
      T.Object({
        at: T.String({ description: "Start of the bucket (UTC)." }),
        allocations: T.Integer({ description: "Broker allocations completed with a desktop." }),
        failures: T.Integer({ description: "Broker allocations that failed." }),
        sessions_opened: T.Integer(),
      }),
    ),
  },
  {
    example: {
      since: "2026-12-03T08:00:00",
      step_seconds: 60,
      open_sessions: 3,
      buckets: [{ at: "2026-12-03T08:00:00", allocations: 2, failures: 0, sessions_opened: 2 }],
    },
  },
);

const Nullable = T.Union([T.String(), T.Null()]);
const Step = T.Object({
  name: T.String(),
  started_at: T.String(),
  duration_ms: T.Union([T.Number(), T.Null()]),
  outcome: T.String(),
  detail: T.Optional(T.String()),
});

const TaskList = T.Object(
  {
    tasks: T.Array(
      T.Object({
        id: T.String(),
        name: T.String(),
        status: T.String(),
        args: T.Record(T.String(), T.Unknown()),
        traceback: Nullable,
        retries: T.Integer(),
        created_at: T.String(),
        started_at: Nullable,
        finished_at: Nullable,
        pool_id: Nullable,
        request: T.Union([
          T.Object({
            id: T.String(),
            status: T.String(),
            error_code: T.Union([T.Integer(), T.Null()]),
            steps: T.Array(Step),
          }),
          T.Null(),
        ]),
      }),
    ),
  },
  {
    example: {
      tasks: [
        {
          id: "3519adaf-7669-499e-88eb-8f05f64514e2",
          name: "broker.allocate",
          status: "STARTED",
          args: { request_id: "0b1c5a7e-2f4e-4c59-9d1e-6f0e7d3b2a11" },
          traceback: null,
          retries: 0,
          created_at: "2026-12-03T08:30:16",
          started_at: "2026-12-03T08:30:16",
          finished_at: null,
          pool_id: "d394da7c4d0747bd879e0e865222b3d9",
          request: {
            id: "0b1c5a7e-2f4e-4c59-9d1e-6f0e7d3b2a11",
            status: "in_progress",
            error_code: null,
            steps: [
              {
                name: "find_instance",
                started_at: "2026-12-03T08:30:16.120Z",
                duration_ms: 6.4,
                outcome: "ok",
              },
            ],
          },
        },
      ],
    },
  },
);

export function activityRoutes(app: DashboardDeps["app"], deps: DashboardDeps) {
  const repo = new ActivityRepository(deps.db);
  const guarded = { preHandler: deps.auth.requireAdmin };

  app.get(
    "/activity",
    {
      ...guarded,
      schema: {
        tags: ["dashboard"],
        summary: "Allocations and sessions over time (extension)",
        description:
          "Counts per time bucket over the last `hours`: broker allocations completed and failed (by " +
          "completion time), sessions opened; and the sessions open now. Every bucket is present, empty ones with zeros.",
        security: [{ token: [] }],
        querystring: ActivityQuery,
        response: { 200: Activity, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req) => {
      const hours = Number(req.query.hours ?? 24);
      if (hours < 1 || hours > 720) throw badRequest("hours must be between 1 and 720.");
      const step = stepFor(hours);
      const now = Date.now();
      const first = Math.floor((now - hours * 3600_000) / (step * 1000)) * step * 1000;
      const [found, open] = await Promise.all([
        repo.buckets(new Date(first), step, req.query.pool_id),
        repo.openSessions(req.query.pool_id),
      ]);
      const byTime = new Map(found.map((b) => [b.at.getTime(), b]));
      const buckets = [];
      for (let t = first; t <= now; t += step * 1000) {
        const b = byTime.get(t);
        buckets.push({
          at: isoUtc(new Date(t)) as string,
          allocations: b?.allocations ?? 0,
          failures: b?.failures ?? 0,
          sessions_opened: b?.sessionsOpened ?? 0,
        });
      }
      let total = 0;
      for (const n of open.values()) total += n;
      return {
        since: isoUtc(new Date(first)) as string,
        step_seconds: step,
        open_sessions: total,
        ...(req.query.pool_id ? { open_by_instance: Object.fromEntries(open) } : {}),
        buckets,
      };
    },
  );

  app.get(
    "/activity/tasks",
    {
      ...guarded,
      schema: {
        tags: ["dashboard"],
        summary: "Recent tasks in detail (extension)",
        description:
          "The most recent tasks, newest first, with their times, arguments and traceback; a broker " +
          "allocation also carries its request's status and steps so far.",
        security: [{ token: [] }],
        querystring: TasksQuery,
        response: { 200: TaskList, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req) => {
      const limit = Number(req.query.limit ?? 50);
      if (limit < 1 || limit > 200) throw badRequest("limit must be between 1 and 200.");
      const tasks = await repo.tasks(limit, req.query.pool_id);
      return {
        tasks: tasks.map((t) => ({
          id: t.id,
          name: t.name,
          status: t.status,
          args: t.args,
          traceback: t.traceback,
          retries: t.retries,
          created_at: isoUtc(t.createdAt) as string,
          started_at: isoUtc(t.startedAt),
          finished_at: isoUtc(t.finishedAt),
          pool_id: t.poolId,
          request: t.request
            ? {
                id: t.request.id,
                status: t.request.status,
                error_code: t.request.errorCode,
                steps: t.request.steps,
              }
            : null,
        })),
      };
    },
  );
}
