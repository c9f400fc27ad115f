// `rs-server volume-assignments ...`: which user's data volume belongs to which pool
// (GET/POST /volume-assignments/, GET/DELETE /volume-assignments/{id}).
import type { Command } from "commander";
import { action, done, enc, filterOption, filterQuery, group, printList, printObject } from "./command.ts";
import { optionalId, poolId, userId } from "./names.ts";

export function volumeAssignmentsCommand(): Command {
  const va = group("volume-assignments", "users' data volumes per pool");

  action(
    va
      .command("list")
      .description("list volume assignments (GET /volume-assignments/)")
      .option("--user <user>", "only this user's (user_id; id or name)")
      .option("--pool <pool>", "only this pool's (project_id; id or name)")
      .option("--volume <id>", "only this volume's (volume_id)")
      .option(...filterOption),
    async (ctx) => {
      const o = ctx.opts;
      const [user, pool] = await Promise.all([
        optionalId(ctx, o.user, userId),
        optionalId(ctx, o.pool, poolId),
      ]);
      const query = filterQuery(o.filter, { user_id: user, project_id: pool, volume_id: o.volume });
      const reply = await ctx.client.request("GET", "/volume-assignments/", { query });
      printList(ctx, reply, reply.body["volume-assignments"], [
        { header: "ID", value: "id" },
        { header: "User", value: "user_id" },
        { header: "Pool", value: "project_id" },
        { header: "Volume", value: "volume_id" },
      ]);
    },
  );

  action(
    va
      .command("show")
      .description("show one volume assignment (GET /volume-assignments/{id})")
      .argument("<id>", "volume assignment id (a number)"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `/volume-assignments/${enc(ctx.args[0])}`);
      printObject(ctx, reply, reply.body["volume-assignment"]);
    },
  );

  action(
    va
      .command("create")
      .description("record that a Cinder volume is a user's volume in a pool (POST /volume-assignments/)")
      .requiredOption("--user <user>", "user id or name")
      .requiredOption("--pool <pool>", "pool (project) id or name")
      .requiredOption("--volume <id>", "Cinder volume id"),
    async (ctx) => {
      const o = ctx.opts;
      const [user, pool] = await Promise.all([userId(ctx, o.user), poolId(ctx, o.pool)]);
      const body = { user_id: user, project_id: pool, volume_id: o.volume };
      const reply = await ctx.client.request("POST", "/volume-assignments/", { body });
      printObject(ctx, reply, reply.body["volume-assignment"]);
    },
  );

  action(
    va
      .command("delete")
      .description("delete a volume assignment; the volume stays in Cinder (DELETE /volume-assignments/{id})")
      .argument("<id>", "volume assignment id"),
    async (ctx) => {
      await ctx.client.request("DELETE", `/volume-assignments/${enc(ctx.args[0])}`);
      done(ctx, `deleted volume assignment ${ctx.args[0]}`);
    },
    { prints: false },
  );

  return va;
}
