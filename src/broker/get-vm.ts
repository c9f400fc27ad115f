// POST /v1/get-vm/: the state of a request for its owner (the token's user): pending,
// in_progress or completed with the instance, or the request's own error code; `steps`
// (an extension) tells what was done so far and how long each step took.
import { Type as T } from "@sinclair/typebox";
import { BrokerCode, BrokerError, orKeystoneUnavailable } from "../core/broker-error.ts";
import type { RequestStep } from "../shared/types.ts";
import { type BrokerRoutes, sendBrokerError } from "./app.ts";

const GetVmBody = T.Object({
  request: T.String({ minLength: 1, maxLength: 200, description: "Request id." }),
});

/** Steps as clients read them: times in UTC without offset, as every timestamp we answer. */
function stepsView(steps: RequestStep[]) {
  return steps.map((s) => ({ ...s, started_at: s.started_at.replace(/Z$/, "") }));
}

export function tokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authz = headers.authorization;
  const bearer = typeof authz === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(authz)?.[1] : undefined;
  if (bearer) return bearer;
  const x = headers["x-auth-token"];
  return typeof x === "string" && x ? x : undefined;
}

export const getVmRoute: BrokerRoutes = (app, { core, validator }) => {
  app.post(
    "/get-vm",
    {
      schema: {
        tags: ["broker"],
        summary: "State of a request-vm request: status, server and steps",
        body: GetVmBody,
      },
    },
    async (req, reply) => {
      const token = tokenOf(req.headers);
      if (!token)
        throw new BrokerError(BrokerCode.TokenInvalid, {}, "no token in Authorization or X-Auth-Token");
      const caller = await orKeystoneUnavailable(() => validator.validate(token));
      if (!caller) throw new BrokerError(BrokerCode.TokenInvalid, {}, "Keystone does not accept the token");
      req.caller = caller; // for the log of a broker error (http/request-log.ts)
      const result = await core.broker.getVm(caller.userId, req.body.request);
      if (result.kind === "failed") {
        return sendBrokerError(reply, result.code, result.data, { steps: stepsView(result.steps) });
      }
      return {
        status: result.status,
        message: result.message,
        server: result.server,
        steps: stepsView(result.steps),
      };
    },
  );
};
