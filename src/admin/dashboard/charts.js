// @ts-check
// Time-series charts with uPlot (canvas, small, no dependencies): a series per count, x in the
// browser's time zone. The table beside each chart gives the same numbers to a screen reader.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./html.js";
import { language, t } from "./i18n.js";

const COLORS = ["#1f5fbf", "#b3261e", "#2e7d32", "#8a4f00"];

/**
 * @param {{ id: string, title: string, times: number[], series: { label: string, values: number[] }[], height?: number }} p
 *   times in seconds since the epoch (uPlot's unit)
 */
export function TimeChart({ id, title, times, series, height = 180 }) {
  const box = useRef(/** @type {HTMLDivElement | null} */ (null));
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, el.clientWidth || 560);
    const plot = new uPlot(
      {
        width,
        height,
        series: [
          { label: t("chart.time") },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            fill: `${COLORS[i % COLORS.length]}22`,
          })),
        ],
        // Tick labels in the page's language; the Date is the browser's time zone.
        axes: [
          {
            values: (_u, ticks) =>
              ticks.map((ts) =>
                new Date(ts * 1000).toLocaleTimeString(language(), {
                  hour: "2-digit",
                  minute: "2-digit",
                  hourCycle: "h23",
                }),
              ),
            space: 60,
          },
          { size: 40 },
        ],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        cursor: { drag: { x: false, y: false } },
      },
      [times, ...series.map((s) => s.values)],
      el,
    );
    return () => plot.destroy();
    // Redrawn when the numbers or labels change, not on every render.
  }, [JSON.stringify([times, series, language()]), height]);
  const total = series.map((s) => `${s.label}: ${s.values.reduce((a, b) => a + b, 0)}`).join(", ");
  return html`<figure class="chart" id=${id} data-points=${times.length}>
    <figcaption>${title} <span class="total">(${total})</span></figcaption>
    <div ref=${box} class="chart-canvas" role="img" aria-label=${`${title}: ${total}`}></div>
  </figure>`;
}

/**
 * Horizontal bars for a few named counts (no axis needed), drawn with plain elements.
 * @param {{ id: string, title: string, items: { label: string, value: number }[] }} p
 */
export function Bars({ id, title, items }) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return html`<figure class="bars" id=${id}>
    <figcaption>${title}</figcaption>
    <ul>
      ${items.map(
        (i) => html`<li key=${i.label}>
          <span class="bar-label">${i.label}</span>
          <meter min="0" max=${max} value=${i.value} aria-label=${i.label}></meter>
          <span class="bar-value">${i.value}</span>
        </li>`,
      )}
    </ul>
  </figure>`;
}
