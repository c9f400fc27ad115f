// POST /v1/change-password/: the user changes their own password (Keystone self-service, or
// the operator's Kerberos script).
import { Type as T } from "@sinclair/typebox";
import type { BrokerRoutes } from "./app.ts";

const Str = (description: string) => T.String({ minLength: 1, maxLength: 4096, description });

const ChangePasswordBody = T.Object({
  user: Str("User name."),
  user_domain_name: T.Optional(Str("User domain name (default: Default).")),
  password: Str("Current password."),
  new_password: Str("New password."),
});

export const changePasswordRoute: BrokerRoutes = (app, { core }) => {
  app.post(
    "/change-password",
    { schema: { tags: ["broker"], summary: "Change the user's password", body: ChangePasswordBody } },
    async (req) => {
      const b = req.body;
      const message = await core.broker.changePassword({
        user: b.user,
        userDomainName: b.user_domain_name ?? "Default",
        password: b.password,
        newPassword: b.new_password,
      });
      return { message };
    },
  );
};
