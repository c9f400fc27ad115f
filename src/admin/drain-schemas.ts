// Schemas of the drain and roll-out routes (admin/drain.ts) and of the keys they add to the
// project and server objects (issue 16).
import { Type as T } from "@sinclair/typebox";
import { errors, Id, Timestamp } from "./wire.ts";

export const Rollout = T.Object(
  {
    id: T.String({ description: "Roll-out id, also its task's id (GET /v1/tasks/{id})." }),
    state: T.String({ description: "running, paused, completed, rolled_back or superseded." }),
    from_image_id: T.String({ description: "The pool's image before the roll-out." }),
    to_image_id: T.String({ description: "The image instances are rebuilt from." }),
    old: T.Integer({ description: "Live instances still built from another image." }),
    new: T.Integer({ description: "Live instances built from to_image_id (or of unknown image)." }),
    old_assigned: T.Integer({ description: "Of the old ones, those with a user or a group." }),
    replaced: T.Integer({ description: "Instances this roll-out replaced so far." }),
    batch_size: T.Integer({ description: "At most this many replaced per step, and builds in flight." }),
    deadline: Timestamp("When desktops still in use are replaced anyway (null: when their sessions close)."),
    warn_before_seconds: T.Integer({ description: "How long before the deadline their users are warned." }),
    warned_at: Timestamp("When the warning was given."),
    created_by: T.Union([T.String(), T.Null()], {
      description: "The user id that began it (null: the system).",
    }),
    created_at: Timestamp("When it began."),
    finished_at: Timestamp("When it ended (completed, rolled back or superseded)."),
    events: T.Optional(
      T.Array(T.Object({ at: T.String(), kind: T.String(), message: T.String() }), {
        description:
          "What happened, oldest first: started, paused, running, warning, deadline, replaced, error, completed, rolled_back, superseded (GET .../rollout only).",
      }),
    ),
  },
  { description: "Extension: the project's golden-image roll-out in progress, else its last one." },
);

export const rolloutExample = {
  id: "0c7d3b0e-8a53-4a43-a0a4-c7f1d7b6d1a2",
  state: "running",
  from_image_id: "bdd277be-ebf3-4ff7-8c05-c6f20cbddd61",
  to_image_id: "7c4e1d5a-93b5-4c9f-8d7b-0b1f2e9d6c11",
  old: 6,
  new: 14,
  old_assigned: 4,
  replaced: 12,
  batch_size: 2,
  deadline: "2024-05-06T18:00:00",
  warn_before_seconds: 900,
  warned_at: null,
  created_by: "d91232fa14ad4e41980ad82dc9ea3929",
  created_at: "2024-05-06T10:15:40",
  finished_at: null,
};

/** The keys drain and roll-out add to the project object. */
export const projectKeys = {
  draining: T.Optional(
    T.Boolean({ description: "Extension: no new allocation goes to the project (POST .../drain)." }),
  ),
  drain_reason: T.Optional(T.Union([T.String(), T.Null()], { description: "Extension: why it drains." })),
  rollout: T.Optional(Rollout),
};

/** The keys drain and roll-out add to the server object. */
export const serverKeys = {
  draining: T.Optional(
    T.Boolean({ description: "Extension: no new holder gets the instance (POST .../drain)." }),
  ),
  image_id: T.Optional(
    T.Union([T.String(), T.Null()], {
      description: "Extension: the image it was built from (null: unknown).",
    }),
  ),
};

export const ProjectParams = T.Object({ project_id: Id("Project id.") });
export const ServerParams = T.Object({ server_id: Id("Instance id.") });

export const DrainBody = T.Optional(
  T.Object({
    reason: T.Optional(
      T.Union([T.String({ maxLength: 255 }), T.Null()], { description: "Why (shown in lists)." }),
    ),
  }),
);

const RolloutOptions = {
  batch_size: T.Optional(
    T.Integer({ minimum: 1, maximum: 1000, description: "Default rollout.batchSize of the configuration." }),
  ),
  deadline: T.Optional(
    T.Union([T.String({ maxLength: 64 }), T.Null()], {
      description:
        "ISO 8601: desktops still in use then are replaced anyway, their users warned warn_before_seconds before (null: only when their sessions close).",
    }),
  ),
  warn_before_seconds: T.Optional(
    T.Integer({ minimum: 0, maximum: 604800, description: "Default rollout.warnBeforeSeconds." }),
  ),
};

export const RolloutBody = T.Object(
  { rollout: T.Object({ image_id: Id("The new image (Glance id)."), ...RolloutOptions }) },
  {
    examples: [
      { rollout: { image_id: rolloutExample.to_image_id, batch_size: 2, deadline: "2024-05-06T18:00:00Z" } },
    ],
  },
);

export const RollbackBody = T.Optional(T.Object({ rollout: T.Optional(T.Object(RolloutOptions)) }));

export const RolloutAnswer = {
  200: T.Object({ rollout: Rollout }, { example: { rollout: rolloutExample } }),
  ...errors(400, 404, 409),
};
