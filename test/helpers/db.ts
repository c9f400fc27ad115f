// A fresh, migrated database per test file on the run's PostgreSQL (see scripts/test.mjs).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { connect, migrate, type Store } from "../../src/store/db.ts";

export async function createTestStore(): Promise<Store> {
  const adminUrl = process.env.RS_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("RS_TEST_DATABASE_URL is not set: run the tests with `npm test`");
  const name = `rs_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = connect(url.toString(), 10);
  await migrate(db);
  return {
    db,
    url: url.toString(),
    async close() {
      await db.destroy();
      const c = new pg.Client(adminUrl);
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A bare pool row (Standard mode) for the store tests: no Keystone project behind it. */
export async function insertTestPool(db: Store["db"], id = "p1", imageId = "img"): Promise<void> {
  await db
    .insertInto("pools")
    .values({
      id,
      name: id,
      domain_id: "default",
      flavor_id: "f",
      image_id: imageId,
      instance_name_pattern: "x",
      operation_mode: "1",
    })
    .execute();
}
