// @ts-check
// A pool's drain switch and its golden-image roll-out (issue 16, docs/operations.md#drain-and-golden-image-roll-out):
// the draining badge with drain/undrain, the roll-out's progress (old/new instances) with
// pause, resume and rollback, and the form that begins one.
import { useState } from "preact/hooks";
import * as api from "./api.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { ErrorLine, Field, Status } from "./ui.js";

/** @param {{ pool: any, onChanged: () => void }} p */
export function PoolLifecycle({ pool, onChanged }) {
  const [reason, setReason] = useState("");
  const [image, setImage] = useState("");
  const [batch, setBatch] = useState("");
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const run = async (/** @type {() => Promise<unknown>} */ fn) => {
    setError(null);
    try {
      await fn();
      onChanged();
    } catch (err) {
      setError(/** @type {Error} */ (err).message);
    }
  };
  const r = pool.rollout;
  const total = r ? r.old + r.new : 0;
  const active = r && (r.state === "running" || r.state === "paused");
  return html`<section aria-labelledby="lifecycle-h">
    <h2 id="lifecycle-h">${t("drain.title")}</h2>
    <p id="drain-state">
      ${pool.draining ? html`<span class="badge warn">${t("drain.draining")}</span> ${pool.drain_reason ?? ""}` : html`<span class="badge good">${t("drain.inService")}</span>`}
    </p>
    ${
      pool.draining
        ? html`<button type="button" id="undrain" onClick=${() => run(() => api.call("POST", `/projects/${pool.id}/undrain`))}>${t("drain.undrain")}</button>`
        : html`<div class="inline">
            <${Field} id="drain-reason" label=${t("drain.reason")} value=${reason} onInput=${setReason} />
            <button type="button" id="drain" class="secondary" onClick=${() =>
              run(() =>
                api.call("POST", `/projects/${pool.id}/drain`, reason ? { reason } : {}),
              )}>${t("drain.drain")}</button>
          </div>`
    }
    <h3>${t("rollout.title")}</h3>
    ${
      r
        ? html`<div id="rollout">
            <p><${Status} status=${r.state} /> ${t("rollout.images", { from: r.from_image_id, to: r.to_image_id })}</p>
            <p><meter min="0" max=${total || 1} value=${r.new} aria-label=${t("rollout.progress")}></meter>
              ${t("rollout.counts", { old: r.old, new: r.new })}${r.deadline ? ` · ${t("rollout.deadline", { at: r.deadline })}` : ""}</p>
            <div class="actions">
              ${r.state === "running" ? html`<button type="button" class="secondary" onClick=${() => run(() => api.call("POST", `/projects/${pool.id}/rollout/pause`))}>${t("rollout.pause")}</button>` : null}
              ${r.state === "paused" ? html`<button type="button" onClick=${() => run(() => api.call("POST", `/projects/${pool.id}/rollout/resume`))}>${t("rollout.resume")}</button>` : null}
              ${r.state !== "rolled_back" ? html`<button type="button" class="danger" onClick=${() => run(() => api.call("POST", `/projects/${pool.id}/rollout/rollback`))}>${t("rollout.rollback")}</button>` : null}
            </div>
          </div>`
        : html`<p class="hint">${t("rollout.none")}</p>`
    }
    ${
      active
        ? null
        : html`<div class="inline">
            <${Field} id="rollout-image" label=${t("rollout.image")} value=${image} onInput=${setImage} />
            <${Field} id="rollout-batch" label=${t("rollout.batch")} value=${batch} onInput=${setBatch} />
            <button type="button" id="rollout-start" disabled=${!image} onClick=${() =>
              run(() =>
                api.call("POST", `/projects/${pool.id}/rollout`, {
                  rollout: { image_id: image, ...(batch ? { batch_size: Number(batch) } : {}) },
                }),
              )}>${t("rollout.start")}</button>
          </div>`
    }
    <${ErrorLine} message=${error} />
  </section>`;
}
