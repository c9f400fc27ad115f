// GET /v1/jobs and the rs_job_* metrics (migration 100): a periodic job failing run after run
// shows `failing` with its failures in a row and its error, and its last success stays where it
// was; a success clears the failures; a job no process takes is `late`. Real scheduler, real
// database.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { JobService, jobState } from "../../src/core/jobs.ts";
import { Metrics } from "../../src/core/metrics.ts";
import type { App } from "../../src/http/app.ts";
import type { Store } from "../../src/store/db.ts";
import { MetricsRepository } from "../../src/store/metrics.ts";
import { PeriodicJobRepository } from "../../src/store/tasks.ts";
import { Scheduler } from "../../src/tasks/scheduler.ts";
import { createTestStore } from "../helpers/db.ts";
import { silent, waitFor } from "../tasks/helpers.ts";
import { adminApp, assertAdminOnly } from "./admin-app.ts";

let store: Store;
let scheduler: Scheduler;
let app: App;
let repo: PeriodicJobRepository;
const admin = { "x-auth-token": "admin-token" };
let failing = true;

before(async () => {
  store = await createTestStore();
  repo = new PeriodicJobRepository(store.db);
  scheduler = new Scheduler({ jobs: repo, logger: silent, tickMs: 20 });
  scheduler.every("good.job", 3600, () => {});
  scheduler.every("flaky.job", 3600, () => {
    if (failing) throw new Error("Neutron: 403 Forbidden");
  });
  await scheduler.start();
  app = await adminApp({ jobs: new JobService(repo) });
});
after(async () => {
  await app.close();
  await scheduler.stop();
  await store.close();
});

const row = async (name: string) => (await repo.list()).find((r) => r.name === name);
const ranTimes = async (name: string, finishedAfter: Date) => {
  const r = await row(name);
  return r?.last_finished_at && r.last_finished_at > finishedAfter && !r.running_until ? r : undefined;
};
const jobsOf = async () => {
  const res = await app.inject({ url: "/v1/jobs", headers: admin });
  assert.equal(res.statusCode, 200, res.body);
  return Object.fromEntries((res.json().jobs as Record<string, unknown>[]).map((j) => [j.name, j]));
};

test("a job failing run after run is `failing` with its failures in a row; a success clears them", async () => {
  await waitFor(
    "the first runs",
    async () => (await ranTimes("good.job", new Date(0))) && ranTimes("flaky.job", new Date(0)),
  );
  let t = new Date();
  await scheduler.trigger("flaky.job");
  await waitFor("the second run", () => ranTimes("flaky.job", t));

  let jobs = await jobsOf();
  assert.equal(jobs["good.job"].state, "ok");
  assert.equal(jobs["good.job"].failures, 0);
  assert.ok(jobs["good.job"].last_succeeded_at);
  assert.equal(jobs["flaky.job"].state, "failing");
  assert.equal(jobs["flaky.job"].failures, 2);
  assert.equal(jobs["flaky.job"].last_succeeded_at, null);
  assert.match(String(jobs["flaky.job"].last_error), /Neutron: 403 Forbidden/);
  assert.equal(jobs["flaky.job"].period_seconds, 3600);

  // The metrics say the same, read from the database at scrape time.
  const text = await new Metrics().render(
    await new MetricsRepository(store.db, { buildsInFlight: async () => 0 }).snapshot(),
  );
  assert.match(text, /rs_job_failures\{job="flaky.job"\} 2/);
  assert.match(text, /rs_job_last_success_timestamp_seconds\{job="flaky.job"\} 0/);
  assert.match(text, /rs_job_last_success_timestamp_seconds\{job="good.job"\} 1\d{9}/);

  failing = false;
  t = new Date();
  await scheduler.trigger("flaky.job");
  await waitFor("the run that succeeds", () => ranTimes("flaky.job", t));
  jobs = await jobsOf();
  assert.equal(jobs["flaky.job"].state, "ok");
  assert.equal(jobs["flaky.job"].failures, 0);
  assert.equal(jobs["flaky.job"].last_error, null);
  assert.ok(jobs["flaky.job"].last_succeeded_at);
});

test("a job no process takes is `late` once two periods (at least a minute) past due", async () => {
  await sql`INSERT INTO periodic_jobs (name, period_seconds, next_run_at)
    VALUES ('orphan.job', 10, now() - interval '61 seconds'), ('soon.job', 60, now() - interval '100 seconds')`.execute(
    store.db,
  );
  const jobs = await jobsOf();
  assert.equal(jobs["orphan.job"].state, "late");
  assert.equal(jobs["soon.job"].state, "ok");
  // The rule itself, at its edges.
  const base = {
    name: "x",
    period_seconds: 300,
    running_until: null,
    last_worker: null,
    last_started_at: null,
    last_finished_at: null,
    last_succeeded_at: null,
    last_error: null,
    failures: 3,
  };
  const now = new Date("2026-12-03T12:00:00Z");
  assert.equal(jobState({ ...base, next_run_at: new Date("2026-12-03T11:50:01Z") }, now), "failing");
  assert.equal(jobState({ ...base, next_run_at: new Date("2026-12-03T11:49:59Z") }, now), "late");
  assert.equal(
    jobState({ ...base, next_run_at: now, running_until: new Date("2026-12-03T12:00:30Z") }, now),
    "running",
  );
});

test("GET /v1/jobs is a cloud admin's, and takes no query parameter", async () => {
  await assertAdminOnly(app, "/v1/jobs");
  const res = await app.inject({ url: "/v1/jobs?name=x", headers: admin });
  assert.equal(res.statusCode, 400);
});
