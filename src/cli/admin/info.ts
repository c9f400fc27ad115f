// `rs-server info`: the server's version and license (GET /info).
import type { Command } from "commander";
import { action, group, show } from "./command.ts";
import { fields } from "./table.ts";

export function infoCommand(): Command {
  return action(group("info", "the admin API's version and license (GET /info)"), async (ctx) => {
    const reply = await ctx.client.request("GET", "/info");
    show(ctx, reply, (b) => fields({ ...b.info, license: b.info.license ?? "none" }));
  });
}
