// GET /v1/activity and GET /v1/activity/tasks (extensions): what the dashboard's charts and
// task list need and the reference API has no route for. Allocations (broker requests that
// completed or failed) and sessions opened per time bucket; the recent tasks with their
// times, arguments, tracebacks and, for a broker allocation, the steps so far (its progress).
// Admin role required; the window and its buckets are core.dashboard.activity's.
import { Type as T } from "@sinclair/typebox";
import type { AdminRoutes } from "./app.ts";
import { errors, isoUtc } from "./wire.ts";

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
  detail: T.Optional(T.String({ description: "In English." })),
  detail_translations: T.Optional(
    T.Object({ ru: T.String() }, { description: "The detail in the dashboard's other languages." }),
  ),
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

export const activityRoutes: AdminRoutes = (app, { core }) => {
  app.get(
    "/activity",
    {
      schema: {
        tags: ["dashboard"],
        summary: "Allocations and sessions over time (extension)",
        description:
          "Counts per time bucket over the last `hours`: broker allocations completed and failed (by " +
          "completion time), sessions opened; and the sessions open now. Every bucket is present, empty ones with zeros.",
        querystring: ActivityQuery,
        response: { 200: Activity, ...errors(400) },
      },
    },
    async (req) => {
      const w = await core.dashboard.activity.window(Number(req.query.hours ?? 24), req.query.pool_id);
      return {
        since: isoUtc(w.since) as string,
        step_seconds: w.stepSeconds,
        open_sessions: w.openSessions,
        ...(req.query.pool_id ? { open_by_instance: Object.fromEntries(w.openByInstance) } : {}),
        buckets: w.buckets.map((b) => ({
          at: isoUtc(b.at) as string,
          allocations: b.allocations,
          failures: b.failures,
          sessions_opened: b.sessionsOpened,
        })),
      };
    },
  );

  app.get(
    "/activity/tasks",
    {
      schema: {
        tags: ["dashboard"],
        summary: "Recent tasks in detail (extension)",
        description:
          "The most recent tasks, newest first, with their times, arguments and traceback; a broker " +
          "allocation also carries its request's status and steps so far.",
        querystring: TasksQuery,
        response: { 200: TaskList, ...errors(400) },
      },
    },
    async (req) => {
      const tasks = await core.dashboard.activity.recentTasks(
        Number(req.query.limit ?? 50),
        req.query.pool_id,
      );
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
};
