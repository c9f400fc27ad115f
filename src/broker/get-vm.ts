// POST /v1/get-vm/: the state of a request for its owner (the token's user): pending,
// in_progress or completed with the instance, or the request's own error code; `steps`
// (an extension) tells what was done so far and how long each step took.
import { Type as T } from "@sinclair/typebox";
import type { RequestStep } from "../shared/types.ts";
import { type BrokerRoutes, sendBrokerError } from "./app.ts";
import { brokerCaller } from "./caller.ts";

const GetVmBody = T.Object({
  request: T.String({ minLength: 1, maxLength: 200, description: "Request id." }),
});

/** Steps as clients read them: times in UTC without offset, as every timestamp we answer. */
function stepsView(steps: RequestStep[]) {
  return steps.map((s) => ({ ...s, started_at: s.started_at.replace(/Z$/, "") }));
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
      const caller = await brokerCaller(req, validator);
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
