// @ts-check
// Keystone users and groups by name (the admin API's directory search), and the names of the
// ids seen so far, so that holders show as names rather than ids where the page has met them.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { ErrorLine } from "./ui.js";

/** @type {Map<string, string>} */
const names = new Map();

/** @param {{ id: string, name?: string | null }[]} items */
export function remember(items) {
  for (const i of items) if (i.id && i.name) names.set(i.id, i.name);
}

/** @param {string} id */
export const nameOf = (id) => names.get(id) ?? id;

/**
 * A search box over Keystone users or groups; each result has a button doing `action`.
 * @param {{ id: string, kind: "users" | "groups", label: string, actionLabel: string, onPick: (item: any) => Promise<void> }} p
 */
export function DirectorySearch({ id, kind, label, actionLabel, onPick }) {
  const [text, setText] = useState("");
  const [found, setFound] = useState(/** @type {any[]} */ ([]));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  useEffect(() => {
    if (text.trim().length < 1) {
      setFound([]);
      return;
    }
    let stale = false;
    const timer = setTimeout(async () => {
      try {
        const res = await api.get(`/directory/${kind}${api.query({ name__contains: text.trim() })}`);
        if (stale) return;
        remember(res[kind]);
        setFound(res[kind]);
        setError(null);
      } catch (err) {
        if (!stale) setError(/** @type {Error} */ (err).message);
      }
    }, 250);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [text, kind]);
  return html`<div class="search">
    <label for=${id}>${label}</label>
    <input id=${id} type="search" value=${text} autocomplete="off" onInput=${(/** @type {any} */ e) => setText(e.currentTarget.value)} />
    <${ErrorLine} message=${error} />
    <ul class="results" aria-live="polite">
      ${found.map(
        (i) => html`<li key=${i.id}>
          <span>${i.name}</span> <small>${i.domain_name ?? i.domain_id}</small>
          <button type="button" class="small" aria-label=${`${actionLabel} ${i.name}`}
            onClick=${async () => {
              try {
                await onPick(i);
                setError(null);
              } catch (err) {
                setError(/** @type {Error} */ (err).message);
              }
            }}>${actionLabel}</button>
        </li>`,
      )}
      ${text.trim() && found.length === 0 ? html`<li class="none">${t("search.none")}</li>` : null}
    </ul>
  </div>`;
}
