// @ts-check
// Small shared pieces: loading data with a refresh, an error line, a labelled field, tables.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";
import { t } from "./i18n.js";

/**
 * Loads with `fn` now, again when `deps` change, and every `everyMs` while `keepPolling`
 * says so for the last value (polling stops once nothing is running).
 * @template T
 * @param {() => Promise<T>} fn
 * @param {unknown[]} deps
 * @param {{ everyMs?: number, keepPolling?: (value: T) => boolean }} [opts]
 * @returns {{ data: T | undefined, error: string | null, reload: () => void, loading: boolean }}
 */
export function useLoad(fn, deps, opts = {}) {
  const [state, setState] = useState(
    /** @type {{ data: T | undefined, error: string | null, loading: boolean }} */ ({
      data: undefined,
      error: null,
      loading: true,
    }),
  );
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);
  useEffect(() => {
    let timer;
    let stale = false;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => {
        if (stale || !alive.current) return;
        setState({ data, error: null, loading: false });
        if (opts.everyMs && (!opts.keepPolling || opts.keepPolling(data)))
          timer = setTimeout(() => setTick((n) => n + 1), opts.everyMs);
      },
      (err) => {
        if (stale || !alive.current) return;
        setState((s) => ({ ...s, error: err.message, loading: false }));
      },
    );
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** @param {{ message: string | null | undefined }} p */
export function ErrorLine({ message }) {
  return message ? html`<p class="error" role="alert">${message}</p>` : null;
}

/** @param {{ message: string | null | undefined }} p */
export function Notice({ message }) {
  return message ? html`<p class="notice" role="status">${message}</p>` : null;
}

/**
 * A labelled input: the label names it for screen readers and for the tests.
 * @param {{ id: string, label: string, value: string, onInput: (v: string) => void, type?: string, required?: boolean, hint?: string, autocomplete?: string, placeholder?: string }} p
 */
export function Field({
  id,
  label,
  value,
  onInput,
  type = "text",
  required = false,
  hint,
  autocomplete,
  placeholder,
}) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} type=${type} value=${value} required=${required} autocomplete=${autocomplete}
      placeholder=${placeholder} aria-describedby=${hint ? `${id}-hint` : undefined}
      onInput=${(/** @type {any} */ e) => onInput(e.currentTarget.value)} />
    ${hint ? html`<small id=${`${id}-hint`}>${hint}</small>` : null}
  </div>`;
}

/** @param {{ status: string }} p */
export function Status({ status }) {
  const cls = /ERROR|FAILURE|failed|failing|\blate\b|backoff|blocked/i.test(status)
    ? "bad"
    : /BUILD|STARTED|PENDING|RETRY|running|throttled|quota|draining|paused/i.test(status)
      ? "warn"
      : "good";
  return html`<span class=${`badge ${cls}`}>${status}</span>`;
}

/** @param {{ when: boolean, children?: any }} p */
export function Loading({ when }) {
  return when ? html`<p class="loading" aria-live="polite">${t("loading")}</p>` : null;
}
