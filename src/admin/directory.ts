// The directory (extension): Keystone users and groups by name, for the dashboard's pickers.
// Admin role required.
import { Type as T } from "@sinclair/typebox";
import { SEARCH_LIMIT } from "../core/directory-search.ts";
import type { AdminRoutes } from "./app.ts";
import { errors } from "./wire.ts";

const Entry = T.Object({ id: T.String(), name: T.String(), domain_id: T.String(), domain_name: T.String() });
const Filter = T.Object(
  {
    name: T.Optional(T.String({ maxLength: 255, description: "Exact name." })),
    name__contains: T.Optional(T.String({ maxLength: 255, description: "Part of the name (case ignored)." })),
    domain_id: T.Optional(T.String({ maxLength: 255, description: "Domain id." })),
  },
  { additionalProperties: false },
);
const tags = ["directory"];
const example = {
  id: "d91232fa14ad4e41980ad82dc9ea3929",
  name: "alice",
  domain_id: "default",
  domain_name: "Default",
};

export const directoryRoutes: AdminRoutes = (app, { core }) => {
  const filterOf = (q: { name?: string; name__contains?: string; domain_id?: string }) => ({
    name: q.name || undefined,
    nameContains: q.name__contains || undefined,
    domainId: q.domain_id || undefined,
  });

  app.get(
    "/directory/users",
    {
      schema: {
        tags,
        summary: "Find Keystone users by name (extension)",
        description: `Users matching every filter given, sorted by name, at most ${SEARCH_LIMIT}. An unknown filter is a 400.`,
        querystring: Filter,
        response: {
          200: T.Object({ users: T.Array(Entry) }, { example: { users: [example] } }),
          ...errors(400),
        },
      },
    },
    async (req) => ({ users: await core.directorySearch.users(filterOf(req.query)) }),
  );

  app.get(
    "/directory/groups",
    {
      schema: {
        tags,
        summary: "Find Keystone groups by name (extension)",
        description: `Groups matching every filter given, sorted by name, at most ${SEARCH_LIMIT}. An unknown filter is a 400.`,
        querystring: Filter,
        response: {
          200: T.Object({ groups: T.Array(Entry) }, { example: { groups: [{ ...example, name: "staff" }] } }),
          ...errors(400),
        },
      },
    },
    async (req) => ({ groups: await core.directorySearch.groups(filterOf(req.query)) }),
  );
};
