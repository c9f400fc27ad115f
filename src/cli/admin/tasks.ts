// `rs-server tasks list|show` and `rs-server auto-allocate <pool>`: asynchronous tasks
// (GET /tasks, GET /tasks/{id}, POST /projects/{id}/actions/auto-allocate-users).
import type { Command } from "commander";
import { type ApiReply, CliError } from "./client.ts";
import { action, type Ctx, enc, group, positiveInt, printList, printObject } from "./command.ts";
import { poolId } from "./names.ts";

const FINAL = new Set(["SUCCESS", "FAILURE", "REVOKED"]);
const POLL_MS = 500;

async function waitForTask(ctx: Ctx, id: string, seconds: number): Promise<ApiReply> {
  const started = Date.now();
  for (;;) {
    const reply = await ctx.client.request("GET", `/tasks/${enc(id)}`);
    const elapsed = Math.round((Date.now() - started) / 1000);
    ctx.progress(`task ${id}: ${reply.body.status} (${elapsed} s)`);
    if (FINAL.has(reply.body.status)) return reply;
    if (elapsed > seconds) throw new CliError(`task ${id} is still ${reply.body.status} after ${seconds} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export function tasksCommand(): Command {
  const tasks = group("tasks", "asynchronous tasks (auto-allocation, ...)");

  action(
    tasks.command("list").description("the 100 most recent task ids, newest first (GET /tasks)"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/tasks");
      printList(
        ctx,
        reply,
        reply.body.tasks.map((id: string) => ({ id })),
        [{ header: "ID", value: "id" }],
      );
    },
  );

  action(
    tasks
      .command("show")
      .description("a task's status, name, traceback and result (GET /tasks/{id})")
      .argument("<task>", "task id"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `/tasks/${enc(ctx.args[0])}`);
      printObject(ctx, reply, reply.body);
    },
  );

  return tasks;
}

export function autoAllocateCommand(): Command {
  return action(
    group(
      "auto-allocate",
      "give every user of a pool without an instance a free one (POST /projects/{id}/actions/auto-allocate-users)",
    )
      .argument("<pool>", "pool (project) id or name")
      .option(
        "--wait [seconds]",
        "wait for the task to finish (default at most 120 s) and show it",
        positiveInt,
      ),
    async (ctx) => {
      const pool = await poolId(ctx, ctx.args[0]);
      const started = await ctx.client.request("POST", `/projects/${enc(pool)}/actions/auto-allocate-users`);
      const id: string = started.body.task_id;
      if (ctx.opts.wait === undefined) {
        printObject(ctx, started, started.body);
        return;
      }
      const finished = await waitForTask(ctx, id, ctx.opts.wait === true ? 120 : ctx.opts.wait);
      printObject(ctx, finished, finished.body);
      if (finished.body.status !== "SUCCESS") throw new CliError(`task ${id} ended ${finished.body.status}`);
    },
  );
}
