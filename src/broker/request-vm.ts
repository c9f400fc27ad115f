// POST /v1/request-vm/: authenticate, choose the TRS project, start the allocation; answers
// the request id, the user's token in X-Auth-Token and a password warning when there is one.
import { isIP } from "node:net";
import { Type as T } from "@sinclair/typebox";
import { BrokerCode, BrokerError } from "../core/broker-error.ts";
import type { BrokerRoutes } from "./app.ts";
import { brokerMessage, preferredLang } from "./errors.ts";

const Str = (description: string) => T.Optional(T.String({ minLength: 1, maxLength: 4096, description }));

export const RequestVmBody = T.Object(
  {
    user: Str("User name (with password)."),
    password: Str("User password."),
    user_domain_name: Str("User domain name (default: Default)."),
    token: Str("A Keystone token, instead of user and password."),
    auth_tenant: Str("TRS project name, unique within project_domain_name."),
    project_domain_name: Str("Domain of auth_tenant (default: the user's domain)."),
    ip_address: Str("Client address: the conn_type's ports are opened for it only."),
    conn_type: Str("Connection type: web, rsclient, rdp, vnc, spice, ssh."),
    os: Str("Client operating system."),
    client: Str("Client name and version."),
    otp: T.Optional(T.Union([T.String({ minLength: 1, maxLength: 16 }), T.Integer({ minimum: 0 })])),
  },
  { description: "Either token, or user and password." },
);

export const requestVmRoute: BrokerRoutes = (app, { config, core, validator }) => {
  app.post(
    "/request-vm",
    {
      schema: {
        tags: ["broker"],
        summary: "Ask for a desktop: answers a request id to poll with get-vm",
        body: RequestVmBody,
      },
    },
    async (req, reply) => {
      const b = req.body;
      const byPassword = b.user !== undefined && b.password !== undefined;
      if (b.token === undefined && !byPassword) {
        throw new BrokerError(BrokerCode.InvalidRequest, {
          reason: "give either token, or user and password",
        });
      }
      // A zone id (fe80::1%eth0) names an interface of the client's host: no rule can use it.
      if (b.ip_address !== undefined && (isIP(b.ip_address) === 0 || b.ip_address.includes("%"))) {
        throw new BrokerError(BrokerCode.InvalidRequest, { reason: "ip_address is not an IP address" });
      }
      if (b.conn_type !== undefined && !Object.hasOwn(config.connTypes, b.conn_type)) {
        throw new BrokerError(BrokerCode.InvalidRequest, {
          reason: `conn_type must be one of ${Object.keys(config.connTypes).join(", ")}`,
        });
      }
      const result = await core.broker.requestVm({
        token: b.token,
        user: b.user,
        password: b.password,
        userDomainName: b.user_domain_name,
        otp: b.otp === undefined ? undefined : String(b.otp),
        authTenant: b.auth_tenant,
        projectDomainName: b.project_domain_name,
        ipAddress: b.ip_address,
        connType: b.conn_type,
        os: b.os,
        client: b.client,
        peerIp: req.ip,
      });
      // Keystone has just vouched for this token: the client's get-vm polls need not ask again.
      if (result.caller) validator.remember?.(result.token, result.caller);
      reply.header("X-Auth-Token", result.token);
      const body: Record<string, unknown> = { request_id: result.requestId };
      if (result.warning) {
        const lang = preferredLang(req.headers["accept-language"]);
        body.warning = {
          code: result.warning.code,
          message: brokerMessage(result.warning.code, result.warning.data, lang),
          data: result.warning.data,
        };
      }
      return body;
    },
  );
};
