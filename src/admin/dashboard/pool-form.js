// @ts-check
// The pool's settings: every key of the reference's create/edit body and the extensions
// (max_users_per_instance). The init script is edited as text and sent base64-encoded, as the
// API wants it. Editing sends only the keys that changed.
import { useState } from "preact/hooks";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { ErrorLine, Field } from "./ui.js";

const TEXT = [
  "name",
  "description",
  "flavor_id",
  "image_id",
  "network_id",
  "availability_zone",
  "instance_name_pattern",
  "volume_type_id",
  "tags",
];
const INTS = ["min_reserve_vm", "max_users_per_instance", "volume_size", "console_port"];

/** UTF-8 text → base64, and back. @param {string} s */
export const toBase64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
/** @param {string} b */
export function fromBase64(b) {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(b), (c) => c.charCodeAt(0)));
  } catch {
    return b;
  }
}

/** The form's values from a pool as the API answers it (with os_project). @param {any} p */
export function formOf(p) {
  const os = p?.os_project ?? {};
  return {
    name: p?.name ?? "",
    description: os.description ?? "",
    enabled: os.enabled ?? true,
    domain_id: p?.domain_id ?? "",
    tags: (os.tags ?? []).filter((/** @type {string} */ x) => x !== "trs").join(", "),
    flavor_id: p?.flavor_id ?? "",
    image_id: p?.image_id ?? "",
    network_id: p?.network_id ?? "",
    availability_zone: p?.availability_zone ?? "",
    operation_mode: p?.operation_mode ?? "1",
    max_users_per_instance: p?.max_users_per_instance == null ? "" : String(p.max_users_per_instance),
    min_reserve_vm: p?.min_reserve_vm == null ? "0" : String(p.min_reserve_vm),
    instance_name_pattern: p?.instance_name_pattern ?? "",
    instance_init_script: p?.instance_init_script ? fromBase64(p.instance_init_script) : "",
    user_volume_enabled: p?.user_volume_enabled ?? false,
    volume_size: p?.volume_size == null ? "" : String(p.volume_size),
    volume_type_id: p?.volume_type_id ?? "",
    console_port: p?.console_port == null ? "" : String(p.console_port),
    console_kind: p?.console_kind ?? "gateway",
  };
}

/**
 * The request body: on create the non-empty values; on edit the changed ones (empty → null).
 * @param {Record<string, any>} v @param {Record<string, any> | null} initial
 */
export function bodyOf(v, initial) {
  /** @type {Record<string, unknown>} */
  const out = {};
  const changed = (/** @type {string} */ k) => !initial || initial[k] !== v[k];
  for (const k of TEXT) {
    if (!changed(k)) continue;
    const s = String(v[k]).trim();
    if (k === "tags")
      out.tags = s
        ? s
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean)
        : [];
    else if (s) out[k] = s;
    else if (initial && k !== "name") out[k] = k === "description" ? "" : null;
  }
  for (const k of INTS) {
    if (!changed(k)) continue;
    const s = String(v[k]).trim();
    if (s) out[k] = Number(s);
    else if (initial && k !== "min_reserve_vm") out[k] = null;
  }
  for (const k of ["enabled", "user_volume_enabled", "operation_mode", "console_kind"])
    if (changed(k)) out[k] = v[k];
  if (changed("instance_init_script"))
    out.instance_init_script = v.instance_init_script
      ? toBase64(v.instance_init_script)
      : initial
        ? null
        : undefined;
  if (!initial && v.domain_id.trim()) out.domain_id = v.domain_id.trim();
  if (!initial && out.tags && /** @type {string[]} */ (out.tags).length === 0) delete out.tags;
  if (out.instance_init_script === undefined) delete out.instance_init_script;
  return out;
}

/**
 * @param {{ initial: Record<string, any> | null, templates?: any[], onSubmit: (body: Record<string, unknown>) => Promise<void>, onCancel: () => void, submitLabel: string }} p
 */
export function PoolForm({ initial, templates = [], onSubmit, onCancel, submitLabel }) {
  const [v, setV] = useState(initial ?? formOf(null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const set = (/** @type {string} */ k) => (/** @type {any} */ x) => setV({ ...v, [k]: x });
  const text = (/** @type {string} */ k, /** @type {string} */ hint = "") =>
    html`<${Field} id=${`pf-${k}`} label=${t(`pool.${k}`)} value=${v[k]} onInput=${set(k)} required=${!initial && ["name", "flavor_id", "image_id"].includes(k)} hint=${hint || undefined} />`;

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(bodyOf(v, initial));
    } catch (err) {
      setError(/** @type {Error} */ (err).message);
    } finally {
      setBusy(false);
    }
  }

  return html`<form class="pool-form" id="pool-form" onSubmit=${submit}>
    ${
      !initial && templates.length
        ? html`<div class="field"><label for="pf-template">${t("pool.copyFrom")}</label>
          <select id="pf-template" onChange=${(/** @type {any} */ e) => {
            const p = templates.find((x) => x.id === e.currentTarget.value);
            if (p) setV({ ...formOf(p), name: v.name, description: v.description, tags: v.tags });
          }}>
            <option value="">—</option>
            ${templates.map((p) => html`<option key=${p.id} value=${p.id}>${p.name}</option>`)}
          </select></div>`
        : null
    }
    <fieldset><legend>${t("pool.keystone")}</legend>
      ${text("name")} ${text("description")}
      <div class="field check"><input id="pf-enabled" type="checkbox" checked=${v.enabled} onChange=${(/** @type {any} */ e) => set("enabled")(e.currentTarget.checked)} />
        <label for="pf-enabled">${t("pool.enabled")}</label></div>
      ${initial ? null : text("domain_id", t("pool.domainHint"))}
      ${text("tags", t("pool.tagsHint"))}
    </fieldset>
    <fieldset><legend>${t("pool.template")}</legend>
      ${text("flavor_id")} ${text("image_id")} ${text("network_id")} ${text("availability_zone")} ${text("instance_name_pattern")}
      <div class="field"><label for="pf-init">${t("pool.instance_init_script")}</label>
        <textarea id="pf-init" rows="3" value=${v.instance_init_script} onInput=${(/** @type {any} */ e) => set("instance_init_script")(e.currentTarget.value)}></textarea>
        <small>${t("pool.initHint")}</small></div>
    </fieldset>
    <fieldset><legend>${t("pool.usage")}</legend>
      <div class="field"><label for="pf-mode">${t("pool.operation_mode")}</label>
        <select id="pf-mode" value=${v.operation_mode} onChange=${(/** @type {any} */ e) => set("operation_mode")(e.currentTarget.value)}>
          <option value="1">${t("mode.1")}</option><option value="2">${t("mode.2")}</option>
        </select></div>
      ${text("max_users_per_instance", t("pool.maxUsersHint"))} ${text("min_reserve_vm")}
      <div class="field check"><input id="pf-volume" type="checkbox" checked=${v.user_volume_enabled} onChange=${(/** @type {any} */ e) => set("user_volume_enabled")(e.currentTarget.checked)} />
        <label for="pf-volume">${t("pool.user_volume_enabled")}</label></div>
      ${text("volume_size")} ${text("volume_type_id")}
    </fieldset>
    <fieldset><legend>${t("pool.console")}</legend>
      <div class="field"><label for="pf-console-kind">${t("pool.console_kind")}</label>
        <select id="pf-console-kind" value=${v.console_kind} onChange=${(/** @type {any} */ e) => set("console_kind")(e.currentTarget.value)}>
          <option value="gateway">${t("console.gateway")}</option>
          <option value="nova-novnc">${t("console.nova-novnc")}</option>
          <option value="nova-spice">${t("console.nova-spice")}</option>
        </select></div>
      ${text("console_port", t("pool.consolePortHint"))}
    </fieldset>
    <${ErrorLine} message=${error} />
    <div class="actions">
      <button type="submit" disabled=${busy}>${submitLabel}</button>
      <button type="button" class="secondary" onClick=${onCancel}>${t("action.cancel")}</button>
    </div>
  </form>`;
}
