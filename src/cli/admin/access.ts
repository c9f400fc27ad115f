// `rs-server pools access list|grant|revoke`: who may use a pool through the broker, i.e. who
// holds the configured access role on the pool's Keystone project (GET /projects/{id}/access,
// PUT|DELETE /projects/{id}/access/users|groups/{id}). An assignment alone is not enough: the
// broker refuses a user without that role (code 5).
import type { Command } from "commander";
import { CliError } from "./client.ts";
import { action, type Ctx, done, enc, group, printList } from "./command.ts";
import { groupId, poolId, userId } from "./names.ts";
import type { Row } from "./table.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

const accessColumns = [
  { header: "Type", value: "type" },
  { header: "ID", value: "id" },
  { header: "Name", value: "name" },
  { header: "Domain", value: "domain_id" },
];

/** The --user and --group options of grant and revoke, resolved to ids, as API paths. */
async function holderPaths(ctx: Ctx): Promise<{ path: string; label: string }[]> {
  const users: string[] = ctx.opts.user ?? [];
  const groups: string[] = ctx.opts.group ?? [];
  if (users.length + groups.length === 0) throw new CliError("give --user and/or --group", 2);
  const [userIds, groupIds] = await Promise.all([
    Promise.all(users.map((u) => userId(ctx, u))),
    Promise.all(groups.map((g) => groupId(ctx, g))),
  ]);
  return [
    ...userIds.map((id, i) => ({ path: `users/${enc(id)}`, label: `user ${users[i]}` })),
    ...groupIds.map((id, i) => ({ path: `groups/${enc(id)}`, label: `group ${groups[i]}` })),
  ];
}

function holders(cmd: Command): Command {
  return cmd
    .argument("<pool>", "pool (project) id or name")
    .option("--user <user>", "a user, id or name (repeatable)", collect)
    .option("--group <group>", "a group, id or name (repeatable)", collect);
}

export function accessCommand(): Command {
  const access = group(
    "access",
    "who may use a pool through the broker: the configured access role on its Keystone project",
  );

  action(
    access
      .command("list")
      .description(
        "users and groups holding the access role on the pool's project (GET /projects/{id}/access)",
      )
      .argument("<pool>", "pool (project) id or name"),
    async (ctx) => {
      const pool = await poolId(ctx, ctx.args[0]);
      const reply = await ctx.client.request("GET", `/projects/${enc(pool)}/access`);
      const rows: Row[] = [
        ...(reply.body.users ?? []).map((u: Row) => ({ type: "user", ...u })),
        ...(reply.body.groups ?? []).map((g: Row) => ({ type: "group", ...g })),
      ];
      printList(ctx, reply, rows, accessColumns);
    },
  );

  for (const [verb, method, description] of [
    [
      "grant",
      "PUT",
      "give users or groups the access role on the pool's project (PUT .../access/users|groups/{id})",
    ],
    ["revoke", "DELETE", "take the access role away (DELETE .../access/users|groups/{id}); idempotent"],
  ] as const) {
    action(
      holders(access.command(verb).description(description)),
      async (ctx) => {
        const [pool, paths] = await Promise.all([poolId(ctx, ctx.args[0]), holderPaths(ctx)]);
        // One at a time, so that a refusal says which one and the ones before it are done.
        for (const { path, label } of paths) {
          await ctx.client.request(method, `/projects/${enc(pool)}/access/${path}`);
          done(ctx, `${verb === "grant" ? "granted" : "revoked"} access to pool ${ctx.args[0]} for ${label}`);
        }
      },
      { prints: false },
    );
  }

  return access;
}
