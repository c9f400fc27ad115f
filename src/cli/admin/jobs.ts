// `rs-server jobs list`: the background work's periodic jobs (GET /v1/jobs): each with its
// state (running, late, failing, ok), period, last runs and last error. `--problems` keeps the
// late and failing ones: what a morning check or a cron mail wants.
import type { Command } from "commander";
import { action, group, printList } from "./command.ts";
import type { Column, Row } from "./table.ts";

const columns: Column[] = [
  { header: "Job", value: "name" },
  { header: "State", value: "state" },
  { header: "Every (s)", value: "period_seconds" },
  { header: "Last run", value: "last_finished_at" },
  { header: "Last success", value: "last_succeeded_at" },
  { header: "Failures", value: "failures" },
  { header: "Next run", value: "next_run_at" },
  // The first line of the error: the rest (a stack) is in -f json.
  {
    header: "Last error",
    value: (r) => (typeof r.last_error === "string" ? r.last_error.split("\n")[0] : null),
  },
];

const PROBLEMS = new Set(["late", "failing"]);

export function jobsCommand(): Command {
  const jobs = group("jobs", "the background work's periodic jobs: reserve keeper, reconciler, ...");
  action(
    jobs
      .command("list")
      .description("every periodic job with its state, last runs and last error (GET /jobs)")
      .option("--problems", "only the jobs late (no worker takes them) or failing"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/jobs");
      const rows = (reply.body.jobs as Row[]).filter(
        (j) => !ctx.opts.problems || PROBLEMS.has(String(j.state)),
      );
      if (ctx.json && ctx.opts.problems) {
        ctx.write(`${JSON.stringify({ jobs: rows })}\n`);
        return;
      }
      printList(ctx, reply, rows, columns);
    },
  );
  return jobs;
}
