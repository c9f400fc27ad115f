// @ts-check
// htm bound to Preact: components are written as tagged templates, so no JSX build is needed.
import htm from "htm";
import { h } from "preact";

export const html = htm.bind(h);
