// Reads a cloud from clouds.yaml (the format every OpenStack client uses).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { CloudCredentials } from "./session.ts";

/** Where OpenStack clients look for clouds.yaml, after OS_CLIENT_CONFIG_FILE. */
export const cloudsSearchPath = () => [
  join(process.cwd(), "clouds.yaml"),
  join(homedir(), ".config", "openstack", "clouds.yaml"),
  "/etc/openstack/clouds.yaml",
];

/** A Keystone auth URL as rs-server calls it: no trailing slash, ending in /v3. */
export function keystoneV3Url(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

export function findCloudsFile(explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (process.env.OS_CLIENT_CONFIG_FILE) return process.env.OS_CLIENT_CONFIG_FILE;
  return cloudsSearchPath().find((p) => existsSync(p));
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
  return {
    authUrl: keystoneV3Url(String(auth.auth_url)),
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
