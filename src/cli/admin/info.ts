// `rs-server info`: the server's version and license (GET /info).
import type { Command } from "commander";
import { action, group, printObject } from "./command.ts";

export function infoCommand(): Command {
  return action(group("info", "the admin API's version and license (GET /info)"), async (ctx) => {
    const reply = await ctx.client.request("GET", "/info");
    printObject(ctx, reply, reply.body.info);
  });
}
