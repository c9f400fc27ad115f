// Drain and golden-image roll-out from the CLI (issue 16, docs/cli.md#drain-and-roll-out):
//   rs-server pools drain <pool> [--reason <text>] / pools undrain <pool>
//   rs-server pools rollout start <pool> --image <image> [--batch-size n] [--deadline iso] [--warn-before s]
//   rs-server pools rollout show|pause|resume|rollback <pool>
//   rs-server instances drain <instance> / instances undrain <instance>
import { type Command, InvalidArgumentError } from "commander";
import { imageId } from "./cloud-names.ts";
import { action, type Ctx, enc, group, positiveInt, printObject } from "./command.ts";
import { instanceId, poolId } from "./names.ts";

const poolPath = async (ctx: Ctx) => `/projects/${enc(await poolId(ctx, ctx.args[0]))}`;

function isoTime(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError("expected an ISO 8601 date and time");
  return value;
}

/** `pools drain` and `pools undrain`. */
export function poolDrainCommands(pools: Command): void {
  action(
    pools
      .command("drain")
      .description(
        "take a pool out of service: no new desktop is handed out, holders keep theirs, the reserve stops (POST /projects/{id}/drain)",
      )
      .argument("<pool>", "pool (project) id or name")
      .option("--reason <text>", "why (shown in lists)"),
    async (ctx) => {
      const body = ctx.opts.reason === undefined ? {} : { reason: ctx.opts.reason };
      const reply = await ctx.client.request("POST", `${await poolPath(ctx)}/drain`, { body });
      printObject(ctx, reply, reply.body.project);
    },
  );
  action(
    pools
      .command("undrain")
      .description("put a drained pool back in service (POST /projects/{id}/undrain)")
      .argument("<pool>", "pool (project) id or name"),
    async (ctx) => {
      const reply = await ctx.client.request("POST", `${await poolPath(ctx)}/undrain`);
      printObject(ctx, reply, reply.body.project);
    },
  );
}

/** `pools rollout ...`. */
export function rolloutCommand(): Command {
  const rollout = group("rollout", "golden-image roll-out of a pool");
  action(
    rollout
      .command("start")
      .description("replace the pool's instances with ones of a new image (POST /projects/{id}/rollout)")
      .argument("<pool>", "pool (project) id or name")
      .requiredOption("--image <image>", "the new image (id or name)")
      .option(
        "--batch-size <n>",
        "instances replaced per step at most (default: rollout.batchSize)",
        positiveInt,
      )
      .option("--deadline <time>", "ISO 8601: desktops still in use then are replaced anyway", isoTime)
      .option("--warn-before <seconds>", "warn their users this long before the deadline", positiveInt),
    async (ctx) => {
      const o = ctx.opts;
      const body = {
        rollout: {
          image_id: await imageId(ctx, o.image),
          batch_size: o.batchSize,
          deadline: o.deadline,
          warn_before_seconds: o.warnBefore,
        },
      };
      const reply = await ctx.client.request("POST", `${await poolPath(ctx)}/rollout`, { body });
      printObject(ctx, reply, withoutEvents(reply.body.rollout));
    },
  );
  action(
    rollout
      .command("show")
      .description("the pool's roll-out in progress, else its last one (GET /projects/{id}/rollout)")
      .argument("<pool>", "pool (project) id or name"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `${await poolPath(ctx)}/rollout`);
      printObject(ctx, reply, withEvents(reply.body.rollout));
    },
  );
  for (const [name, what] of [
    ["pause", "stop replacing instances until resume"],
    ["resume", "go on replacing instances"],
    ["rollback", "roll back to the image before the last roll-out"],
  ] as const) {
    action(
      rollout
        .command(name)
        .description(`${what} (POST /projects/{id}/rollout/${name})`)
        .argument("<pool>", "pool (project) id or name"),
      async (ctx) => {
        const reply = await ctx.client.request("POST", `${await poolPath(ctx)}/rollout/${name}`);
        printObject(ctx, reply, withoutEvents(reply.body.rollout));
      },
    );
  }
  return rollout;
}

const withoutEvents = (r: Record<string, unknown>) => {
  const { events: _events, ...rest } = r;
  return rest;
};

/** The events as lines "time kind: message", readable in a table. */
const withEvents = (r: Record<string, unknown>) => ({
  ...withoutEvents(r),
  events: ((r.events as { at: string; kind: string; message: string }[]) ?? [])
    .map((e) => `${e.at} ${e.kind}: ${e.message}`)
    .join("\n"),
});

/** `instances drain` and `instances undrain`. */
export function instanceDrainCommands(instances: Command): void {
  for (const name of ["drain", "undrain"] as const) {
    action(
      instances
        .command(name)
        .description(
          name === "drain"
            ? "no new user gets this instance; its users keep it (POST /servers/{id}/drain)"
            : "put a drained instance back in service (POST /servers/{id}/undrain)",
        )
        .argument("<instance>", "instance id or name"),
      async (ctx) => {
        const id = await instanceId(ctx, ctx.args[0]);
        const reply = await ctx.client.request("POST", `/servers/${enc(id)}/${name}`);
        printObject(ctx, reply, reply.body.server);
      },
    );
  }
}
