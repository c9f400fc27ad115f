// GET /v1/jobs (extension): the background work's periodic jobs (the reserve keeper, the
// reconciler, ...), each with its period, its next run and how its last runs went, so that an
// operator sees a job failing run after run, or no process running the jobs at all, without
// reading every node's log. Admin role; the states are core/jobs.ts's.
import { Type as T } from "@sinclair/typebox";
import type { AdminRoutes } from "./app.ts";
import { errors, isoUtc } from "./wire.ts";

const When = (description: string) => T.Union([T.String(), T.Null()], { description });

const Job = T.Object({
  name: T.String({ description: "The job's name (docs/operations.md#background-work)." }),
  state: T.Union([T.Literal("running"), T.Literal("late"), T.Literal("failing"), T.Literal("ok")], {
    description:
      "running: a process runs it now; late: due for more than two periods (at least a minute) and no process took it (no worker process is running); failing: its last run failed; ok otherwise.",
  }),
  period_seconds: T.Integer({ description: "How often it runs, across all processes." }),
  next_run_at: T.String({ description: "When it is due next (UTC)." }),
  running_until: When("While a run holds its lease: when the lease ends; else null."),
  last_worker: When("The process (host:pid:id) that took its last run."),
  last_started_at: When("When its last run started."),
  last_finished_at: When("When its last run ended, well or not."),
  last_succeeded_at: When("When its last run that did not fail ended."),
  failures: T.Integer({ description: "Runs failed in a row since the last that did not." }),
  last_error: When("The error of its last run when that run failed, else null."),
});

const JobList = T.Object(
  { jobs: T.Array(Job) },
  {
    description: "Every periodic job, by name.",
    example: {
      jobs: [
        {
          name: "reconciler",
          state: "failing",
          period_seconds: 60,
          next_run_at: "2026-12-03T08:01:00",
          running_until: null,
          last_worker: "node1:4242:1f2e3d4c",
          last_started_at: "2026-12-03T08:00:00",
          last_finished_at: "2026-12-03T08:00:01",
          last_succeeded_at: "2026-12-03T07:12:00",
          failures: 48,
          last_error: "Error: Neutron: 403 Forbidden ...",
        },
      ],
    },
  },
);

export const jobRoutes: AdminRoutes = (app, { core }) => {
  app.get(
    "/jobs",
    {
      schema: {
        tags: ["tasks"],
        summary: "The periodic jobs of the background work (extension)",
        description:
          "Every periodic job (reserve keeper, reconciler, session housekeeping, ...) with its period, next run, last runs and state. A job that keeps failing shows `failing` with its error; `late` means no process with workers takes it.",
        querystring: T.Object({}, { additionalProperties: false }),
        response: { 200: JobList, ...errors(400) },
      },
    },
    async () => ({
      jobs: (await core.jobs.list()).map((j) => ({
        name: j.name,
        state: j.state,
        period_seconds: j.period_seconds,
        next_run_at: isoUtc(j.next_run_at) as string,
        running_until: isoUtc(j.running_until),
        last_worker: j.last_worker,
        last_started_at: isoUtc(j.last_started_at),
        last_finished_at: isoUtc(j.last_finished_at),
        last_succeeded_at: isoUtc(j.last_succeeded_at),
        failures: j.failures,
        last_error: j.last_error,
      })),
    }),
  );
};
