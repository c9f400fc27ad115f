// @ts-check
// The dashboard's words in English and Russian, one catalogue per language (strings-en.js,
// strings-ru.js). The language is the browser's first one we have, until the operator picks
// another with the switch; dates are shown in the browser's time zone.
import { parseWire } from "./api.js";
import { en } from "./strings-en.js";
import { ru } from "./strings-ru.js";

/** @type {Record<string, Record<string, string>>} */
const CATALOGUES = { en, ru };
export const LANGUAGES = /** @type {const} */ (["en", "ru"]);

function browserLanguage() {
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = l.toLowerCase().split("-")[0];
    if (base in CATALOGUES) return base;
  }
  return "en";
}

document.documentElement.lang = browserLanguage();

export function language() {
  return document.documentElement.lang in CATALOGUES ? document.documentElement.lang : "en";
}

/** @param {string} lang */
export function setLanguage(lang) {
  document.documentElement.lang = lang;
  dispatchEvent(new Event("languagechange-dashboard"));
}

/**
 * The text for `key` in the current language, with {name} placeholders filled.
 * @param {string} key @param {Record<string, string | number>} [params]
 */
export function t(key, params) {
  const text = CATALOGUES[language()][key] ?? CATALOGUES.en[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
}

/** A wire timestamp (UTC) in the browser's time zone and the page's language. @param {string | null | undefined} wire */
export function when(wire) {
  const d = parseWire(wire);
  if (!d) return "—";
  return d.toLocaleString(language() === "ru" ? "ru-RU" : "en-GB", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** @param {number} n */
export function number(n) {
  return n.toLocaleString(language() === "ru" ? "ru-RU" : "en-GB");
}
