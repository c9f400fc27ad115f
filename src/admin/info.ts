// Module information (#1): the server's version and its license. Admin role.
import { Type as T } from "@sinclair/typebox";
import type { AdminRoutes } from "./app.ts";
import { adminErrors } from "./tasks.ts";

const License = T.Object(
  {
    created_at: T.Optional(T.Integer({ description: "Issue time, unix seconds." })),
    expire_at: T.Optional(T.Integer({ description: "Expiry time, unix seconds." })),
    module_package: T.Optional(T.String()),
    name: T.Optional(T.String({ description: "Licensee." })),
    product: T.Optional(T.String()),
    surrogate_name: T.Optional(T.String()),
    unique_id: T.Optional(T.String()),
    verified: T.Boolean({ description: "The signature checks with the configured public key." }),
    expired: T.Boolean({ description: "Extension: expire_at has passed." }),
    error: T.Optional(T.String({ description: "Extension: why the license is not verified." })),
  },
  { description: "The license, or null when no license file is configured." },
);

const Info = T.Object(
  {
    info: T.Object({
      version: T.String({ description: "Module version number." }),
      license: T.Union([License, T.Null()]),
    }),
  },
  {
    example: {
      info: {
        license: {
          created_at: 1538141220,
          expire_at: 1545955200,
          module_package: "rs_server",
          name: "Laboratoria",
          product: "RSserver",
          surrogate_name: "RSserver",
          unique_id: "07-002-decf3c6c893561752802",
          verified: true,
          expired: false,
        },
        version: "0.1.0",
      },
    },
  },
);

export const infoRoutes: AdminRoutes = (app, { core, version }) => {
  app.get(
    "/info",
    {
      schema: {
        tags: ["info"],
        summary: "Module information",
        description: "The server's version and its license (null when none is configured).",
        response: { 200: Info, ...adminErrors },
      },
    },
    async () => ({ info: { version, license: await core.license.current() } }),
  );
};
