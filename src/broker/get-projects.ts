// POST /v1/get-projects/: the names of the TRS projects the user may ask a desktop from.
import { Type as T } from "@sinclair/typebox";
import type { BrokerRoutes } from "./app.ts";

const Str = (description: string) => T.String({ minLength: 1, maxLength: 4096, description });

const GetProjectsBody = T.Object({
  user: Str("User name."),
  password: Str("User password."),
  user_domain_name: T.Optional(Str("User domain name (default: Default).")),
  otp: T.Optional(T.Union([T.String({ minLength: 1, maxLength: 16 }), T.Integer({ minimum: 0 })])),
});

export const getProjectsRoute: BrokerRoutes = (app, { core }) => {
  app.post(
    "/get-projects",
    { schema: { tags: ["broker"], summary: "Names of the user's TRS projects", body: GetProjectsBody } },
    async (req) => {
      const b = req.body;
      const projects = await core.broker.getProjects({
        user: b.user,
        password: b.password,
        userDomainName: b.user_domain_name ?? "Default",
        otp: b.otp === undefined ? undefined : String(b.otp),
      });
      return { projects };
    },
  );
};
