// Reads a curl command line as a shell and curl would, for the reference's examples: the
// shell's words (single quotes literal, double quotes and bare words expanding $NAME from
// the given variables, backslash escapes), up to a pipe; then curl's -X, -H, -d and URL.
// The request it answers carries what curl sends: its own Accept and User-Agent, the given
// headers, and for -d without a Content-Type the form type curl defaults to.

export interface CurlRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

const CURL_VERSION = "7.88.1";

/** The shell words of `line` before any `|`, with `$NAME` and `${NAME}` taken from `vars`. */
export function shellWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const expand = (name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`no value for $${name} in: ${line}`);
    return value;
  };
  let i = 0;
  const variable = () => {
    const m = /^\$(?:\{(\w+)\}|(\w+))/.exec(line.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return expand(m[1] ?? m[2]!);
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === "|") {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      word ??= "";
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && '"\\$`'.includes(line[i + 1] ?? "")) {
          word += line[i + 1];
          i += 2;
        } else if (line[i] === "$") {
          const v = variable();
          if (v === undefined) word += line[i++];
          else word += v;
        } else word += line[i++];
      }
      if (line[i] !== '"') throw new Error(`unclosed " in: ${line}`);
      i++;
    } else if (c === "\\") {
      word = (word ?? "") + (line[i + 1] ?? "");
      i += 2;
    } else if (c === "$") {
      const v = variable();
      word = (word ?? "") + (v ?? c);
      if (v === undefined) i++;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The request a curl command line sends (only the options the reference uses). */
export function curlRequest(line: string, vars: Record<string, string>): CurlRequest {
  const words = shellWords(line, vars);
  if (words[0] !== "curl") throw new Error(`not a curl command: ${line}`);
  let method: string | undefined;
  let url: string | undefined;
  let body: string | undefined;
  const given: [string, string][] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === "-X" || w === "--request") method = words[++i];
    else if (w === "-H" || w === "--header") {
      const h = words[++i] ?? "";
      const colon = h.indexOf(":");
      if (colon < 1) throw new Error(`bad header ${h} in: ${line}`);
      given.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
    } else if (w === "-d" || w === "--data") body = words[++i];
    else if (w.startsWith("-")) throw new Error(`curl option ${w} is not supported here: ${line}`);
    else if (url === undefined) url = w;
    else throw new Error(`two URLs in: ${line}`);
  }
  if (!url) throw new Error(`no URL in: ${line}`);
  const headers: Record<string, string> = { "User-Agent": `curl/${CURL_VERSION}`, Accept: "*/*" };
  for (const [name, value] of given) {
    // A header given replaces curl's own of the same name, whatever its case.
    for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
    headers[name] = value;
  }
  if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === "content-type"))
    headers["Content-Type"] = "application/x-www-form-urlencoded";
  return { method: method ?? (body === undefined ? "GET" : "POST"), url, headers, body };
}
