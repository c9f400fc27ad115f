// Reads a cloud from clouds.yaml (the format every OpenStack client uses).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { CloudCredentials } from "./session.ts";

const SEARCH_PATH = () => [
  join(process.cwd(), "clouds.yaml"),
  join(homedir(), ".config", "openstack", "clouds.yaml"),
  "/etc/openstack/clouds.yaml",
];

export function findCloudsFile(explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (process.env.OS_CLIENT_CONFIG_FILE) return process.env.OS_CLIENT_CONFIG_FILE;
  return SEARCH_PATH().find((p) => existsSync(p));
}

export function credentialsFromCloudsYaml(
  file: string,
  cloud: string,
  defaults: Pick<CloudCredentials, "timeoutMs" | "retries" | "interface">,
): CloudCredentials {
  const doc = parse(readFileSync(file, "utf8")) as { clouds?: Record<string, any> };
  const entry = doc?.clouds?.[cloud];
  if (!entry) throw new Error(`cloud ${cloud} not found in ${file}`);
  const auth = entry.auth ?? {};
  if (!auth.auth_url || !auth.username || !auth.password) {
    throw new Error(`cloud ${cloud} in ${file} needs auth.auth_url, auth.username and auth.password`);
  }
  let authUrl = String(auth.auth_url).replace(/\/+$/, "");
  if (!/\/v3$/.test(authUrl)) authUrl = `${authUrl}/v3`;
  return {
    authUrl,
    username: auth.username,
    password: auth.password,
    userDomainName: auth.user_domain_name ?? auth.domain_name ?? "Default",
    projectName: auth.project_name ?? "admin",
    projectDomainName: auth.project_domain_name ?? auth.domain_name ?? "Default",
    region: entry.region_name || undefined,
    interface: entry.interface ?? defaults.interface,
    timeoutMs: defaults.timeoutMs,
    retries: defaults.retries,
  };
}
