// Opens the store: the configured PostgreSQL, or the embedded one; applies the migrations.
import { Kysely, Migrator, PostgresDialect } from "kysely";
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
}

export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new Error(`migration ${failed ?? ""} failed: ${(error as Error).message}`);
  }
}

export function connect(url: string, poolSize: number): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: poolSize }) }),
  });
}

async function ensureDatabase(adminUrl: string, name: string) {
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
  } finally {
    await client.end();
  }
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  let url = options.url;
  let embedded: EmbeddedDatabase | undefined;
  if (!url) {
    embedded = await startEmbeddedPostgres(options.dataDir, options.embeddedPort, options.onLog);
    await ensureDatabase(embedded.url("postgres"), "rs_server");
    url = embedded.url("rs_server");
  }
  const db = connect(url, options.poolSize);
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    await embedded?.stop();
    throw err;
  }
  return {
    db,
    url,
    embedded,
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
