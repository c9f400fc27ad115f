// Where the CLI's token comes from, as the OpenStack tools decide it: --token or OS_TOKEN as
// given; else a cloud of clouds.yaml (--os-cloud or OS_CLOUD); else the OS_* variables. The last
// two log in to Keystone with the existing password auth and ask for a token scoped as the
// OpenStack tools would: the system (OS_SYSTEM_SCOPE=all, clouds.yaml `system_scope: all`),
// a project, or a domain (OS_DOMAIN_NAME/OS_DOMAIN_ID with no project), since what the admin
// API allows depends on that scope (docs/security.md#scopes).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { cloudsSearchPath, credentialsFromCloudsYaml, keystoneV3Url } from "../../cloud/clouds-yaml.ts";
import { isCloudError } from "../../cloud/http.ts";
import { type AuthScope, KeystoneAuth, type UserRef } from "../../cloud/keystone-auth.ts";
import { CliError } from "./client.ts";

export interface CredentialOptions {
  token?: string;
  osCloud?: string;
  cloudsFile?: string;
  dataDir?: string;
}

export interface PasswordLogin {
  authUrl: string;
  user: UserRef;
  password: string;
  scope: AuthScope;
  /** Says where the credentials came from, for error messages. */
  source: string;
}

const KEYSTONE_TIMEOUT_MS = 30_000;

/** clouds.yaml files in the order they are searched; an explicit --clouds-file is the only one. */
export function cloudsFileCandidates(opts: CredentialOptions, env = process.env): string[] {
  if (opts.cloudsFile) return [resolve(opts.cloudsFile)];
  // The file `npm start` writes next to its database: first when --data-dir names it, else last.
  const dataDirFile = join(resolve(opts.dataDir ?? env.RS_SERVER_DATA_DIR ?? ".data"), "clouds.yaml");
  const standard = [env.OS_CLIENT_CONFIG_FILE, ...cloudsSearchPath()].filter((f): f is string => Boolean(f));
  return opts.dataDir ? [dataDirFile, ...standard] : [...standard, dataDirFile];
}

/** Whether the file exists, parses, and has the cloud. */
function hasCloud(file: string, cloud: string): boolean {
  try {
    const doc = parse(readFileSync(file, "utf8")) as { clouds?: Record<string, unknown> } | null;
    return Boolean(doc?.clouds?.[cloud]);
  } catch {
    return false;
  }
}

export function loginFromCloud(cloud: string, opts: CredentialOptions, env = process.env): PasswordLogin {
  const candidates = cloudsFileCandidates(opts, env);
  const file = candidates.find((f) => hasCloud(f, cloud));
  if (!file) {
    throw new CliError(`cloud ${cloud} is not in any clouds.yaml (looked in ${candidates.join(", ")})`, 2);
  }
  let creds: ReturnType<typeof credentialsFromCloudsYaml>;
  try {
    creds = credentialsFromCloudsYaml(file, cloud, {
      timeoutMs: KEYSTONE_TIMEOUT_MS,
      retries: 0,
      interface: "public",
    });
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  return {
    authUrl: creds.authUrl,
    user: { username: creds.username, userDomainName: creds.userDomainName },
    password: creds.password,
    scope: cloudScope(file, cloud) ?? {
      projectName: creds.projectName,
      projectDomainName: creds.projectDomainName,
    },
    source: `cloud ${cloud} of ${file}`,
  };
}

/** A cloud's system or domain scope (`system_scope: all`; `domain_id`/`domain_name` with no project). */
function cloudScope(file: string, cloud: string): AuthScope | undefined {
  const doc = parse(readFileSync(file, "utf8")) as {
    clouds?: Record<string, { auth?: Record<string, string> }>;
  };
  const auth = doc.clouds?.[cloud]?.auth ?? {};
  if (auth.system_scope === "all") return { system: "all" };
  if (auth.project_name || auth.project_id) return undefined;
  if (auth.domain_id) return { domainId: auth.domain_id };
  if (auth.domain_name) return { domainName: auth.domain_name };
  return undefined;
}

export function loginFromEnv(env = process.env): PasswordLogin | undefined {
  if (!env.OS_AUTH_URL) return undefined;
  const missing = ["OS_USERNAME", "OS_PASSWORD"].filter((k) => !env[k]);
  const project = Boolean(env.OS_PROJECT_NAME || env.OS_PROJECT_ID);
  // As openstackclient: the system scope when asked, else the project, else the domain.
  const scope: AuthScope | undefined =
    env.OS_SYSTEM_SCOPE === "all"
      ? { system: "all" }
      : project
        ? undefined
        : env.OS_DOMAIN_ID
          ? { domainId: env.OS_DOMAIN_ID }
          : env.OS_DOMAIN_NAME
            ? { domainName: env.OS_DOMAIN_NAME }
            : undefined;
  if (!project && !scope) missing.push("OS_PROJECT_NAME (or OS_SYSTEM_SCOPE=all, or OS_DOMAIN_NAME)");
  if (missing.length > 0) throw new CliError(`OS_AUTH_URL is set but ${missing.join(", ")} is not`, 2);
  const authUrl = keystoneV3Url(env.OS_AUTH_URL);
  const projectDomain = env.OS_PROJECT_DOMAIN_NAME ?? env.OS_DOMAIN_NAME;
  return {
    authUrl,
    user: env.OS_USER_DOMAIN_ID
      ? { username: env.OS_USERNAME!, userDomainId: env.OS_USER_DOMAIN_ID }
      : {
          username: env.OS_USERNAME!,
          userDomainName: env.OS_USER_DOMAIN_NAME ?? env.OS_DOMAIN_NAME ?? "Default",
        },
    password: env.OS_PASSWORD!,
    scope: scope ?? projectScope(env, projectDomain),
    source: "the OS_* environment",
  };
}

function projectScope(env: NodeJS.ProcessEnv, projectDomain: string | undefined): AuthScope {
  return env.OS_PROJECT_ID
    ? { projectId: env.OS_PROJECT_ID }
    : env.OS_PROJECT_DOMAIN_ID
      ? { projectName: env.OS_PROJECT_NAME!, projectDomainId: env.OS_PROJECT_DOMAIN_ID }
      : { projectName: env.OS_PROJECT_NAME!, projectDomainName: projectDomain ?? "Default" };
}

/** Logs in to Keystone; every refusal or outage becomes a CliError that says which. */
export async function issueToken(login: PasswordLogin): Promise<string> {
  const who = "username" in login.user ? login.user.username : login.user.userId;
  let outcome: Awaited<ReturnType<KeystoneAuth["password"]>>;
  try {
    outcome = await KeystoneAuth.forUrl(login.authUrl, KEYSTONE_TIMEOUT_MS, 0).password(
      login.user,
      login.password,
      login.scope,
    );
  } catch (err) {
    if (isCloudError(err))
      throw new CliError(`Keystone at ${login.authUrl} refused the login: ${err.message}`);
    throw err;
  }
  switch (outcome.kind) {
    case "ok":
      return outcome.token;
    case "invalid_credentials":
      throw new CliError(
        `Keystone at ${login.authUrl} refused the credentials of ${who} from ${login.source} (wrong user, password, domain or project)`,
      );
    case "unavailable":
      throw new CliError(`cannot reach Keystone at ${login.authUrl}: ${outcome.message}`);
    case "mfa_required":
      throw new CliError(`${who} needs a second factor: issue a token with it and pass --token`);
    case "password_expired":
      throw new CliError(`the password of ${who} has expired: change it, then retry`);
    case "user_disabled":
      throw new CliError(`the account of ${who} is disabled`);
    default:
      throw new CliError(`Keystone at ${login.authUrl} refused the login of ${who} (${outcome.kind})`);
  }
}

export interface Login {
  token: string;
  /** Keystone's v3 URL when known (a password login, or OS_AUTH_URL beside a token): the CLI
   * reads the service catalog there to look flavors, images and networks up by name. */
  authUrl?: string;
}

/** The token to send: given, or issued by Keystone from the first source of credentials found. */
export async function resolveLogin(opts: CredentialOptions, env = process.env): Promise<Login> {
  const given = (token: string): Login => ({
    token,
    authUrl: env.OS_AUTH_URL ? keystoneV3Url(env.OS_AUTH_URL) : undefined,
  });
  const login = async (l: PasswordLogin): Promise<Login> => ({
    token: await issueToken(l),
    authUrl: l.authUrl,
  });
  if (opts.token) return given(opts.token);
  if (opts.osCloud) return login(loginFromCloud(opts.osCloud, opts, env));
  if (env.OS_TOKEN) return given(env.OS_TOKEN);
  if (env.OS_CLOUD) return login(loginFromCloud(env.OS_CLOUD, opts, env));
  const fromEnv = loginFromEnv(env);
  if (fromEnv) return login(fromEnv);
  throw new CliError(
    "no credentials: pass --os-cloud <name> (e.g. rs-admin after npm start), --token, or set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME",
    2,
  );
}
