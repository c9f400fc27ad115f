// Web Guard: the operator's rules on who may ask for a desktop from where and with what —
// client networks, connection types, client names and a minimum client version — per user
// domain (a rule without a domain applies to every domain). Every applicable rule must pass.
import { BlockList, isIP } from "node:net";
import type { Config } from "../config/schema.ts";

export type WebGuardRule = Config["webGuard"]["rules"][number];

export interface GuardedRequest {
  domainName: string;
  /** The address the request came from (a trusted proxy's X-Forwarded-For), never the body's ip_address. */
  clientIp: string | undefined;
  connType: string | undefined;
  /** The `client` field: a client name and version, e.g. "RS client 2.4.1". */
  client: string | undefined;
}

/** Compares dotted versions numerically (1.10 > 1.9). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const VERSION_RE = /(\d+(?:\.\d+)*)/;

function inNetworks(ip: string, networks: string[]): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  const list = new BlockList();
  for (const net of networks) {
    const [addr, bits] = net.split("/");
    const f = isIP(addr);
    if (f === 0) continue;
    const type = f === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list.check(ip, family === 6 ? "ipv6" : "ipv4");
}

/** Why the request breaks a rule, or undefined when it passes them all. */
export function webGuardViolation(rules: WebGuardRule[], r: GuardedRequest): string | undefined {
  const domain = r.domainName.toLowerCase();
  for (const rule of rules) {
    if (rule.domain && rule.domain.toLowerCase() !== domain) continue;
    if (rule.allowedNetworks?.length && (!r.clientIp || !inNetworks(r.clientIp, rule.allowedNetworks))) {
      return `client address ${r.clientIp ?? "(none)"} is outside the allowed networks`;
    }
    if (rule.allowedConnTypes?.length && (!r.connType || !rule.allowedConnTypes.includes(r.connType))) {
      return `connection type ${r.connType ?? "(none)"} is not allowed`;
    }
    const client = r.client?.trim() ?? "";
    if (rule.allowedClients?.length) {
      const name = client.replace(VERSION_RE, "").trim().toLowerCase();
      if (
        !rule.allowedClients.some((c) => name === c.toLowerCase() || name.startsWith(`${c.toLowerCase()} `))
      ) {
        return `client ${client || "(none)"} is not allowed`;
      }
    }
    if (rule.minClientVersion) {
      const version = VERSION_RE.exec(client)?.[1];
      if (!version || compareVersions(version, rule.minClientVersion) < 0) {
        return `client version ${version ?? "(none)"} is below ${rule.minClientVersion}`;
      }
    }
  }
  return undefined;
}
