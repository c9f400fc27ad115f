// Every configuration option with its default and meaning. The loader reads one file (YAML
// or JSON) and then environment variables named after each option's path (see envName).
import { type Static, Type as T } from "@sinclair/typebox";

const Listen = (port: number, what: string) =>
  T.Object({
    enabled: T.Boolean({ default: true, description: `Serve the ${what}.` }),
    host: T.String({ default: "127.0.0.1", description: `Address the ${what} listens on.` }),
    port: T.Integer({ default: port, minimum: 0, maximum: 65535, description: `Port of the ${what}.` }),
    trustedProxies: T.Array(T.String(), {
      default: [],
      description:
        `Addresses or CIDRs of reverse proxies in front of the ${what} whose X-Forwarded-For names the client ` +
        "(empty: none; the client is the connection's peer). Web Guard's networks and logs use that address.",
    }),
  });

export const ConfigSchema = T.Object({
  dataDir: T.String({
    default: "./.data",
    description: "Directory for the embedded PostgreSQL, the simulator's state and clouds.yaml.",
  }),
  admin: T.Composite([
    Listen(9364, "RS server admin API"),
    T.Object({
      maxPageSize: T.Integer({
        default: 0,
        minimum: 0,
        maximum: 100000,
        description:
          "Most items one admin list answers (0: no maximum). Set, a list asked without `limit` answers its first maxPageSize items and a next link, and a larger `limit` is cut to it. 0 (the default, as the reference): a list without `limit` answers every item, GET /sessions/ streaming them from a database cursor. See docs/admin-api.md#paging-sorting-and-time-ranges--extension.",
      }),
    }),
  ]),
  broker: T.Composite([
    Listen(9365, "TRS broker API"),
    T.Object({
      portal: T.Boolean({
        default: true,
        description: "Serve the user web portal at /portal/ on the broker.",
      }),
      revealUnknownAccounts: T.Boolean({
        default: false,
        description:
          "Answer the reference's codes 16 (user not found) and 15 (domain not found) to unauthenticated callers. Off: both are answered as 6 (invalid credentials), like a wrong password, so that nobody can learn which users and domains exist; the log keeps the real code.",
      }),
    }),
  ]),
  portal: Listen(
    8888,
    "user web portal at /trs/ (the original platform's :8888; with the broker API it calls, in processes that run the broker)",
  ),
  workers: T.Object({
    enabled: T.Boolean({
      default: true,
      description: "Run background workers (tasks, reserve, reconciler).",
    }),
  }),
  database: T.Object({
    url: T.String({
      default: "",
      description: "PostgreSQL URL. Empty: start an embedded PostgreSQL in <dataDir>/pg.",
    }),
    poolSize: T.Integer({ default: 10, minimum: 1, description: "Connections per process." }),
    preparedStatements: T.Boolean({
      default: true,
      description:
        "Send the broker's hot statements (the warm claim, its completed request) as named prepared statements, parsed and planned once per connection. Turn off behind a connection pooler that does not keep prepared statements (pgbouncer in transaction mode before 1.21).",
    }),
    embeddedPort: T.Integer({
      default: 0,
      minimum: 0,
      description: "Port of the embedded PostgreSQL (0: a free port chosen at start).",
    }),
  }),
  openstack: T.Object({
    cloud: T.String({
      default: "",
      description: "Cloud name in clouds.yaml. Empty with no authUrl: start the built-in simulator.",
    }),
    cloudsFile: T.String({
      default: "",
      description: "Path of clouds.yaml (default: the usual search path).",
    }),
    authUrl: T.String({ default: "", description: "Keystone v3 URL, when not using clouds.yaml." }),
    username: T.String({ default: "", description: "Service account user name." }),
    password: T.String({ default: "", description: "Service account password." }),
    userDomainName: T.String({ default: "Default", description: "Service account user domain." }),
    projectName: T.String({ default: "admin", description: "Service account project." }),
    projectDomainName: T.String({ default: "Default", description: "Service account project domain." }),
    serviceRole: T.String({
      default: "admin",
      description:
        "Role the service account is granted on each TRS project it creates (it creates servers, ports, floating IPs and volumes there).",
    }),
    region: T.String({ default: "", description: "Region of the catalog endpoints (empty: any)." }),
    interface: T.Union([T.Literal("public"), T.Literal("internal"), T.Literal("admin")], {
      default: "public",
      description: "Catalog interface to use.",
    }),
    timeoutMs: T.Integer({ default: 30000, minimum: 100, description: "Timeout of one OpenStack call." }),
    retries: T.Integer({ default: 2, minimum: 0, description: "Retries of idempotent calls on 5xx." }),
  }),
  simulator: T.Object({
    host: T.String({ default: "127.0.0.1", description: "Address of the built-in simulator." }),
    port: T.Integer({
      default: 0,
      minimum: 0,
      description:
        "Port of the built-in simulator (0: the port it had last time on this data directory, else a free one).",
    }),
    buildDelayMs: T.Integer({ default: 2000, minimum: 0, description: "Simulated BUILD duration." }),
    instanceCidr: T.String({
      default: "10.0.0.0/16",
      description:
        "The simulator's private subnet: the addresses its instances answer at (a loopback range such as " +
        "127.0.100.0/24 lets a local VNC server stand in for a desktop; see docs/web-desktop.md).",
    }),
  }),
  auth: T.Object({
    adminRoles: T.Array(T.String(), {
      default: ["admin"],
      description:
        "Roles that grant the admin API, on a token of the scope auth.scope allows (docs/security.md#scopes).",
    }),
    tokenCacheSeconds: T.Integer({
      default: 300,
      minimum: 0,
      description:
        "How long a validated token is cached (never past its expiry). A token revoked in Keystone can still read through the admin API for this long; every change (POST, PUT, PATCH, DELETE) validates it with Keystone again.",
    }),
    invalidTokenCacheSeconds: T.Integer({
      default: 10,
      minimum: 0,
      description: "How long an invalid token is remembered.",
    }),
    tokenCacheSize: T.Integer({ default: 10000, minimum: 1, description: "Most cached tokens." }),
    scope: T.Object({
      enforce: T.Boolean({
        default: true,
        description:
          "Follow Keystone's token scopes (like oslo.policy's enforce_scope): cloud-wide admin needs the admin role on a token of a scope listed in cloudAdmin; a domain-scoped admin manages only the pools of its domain. false: any token carrying an admin role, whatever its scope, is a cloud admin (rs-server before scopes were followed; not advised).",
      }),
      cloudAdmin: T.Array(T.Union([T.Literal("system"), T.Literal("admin_project"), T.Literal("domain")]), {
        default: ["system", "admin_project"],
        uniqueItems: true,
        description:
          'Rule cloud_admin: the token scopes in which an admin role makes a cloud-wide rs-server admin. "system": a system-scoped token (oslo: system_scope:all); "admin_project": a token scoped to the admin project (auth.scope.adminProject; oslo: is_admin_project:True); "domain": any domain-scoped token (not advised). Empty: nobody.',
      }),
      domainAdmin: T.Boolean({
        default: true,
        description:
          "Rule domain_admin: the admin role on a domain-scoped token manages the pools (TRS projects) of that domain only (oslo: role:admin and domain_id:%(target.domain_id)s). false: domain-scoped tokens get nothing.",
      }),
      poolProjectAdmin: T.Boolean({
        default: true,
        description:
          "Rule pool_project_admin: the admin role on a token scoped to a pool's own Keystone project administers that one pool: reads it, creates its instances (the reference's POST /v1/servers takes the pool from the token's scope) and auto-allocates its users; it does not change, delete or grant access to the pool (oslo: role:admin and project_id:%(target.project_id)s). The admin role on a project that is not a pool grants nothing.",
      }),
      adminProject: T.String({
        default: "",
        description:
          "The admin project's name (rule cloud_admin, choice admin_project). Empty: the project of rs-server's own service account (openstack.projectName or its clouds.yaml entry).",
      }),
      adminProjectDomain: T.String({
        default: "Default",
        description: "The admin project's domain, by name or id (when auth.scope.adminProject is set).",
      }),
    }),
    userCacheSeconds: T.Integer({
      default: 0,
      minimum: 0,
      description:
        "How long the broker keeps Keystone's answers about a user's projects and groups (request-vm, get-projects, the allocation), as keystonemiddleware caches tokens; a role granted or revoked in Keystone shows after at most this long (at once when done through this process's admin API). 0: ask Keystone every time.",
    }),
    defaultDomain: T.String({ default: "default", description: "Domain id of new TRS projects." }),
  }),
  monitoring: T.Object({
    allowedFrom: T.Array(T.String(), {
      default: ["127.0.0.0/8", "::1/128"],
      description:
        'Client addresses (CIDRs, through trusted proxies) that get /health\'s details and /metrics; any other address gets /health\'s status only and a 403 for /metrics. ["0.0.0.0/0", "::/0"] lets everyone in.',
    }),
  }),
  rateLimit: T.Object({
    enabled: T.Boolean({
      default: true,
      description:
        "Count failed authentications (broker logins, invalid admin tokens) in the database and refuse a caller over a limit with HTTP 429 and Retry-After.",
    }),
    windowSeconds: T.Integer({
      default: 300,
      minimum: 1,
      description:
        "Length of the window in which failures are counted; a refused caller may try again when it ends.",
    }),
    loginFailuresPerAddress: T.Integer({
      default: 30,
      minimum: 1,
      description:
        "Failed broker authentications (request-vm, get-projects, change-password) from one client address per window.",
    }),
    loginFailuresPerUser: T.Integer({
      default: 10,
      minimum: 1,
      description:
        "Failed broker authentications of one user name (in one domain) per window, from any address.",
    }),
    invalidTokensPerAddress: T.Integer({
      default: 60,
      minimum: 1,
      description: "Missing or invalid tokens presented to the admin API from one client address per window.",
    }),
  }),
  pools: T.Object({
    instanceNamePattern: T.String({ default: "trs-**", description: "Default instance name pattern." }),
    defaultAvailabilityZone: T.String({ default: "nova", description: "Default availability zone." }),
    accessRole: T.String({
      default: "member",
      description:
        "Keystone role that PUT /v1/projects/{id}/access/users|groups/{id} grants on a pool's project (the broker admits a user holding any role on it, directly or through a group).",
    }),
  }),
  reserve: T.Object({
    intervalSeconds: T.Integer({ default: 30, minimum: 1, description: "Period of the reserve keeper." }),
    maxConcurrentBuilds: T.Integer({
      default: 50,
      minimum: 1,
      description: "Global cap of builds in flight.",
    }),
    leadSeconds: T.Integer({
      default: 900,
      minimum: 0,
      description:
        "How long before a reserve schedule's window opens the keeper starts filling to its target, so that its desktops are ACTIVE when it opens.",
    }),
    releasePerRun: T.Integer({
      default: 5,
      minimum: 1,
      description:
        "Most surplus free instances (beyond the target in effect) deleted per pool per keeper run; never one a user holds or has a session on.",
    }),
    circuitFailures: T.Integer({
      default: 1,
      minimum: 1,
      description:
        "Failed builds of a pool (since its reserve last held ACTIVE instances) that open its build circuit: no builds for a back-off growing with each opening, then one probe build (half-open).",
    }),
    readiness: T.Object({
      mode: T.Union([T.Literal("grace"), T.Literal("tcp"), T.Literal("none")], {
        default: "grace",
        description:
          "When a new ACTIVE instance may be handed out free: grace (bootGraceSeconds after ACTIVE), tcp (once rs-server connects to its port), none (at once).",
      }),
      bootGraceSeconds: T.Integer({
        default: 30,
        minimum: 0,
        description: "readiness mode grace: seconds after ACTIVE before an instance counts as ready.",
      }),
      port: T.Integer({
        default: 3389,
        minimum: 1,
        maximum: 65535,
        description: "readiness mode tcp: the desktops' connection port checked (3389: RDP).",
      }),
      timeoutMs: T.Integer({
        default: 1000,
        minimum: 1,
        description: "readiness mode tcp: how long one connection attempt may take.",
      }),
    }),
  }),
  rollout: T.Object({
    intervalSeconds: T.Integer({
      default: 30,
      minimum: 1,
      description:
        "Period of the golden-image roll-out step (docs/operations.md#drain-and-golden-image-roll-out).",
    }),
    batchSize: T.Integer({
      default: 2,
      minimum: 1,
      description:
        "Default rate of a roll-out: at most this many instances replaced per step, and no more while this many new-image builds of the pool are in flight (per roll-out: batch_size).",
    }),
    warnBeforeSeconds: T.Integer({
      default: 900,
      minimum: 0,
      description:
        "How long before a roll-out's deadline the users of desktops still on the old image are warned (per roll-out: warn_before_seconds).",
    }),
  }),
  reconcile: T.Object({
    intervalSeconds: T.Integer({ default: 60, minimum: 1, description: "Period of the reconciler." }),
    pendingRequestSeconds: T.Integer({
      default: 300,
      minimum: 1,
      description:
        "A request still `pending` this long after it was recorded, whose task was never created (the process died in between), is ended by the reconciler with code 4 (task not started).",
    }),
    buildWatchSeconds: T.Integer({
      default: 5,
      minimum: 1,
      description:
        "While instances are in BUILD in our records, how often their status is read from Nova (one listing of the servers changed since the last look).",
    }),
  }),
  allocation: T.Object({
    buildTimeoutSeconds: T.Integer({
      default: 600,
      minimum: 1,
      description: "How long an instance may stay in BUILD before it is failed or replaced.",
    }),
    pollIntervalMs: T.Integer({ default: 500, minimum: 10, description: "How often a build is polled." }),
    warmPath: T.Boolean({
      default: true,
      description:
        "request-vm hands out a free ACTIVE reserve instance at once, trusting our record of it (kept in step with Nova by the build watcher and the reconciler), when nothing else needs the cloud; false: every allocation runs as a task and asks Nova first.",
    }),
  }),
  sessions: T.Object({
    maxAgeHours: T.Integer({
      default: 24,
      minimum: 1,
      description: "Open sessions older than this are closed.",
    }),
    userSessionsPerHour: T.Integer({
      default: 60,
      minimum: 1,
      description:
        "Sessions a user (not an admin) may record on one instance through POST /v1/sessions/ within an hour; beyond it the answer is 400.",
    }),
    closeSkewSeconds: T.Integer({
      default: 300,
      minimum: 0,
      description:
        "How far in the future a closed_at given to PUT /v1/sessions/{id} may be (clock skew); later is 400.",
    }),
  }),
  retention: T.Object({
    tasksDays: T.Integer({
      default: 30,
      minimum: 0,
      description:
        "Finished tasks (SUCCESS, FAILURE, REVOKED) created more than this many days ago are deleted by the history.retention job; 0 keeps them for ever.",
    }),
    requestsDays: T.Integer({
      default: 30,
      minimum: 0,
      description:
        "Finished broker requests (completed, failed) created more than this many days ago are deleted (get-vm then answers code 10, as for any unknown request); 0 keeps them for ever. The dashboard's activity chart reaches 30 days back: less shortens it.",
    }),
    batch: T.Integer({
      default: 5000,
      minimum: 1,
      maximum: 100000,
      description: "Rows deleted per statement (a run deletes batch after batch, for at most 30 s).",
    }),
  }),
  connTypes: T.Record(T.String(), T.Array(T.String()), {
    default: { web: [], rsclient: ["5900"], rdp: ["3389"], vnc: ["5900"], spice: ["5900-5999"], ssh: ["22"] },
    description: "TCP ports (single or range) each connection type opens for the client address.",
  }),
  passwords: T.Object({
    expiryWarningSeconds: T.Integer({
      default: 7 * 24 * 3600,
      minimum: 0,
      description: "Warn (code 19) when the password expires within this window.",
    }),
  }),
  kerberos: T.Object({
    scriptPath: T.String({
      default: "",
      description:
        "Password-change script; when set, change-password runs it (secrets on stdin), once Keystone has accepted the user's current password.",
    }),
    maxConcurrent: T.Integer({
      default: 4,
      minimum: 1,
      description: "Password-change scripts running at once in one process; further changes wait their turn.",
    }),
    queueTimeoutSeconds: T.Number({
      default: 10,
      minimum: 0,
      description:
        "How long a change-password waits for a free script slot before it is answered code 22 (busy).",
    }),
  }),
  webGuard: T.Object({
    enabled: T.Boolean({ default: false, description: "Enforce the Web Guard rules on request-vm." }),
    rules: T.Array(
      T.Object({
        domain: T.Optional(T.String()),
        allowedNetworks: T.Optional(T.Array(T.String())),
        allowedConnTypes: T.Optional(T.Array(T.String())),
        allowedClients: T.Optional(T.Array(T.String())),
        minClientVersion: T.Optional(T.String()),
      }),
      {
        default: [],
        description:
          "Rules per domain (no domain: every domain), each with allowedNetworks, allowedConnTypes, " +
          "allowedClients and minClientVersion: see docs/broker-api.md, Web Guard.",
      },
    ),
  }),
  console: T.Object({
    defaultPort: T.Integer({
      default: 5900,
      minimum: 1,
      maximum: 65535,
      description:
        "Port of the desktop's VNC server that the web desktop's gateway reaches, for pools without console_port.",
    }),
    ticketTtlSeconds: T.Integer({
      default: 30,
      minimum: 1,
      maximum: 600,
      description: "How long a console ticket may wait to be used (it is single-use either way).",
    }),
    maxConnectionsPerUser: T.Integer({
      default: 4,
      minimum: 1,
      description: "Gateway connections one user may hold at once (per broker process).",
    }),
    maxConnections: T.Integer({
      default: 200,
      minimum: 1,
      description: "Gateway connections a broker process carries at once.",
    }),
    allowedOrigins: T.Array(T.String(), {
      default: [],
      description:
        "Origins (scheme://host[:port]) whose pages may open the gateway besides the broker's own, " +
        "e.g. a portal behind a TLS proxy (https://desktop.example.org). See docs/web-desktop.md.",
    }),
    sameHostOrigin: T.Boolean({
      default: true,
      description:
        "Also accept a page whose Origin names the host the WebSocket was asked of (the Host header): " +
        "the portal served by this broker on any of its names. Set false to accept allowedOrigins only.",
    }),
  }),
  license: T.Object({
    file: T.String({ default: "", description: "Path of the signed license file (empty: no license)." }),
    publicKey: T.String({ default: "", description: "Ed25519 public key (PEM) that signs licenses." }),
    enforce: T.Boolean({ default: true, description: "Refuse request-vm (code 2) on an invalid license." }),
  }),
  log: T.Object({
    level: T.String({
      default: "info",
      description:
        "pino log level (trace, debug, info, warn, error, fatal). Health checks and metrics scrapes are logged below info.",
    }),
    format: T.Union([T.Literal("auto"), T.Literal("pretty"), T.Literal("json")], {
      default: "auto",
      description:
        "Log lines as JSON (one object per line, for journald and log shippers) or pretty (one readable line per entry); auto: pretty when stdout is a terminal, JSON otherwise.",
    }),
  }),
  shutdown: T.Object({
    timeoutSeconds: T.Integer({
      default: 20,
      minimum: 0,
      description:
        "On SIGTERM or SIGINT, how long requests in flight and running tasks may take to finish before they are cut off (tasks are then re-run elsewhere).",
    }),
  }),
});

export type Config = Static<typeof ConfigSchema>;
