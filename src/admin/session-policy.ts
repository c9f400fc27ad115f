// The pool's `session_policy` object on the wire (extension, issue 16): its input beside the
// reference's pool keys (POST/PUT /v1/projects) and its answer in the project object.
import { Type as T } from "@sinclair/typebox";
import type { PoolView } from "../core/pools.ts";
import { type SessionPolicy, sessionPolicyOf } from "../core/session-policy.ts";

const Minutes = (description: string) =>
  T.Union([T.Integer({ minimum: 1, maximum: 525600 }), T.Null()], { description });
const AfterSession = T.Union([T.Literal("keep"), T.Literal("rebuild"), T.Literal("replace")], {
  description:
    "What becomes of a desktop once its session has ended (no session open on it, a minute's grace): keep " +
    "(stays assigned: persistent), rebuild (unassigned, rebuilt from the pool's image, back to the reserve), " +
    "replace (unassigned and deleted; the reserve builds a new one). A desktop a group holds is always kept.",
});

export const SessionPolicyInput = T.Optional(
  T.Object(
    {
      idle_minutes: T.Optional(
        Minutes("Close a session with no activity for this long (see docs/operations.md; null: never)."),
      ),
      disconnected_minutes: T.Optional(
        Minutes("Close a session its client reported disconnected this long ago (null: never)."),
      ),
      max_minutes: T.Optional(Minutes("Close a session open this long (null: no limit).")),
      after_session: T.Optional(AfterSession),
    },
    {
      additionalProperties: false,
      description: "Extension: session policies of the pool; only the keys given change.",
    },
  ),
);

export const SessionPolicyOutput = T.Object(
  {
    idle_minutes: T.Union([T.Integer(), T.Null()]),
    disconnected_minutes: T.Union([T.Integer(), T.Null()]),
    max_minutes: T.Union([T.Integer(), T.Null()]),
    after_session: T.String({ description: "keep, rebuild or replace." }),
  },
  { description: "Extension: the pool's session policies (docs/operations.md, Session policies)." },
);

export const sessionPolicyExample: SessionPolicy = {
  idle_minutes: 30,
  disconnected_minutes: 15,
  max_minutes: 600,
  after_session: "rebuild",
};

export const sessionPolicyJson = (view: PoolView): SessionPolicy => sessionPolicyOf(view.pool);
