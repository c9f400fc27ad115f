// POST /v1/console-ticket/ (extension): the user's way into their desktop from the browser.
// For a completed request of the token's user: a single-use ticket for the broker's console
// gateway (GATEWAY_PATH, valid console.ticketTtlSeconds), or for pools using Nova's console the
// URL of Nova's own noVNC or SPICE HTML5 page. Errors as every broker route: 24 no or bad token,
// 10 unknown request, 11 someone else's (or a desktop no longer theirs), 9 not completed,
// 18 no recorded address, 17 Nova refuses a console in the server's state.
import { Type as T } from "@sinclair/typebox";
import type { BrokerRoutes } from "./app.ts";
import { brokerCaller } from "./caller.ts";
import { GATEWAY_PATH } from "./console-gateway.ts";

const ConsoleTicketBody = T.Object({
  request: T.String({ minLength: 1, maxLength: 200, description: "A completed request's id." }),
  os: T.Optional(T.String({ minLength: 1, maxLength: 255, description: "Client operating system." })),
  client: T.Optional(T.String({ minLength: 1, maxLength: 255, description: "Client name and version." })),
});

export const consoleTicketRoute: BrokerRoutes = (app, { core, validator }) => {
  app.post(
    "/console-ticket",
    {
      schema: {
        tags: ["broker"],
        summary: "Open the desktop in the browser: a console ticket for the gateway, or Nova's console URL",
        body: ConsoleTicketBody,
      },
    },
    async (req, reply) => {
      const caller = await brokerCaller(req, validator);
      const access = await core.console.open({
        userId: caller.userId,
        userName: caller.userName,
        requestId: req.body.request,
        clientOs: req.body.os,
        clientInfo: req.body.client,
      });
      reply.header("Cache-Control", "no-store");
      if (access.kind === "nova") {
        return { kind: "nova", protocol: access.protocol, type: access.type, url: access.url };
      }
      return {
        kind: "gateway",
        ticket: access.ticket,
        expires_at: access.expiresAt.toISOString().replace(/Z$/, ""),
        path: `${GATEWAY_PATH}?ticket=${access.ticket}`,
      };
    },
  );
};
