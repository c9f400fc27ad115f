// Opens the store: the configured PostgreSQL, or the embedded one; applies the migrations.
import { type Compilable, type CompiledQuery, Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./embedded.ts";
import { migrations } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

// bigint (int8) columns come back as strings by default; counts and serials fit in a number.
pg.types.setTypeParser(20, (v) => Number(v));

export interface Store {
  db: Kysely<Database>;
  /** The connection URL in use (for pg-boss, which opens its own pool). */
  url: string;
  embedded?: EmbeddedDatabase;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  url: string;
  dataDir: string;
  poolSize: number;
  embeddedPort?: number;
  onLog?: (line: string) => void;
  /** A pooled connection that broke (see connect). */
  onConnectionError?: ConnectionErrorHandler;
  /** Send the hot statements as named prepared statements (PREPARED; default true). */
  preparedStatements?: boolean;
}

export type ConnectionErrorHandler = (err: Error) => void;

const reportToStderr: ConnectionErrorHandler = (err) =>
  process.stderr.write(`rs-server: database connection lost: ${err.message}\n`);

export async function migrate(db: Kysely<Database>): Promise<void> {
  // Numbers are handed out in ranges to work done in parallel, so a migration can arrive after
  // a higher-numbered one already ran on a database; each touches its own columns, so one
  // that was not yet run is run then, whatever its place in the order.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new Error(`migration ${failed ?? ""} failed: ${(error as Error).message}`);
  }
}

/**
 * A pg pool for rs-server. A pg client that loses its connection (PostgreSQL restarted, the
 * backend was terminated) emits 'error', and an 'error' event nobody listens to ends the
 * process; the pool listens only while a client is idle, so each client gets a listener of
 * its own for the time Kysely holds it (a transaction). A broken client is dropped and a new
 * one opened on demand. end() waits until every connection is closed: pg's own end() returns
 * once the closes are sent, and PostgreSQL stopped right after it cut them off mid-goodbye.
 */
export class PgPool {
  readonly pool: pg.Pool;
  private readonly open = new Set<pg.PoolClient>();

  constructor(options: {
    url: string;
    max: number;
    applicationName: string;
    onError: ConnectionErrorHandler;
    prepared?: boolean;
  }) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max,
      application_name: options.applicationName,
    });
    this.pool.on("connect", (client) => {
      this.open.add(client);
      if (options.prepared !== false) preparing(client);
      client.on("error", options.onError);
      client.once("end", () => this.open.delete(client));
    });
    // Also emitted for an idle client's error, which its own listener has reported.
    this.pool.on("error", () => {});
  }

  async end(): Promise<void> {
    if (!this.pool.ending) await this.pool.end();
    await Promise.all([...this.open].map((client) => new Promise((ended) => client.once("end", ended))));
  }
}

/**
 * A statement whose text begins with `/* prepared NAME *\/` (the hot ones of the broker: the warm
 * claim, get-vm's read, the login rate limits, the user's pools) is sent as a named prepared
 * statement: each connection parses it once, and PostgreSQL may keep its plan, instead of
 * parsing and planning it at every call (the warm claim's plan cost more than its execution).
 * Other statements go as before. database.preparedStatements false turns it off (a pgbouncer
 * in transaction mode before 1.21 loses prepared statements). A marked text must not vary with
 * its values (`= ANY($1)`, not `IN ($1, $2)`): one name, one text.
 */
export const PREPARED = /^\/\* prepared ([a-z_]+) \*\//;

/** A built query sent as the named prepared statement `name` (see PREPARED). */
export function prepared<R>(name: string, query: Compilable<R>): CompiledQuery<R> {
  const compiled = query.compile();
  return { ...compiled, sql: `/* prepared ${name} */ ${compiled.sql}` };
}

/**
 * PostgreSQL refuses to run a prepared statement whose result columns changed since it was
 * prepared ("cached plan must not change result type", 0A000): a `SELECT *` on a table that
 * another rs-server's migration just gave a column, in a rolling upgrade. That call fails; the
 * connection then prepares the statement afresh under a new name, and so do the next calls.
 */
const RESULT_TYPE_CHANGED = "0A000";

function preparing(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const renamed = new Map<string, number>();
  (client as unknown as { query: unknown }).query = (text: unknown, values?: unknown, cb?: unknown) => {
    const marked = typeof text === "string" ? PREPARED.exec(text)?.[1] : undefined;
    if (!marked || !Array.isArray(values) || cb !== undefined) return query(text, values, cb);
    const generation = renamed.get(marked);
    const name = generation ? `${marked}_${generation}` : marked;
    return query({ name, text, values }).catch((err: { code?: string }) => {
      if (err?.code === RESULT_TYPE_CHANGED) renamed.set(marked, (generation ?? 0) + 1);
      throw err;
    });
  };
}

export function connect(
  url: string,
  poolSize: number,
  onError: ConnectionErrorHandler = reportToStderr,
  applicationName = "rs-server",
  prepared = true,
): Kysely<Database> {
  const pool = new PgPool({ url, max: poolSize, applicationName, onError, prepared });
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: { connect: () => pool.pool.connect(), end: () => pool.end() } }),
  });
}

async function ensureDatabase(adminUrl: string, name: string, onError: ConnectionErrorHandler) {
  const client = new pg.Client(adminUrl);
  client.on("error", onError);
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
  } finally {
    await client.end();
  }
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const onError = options.onConnectionError ?? reportToStderr;
  let url = options.url;
  let embedded: EmbeddedDatabase | undefined;
  let db: Kysely<Database> | undefined;
  try {
    if (!url) {
      embedded = await startEmbeddedPostgres(options.dataDir, {
        port: options.embeddedPort,
        onLog: options.onLog,
      });
      await ensureDatabase(embedded.url("postgres"), "rs_server", onError);
      url = embedded.url("rs_server");
    }
    db = connect(url, options.poolSize, onError, "rs-server", options.preparedStatements !== false);
    await migrate(db);
  } catch (err) {
    await db?.destroy();
    await embedded?.stop();
    throw err;
  }
  const opened = db;
  return {
    db: opened,
    url,
    embedded,
    async close() {
      // Every pool on the embedded server is closed before it stops (see runtime.ts).
      try {
        await opened.destroy();
      } finally {
        await embedded?.stop();
      }
    },
  };
}
