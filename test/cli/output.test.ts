// The openstackclient output formats of the operator CLI, on fixed rows: what `-f`, `-c` and
// `--noindent` print for a list and for one object (no server needed).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { CliError } from "../../src/cli/admin/client.ts";
import { type OutputOptions, renderList, renderObject } from "../../src/cli/admin/output.ts";

const rows = [
  { id: "a1", name: 'say "hi"', size: 3, enabled: true, tags: ["x", "y"], note: null },
  { id: "b2", name: "two words", size: 10, enabled: false, tags: [], note: "line 1\nline 2" },
];
const columns = [
  { header: "ID", value: "id" },
  { header: "Name", value: "name" },
  { header: "Size", value: "size" },
  { header: "Enabled", value: "enabled" },
];
const out = (o: Partial<OutputOptions>): OutputOptions => ({
  format: "table",
  columns: [],
  noindent: false,
  ...o,
});

describe("lists", () => {
  test("table: a bordered table as openstack draws it; an empty list prints nothing", () => {
    assert.equal(
      renderList(rows, columns, out({})),
      [
        "+----+-----------+------+---------+",
        "| ID | Name      | Size | Enabled |",
        "+----+-----------+------+---------+",
        '| a1 | say "hi"  | 3    | true    |',
        "| b2 | two words | 10   | false   |",
        "+----+-----------+------+---------+",
        "",
      ].join("\n"),
    );
    assert.equal(renderList([], columns, out({})), "");
  });

  test("json: an array of objects keyed by column name, indented or on one line", () => {
    const indented = renderList(rows, columns, out({ format: "json" }));
    assert.deepEqual(JSON.parse(indented), [
      { ID: "a1", Name: 'say "hi"', Size: 3, Enabled: true },
      { ID: "b2", Name: "two words", Size: 10, Enabled: false },
    ]);
    assert.match(indented, /^\[\n {2}\{\n {4}"ID": "a1",/);
    const flat = renderList(rows, columns, out({ format: "json", noindent: true }));
    assert.equal(flat, `${JSON.stringify(JSON.parse(indented))}\n`);
    assert.equal(renderList([], columns, out({ format: "json" })), "[]\n");
  });

  test("value: bare values separated by spaces, one row per line, -c in the order given", () => {
    assert.equal(
      renderList(rows, columns, out({ format: "value", columns: ["name", "ID"] })),
      'say "hi" a1\ntwo words b2\n',
    );
  });

  test("csv: quoted text, bare numbers and booleans, quotes doubled", () => {
    assert.equal(
      renderList(rows, columns, out({ format: "csv" })),
      '"ID","Name","Size","Enabled"\n"a1","say ""hi""",3,true\n"b2","two words",10,false\n',
    );
  });

  test("yaml: one mapping per row", () => {
    assert.deepEqual(parse(renderList(rows, columns, out({ format: "yaml", columns: ["id"] }))), [
      { ID: "a1" },
      { ID: "b2" },
    ]);
  });

  test("-c takes a column by its name in any case or spelling, or any field the rows have", () => {
    const picked = renderList(rows, columns, out({ format: "json", columns: ["enabled", "tags"] }));
    assert.deepEqual(JSON.parse(picked), [
      { Enabled: true, tags: ["x", "y"] },
      { Enabled: false, tags: [] },
    ]);
    assert.throws(
      () => renderList(rows, columns, out({ columns: ["nope"] })),
      (err: CliError) =>
        err instanceof CliError &&
        err.exitCode === 2 &&
        /no column nope: choose from ID, Name, Size, Enabled, tags, note$/.test(err.message),
    );
  });
});

describe("one object", () => {
  const object = {
    id: "a1",
    name: "lab",
    reserve: { free: 2, state: "ok" },
    note: "line 1\nline 2",
    gone: null,
  };

  test("table: Field and Value, nested objects one row per key, several lines in one row", () => {
    assert.equal(
      renderObject(object, out({})),
      [
        "+---------------+--------+",
        "| Field         | Value  |",
        "+---------------+--------+",
        "| id            | a1     |",
        "| name          | lab    |",
        "| reserve.free  | 2      |",
        "| reserve.state | ok     |",
        "| note          | line 1 |",
        "|               | line 2 |",
        "| gone          |        |",
        "+---------------+--------+",
        "",
      ].join("\n"),
    );
  });

  test("json and yaml: the object with its nested objects; -c keeps the fields asked for", () => {
    assert.deepEqual(JSON.parse(renderObject(object, out({ format: "json" }))), object);
    assert.equal(
      renderObject(object, out({ format: "json", noindent: true, columns: ["reserve", "id"] })),
      '{"reserve":{"free":2,"state":"ok"},"id":"a1"}\n',
    );
    assert.deepEqual(parse(renderObject(object, out({ format: "yaml", columns: ["name", "gone"] }))), {
      name: "lab",
      gone: null,
    });
  });

  test("value: one value per line, so that `-f value -c id` prints the id alone", () => {
    assert.equal(renderObject(object, out({ format: "value", columns: ["id"] })), "a1\n");
    assert.equal(
      renderObject(object, out({ format: "value", columns: ["Name", "reserve"] })),
      'lab\n{"free":2,"state":"ok"}\n',
    );
  });

  test("csv: a header row of field names and one row of values", () => {
    assert.equal(
      renderObject(object, out({ format: "csv", columns: ["id", "gone"] })),
      '"id","gone"\n"a1",""\n',
    );
  });

  test("-c naming no field is a usage error that lists the fields", () => {
    assert.throws(
      () => renderObject(object, out({ columns: ["ID", "colour"] })),
      (err: CliError) =>
        err instanceof CliError &&
        err.exitCode === 2 &&
        /no column colour: choose from id, name, reserve, note, gone/.test(err.message),
    );
  });
});
