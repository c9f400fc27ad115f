// `rs-server floating-ips ...`: the floating IP that follows each user
// (GET /users/, GET /users/{id}, POST|PUT|DELETE /users/{id}/floating-ip).
import type { Command } from "commander";
import { action, done, enc, group, printList, printObject } from "./command.ts";
import { userId } from "./names.ts";

const columns = [
  { header: "User", value: "id" },
  { header: "Floating IP", value: "floating_ip_id" },
];

export function floatingIpsCommand(): Command {
  const fips = group("floating-ips", "floating IPs assigned to users");

  action(fips.command("list").description("users that have a floating IP (GET /users/)"), async (ctx) => {
    const reply = await ctx.client.request("GET", "/users/");
    printList(ctx, reply, reply.body.users, columns);
  });

  action(
    fips
      .command("show")
      .description("a user's floating IP, empty when none (GET /users/{id})")
      .argument("<user>", "user id or name"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `/users/${enc(await userId(ctx, ctx.args[0]))}`);
      // The API answers a list of at most one row; shown as the user's object.
      printObject(ctx, reply, reply.body.user[0]);
    },
  );

  action(
    fips
      .command("set")
      .description("give a user a floating IP, replacing theirs (PUT /users/{id}/floating-ip)")
      .argument("<user>", "user id or name")
      .argument("<floating-ip>", "Neutron floating IP id")
      .option("--no-replace", "refuse if the user already has one (POST instead of PUT)"),
    async (ctx) => {
      const [user, floatingIp] = ctx.args as [string, string];
      const method = ctx.opts.replace ? "PUT" : "POST";
      await ctx.client.request(method, `/users/${enc(await userId(ctx, user))}/floating-ip`, {
        body: { floating_ip_id: floatingIp },
      });
      done(ctx, `user ${user} has floating IP ${floatingIp}`);
    },
    { prints: false },
  );

  action(
    fips
      .command("delete")
      .description(
        "remove a user's floating IP assignment; Neutron is not touched (DELETE /users/{id}/floating-ip)",
      )
      .argument("<user>", "user id or name"),
    async (ctx) => {
      await ctx.client.request("DELETE", `/users/${enc(await userId(ctx, ctx.args[0]))}/floating-ip`);
      done(ctx, `user ${ctx.args[0]} has no floating IP`);
    },
    { prints: false },
  );

  return fips;
}
