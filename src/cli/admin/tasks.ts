// `rs-server tasks list|show` and `rs-server auto-allocate <pool>`: asynchronous tasks
// (GET /tasks, GET /tasks/{id}, POST /projects/{id}/actions/auto-allocate-users).
import type { Command } from "commander";
import { type ApiReply, CliError } from "./client.ts";
import { action, type Ctx, enc, group, positiveInt, show } from "./command.ts";
import { fields, table } from "./table.ts";

const FINAL = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

/** A task's fields, with its traceback (a message and a stack) below them as it was written. */
function renderTask(task: { traceback: string | null }): string {
  const { traceback, ...rest } = task;
  return traceback ? `${fields(rest)}traceback:\n${traceback.trimEnd()}\n` : fields(rest);
}

async function waitForTask(ctx: Ctx, id: string, seconds: number): Promise<ApiReply> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const reply = await ctx.client.request("GET", `/tasks/${enc(id)}`);
    if (FINAL.has(reply.body.status)) return reply;
    if (Date.now() > deadline)
      throw new CliError(`task ${id} is still ${reply.body.status} after ${seconds} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function tasksCommand(): Command {
  const tasks = group("tasks", "asynchronous tasks (auto-allocation, ...)");

  action(
    tasks.command("list").description("the 100 most recent task ids, newest first (GET /tasks)"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/tasks");
      show(ctx, reply, (b) =>
        table(
          b.tasks.map((id: string) => ({ id })),
          [{ header: "TASK", value: "id" }],
        ),
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
      show(ctx, reply, renderTask);
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
      .argument("<pool>", "pool (project) id")
      .option(
        "--wait [seconds]",
        "wait for the task to finish (default 120 s) and show its result",
        positiveInt,
      ),
    async (ctx) => {
      const started = await ctx.client.request(
        "POST",
        `/projects/${enc(ctx.args[0])}/actions/auto-allocate-users`,
      );
      const id: string = started.body.task_id;
      if (ctx.opts.wait === undefined) {
        show(ctx, started, () => `task ${id} started (rs-server tasks show ${id})\n`);
        return;
      }
      const finished = await waitForTask(ctx, id, ctx.opts.wait === true ? 120 : ctx.opts.wait);
      show(ctx, finished, renderTask);
      if (finished.body.status !== "SUCCESS") throw new CliError(`task ${id} ended ${finished.body.status}`);
    },
  );
}
