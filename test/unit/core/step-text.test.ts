// The steps' details in two languages (core/allocation/step-text.ts): `detail` stays English,
// the Russian goes to `detail_translations.ru`, plain text (an error's message) has none, and
// a detail replaced by plain text loses the old translation (no stale Russian beside new English).
import assert from "node:assert/strict";
import { test } from "node:test";
import { StepRecorder } from "../../../src/core/allocation/step-recorder.ts";
import { bilingual, claimedText } from "../../../src/core/allocation/step-text.ts";
import type { RequestStep } from "../../../src/shared/types.ts";

test("every way a step gets its detail keeps English in detail and the Russian beside it", async () => {
  const saved: RequestStep[][] = [];
  const steps = new StepRecorder(async (s) => {
    saved.push(structuredClone(s));
  });
  await steps.run("find_instance", async (step) =>
    step.detail(claimedText({ id: "i1", name: "trs-01" }, "free")),
  );
  await steps.run(
    "wait_active",
    async (step) => {
      await steps.note(bilingual("waiting for instance i1: BUILD", "ожидание машины i1: BUILD"));
      step.detail("plain English only");
    },
    { slow: true, initial: bilingual("waiting", "ожидание") },
  );
  steps.skip("volume", bilingual("the pool has no user volumes", "в пуле нет дисков пользователей"));
  steps.instant("session", bilingual("session s1", "сеанс s1"));
  await assert.rejects(
    steps.run("client_rules", async () => {
      throw new Error("Neutron: 500");
    }),
  );
  const [found, wait, volume, session, rules] = steps.steps;
  assert.equal(found.detail, "instance i1 (trs-01), taken from the reserve");
  assert.deepEqual(found.detail_translations, { ru: "машина i1 (trs-01) взята из резерва" });
  // While it waited, its saved detail was the note, in both languages.
  assert.deepEqual(saved.map((s) => s.at(-1)?.detail_translations?.ru).filter(Boolean), [
    "ожидание",
    "ожидание машины i1: BUILD",
  ]);
  assert.equal(wait.detail, "plain English only");
  assert.equal(wait.detail_translations, undefined);
  assert.deepEqual(volume.detail_translations, { ru: "в пуле нет дисков пользователей" });
  assert.deepEqual(session.detail_translations, { ru: "сеанс s1" });
  assert.equal(rules.detail, "Neutron: 500");
  assert.equal(rules.detail_translations, undefined);
});
