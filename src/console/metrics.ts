import { problemBox } from './api.js';
import { h, show } from './dom.js';
import { bucketIncrease, buckets, parsePrometheus, quantile, type Sample, total } from './prometheus.js';

const SCRAPE_INTERVAL_MS = 2_000;
const POINTS_MAX = 90;
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 360;
const HEIGHT = 140;

interface Scrape {
  at_ms: number;
  samples: Sample[];
}

interface Point {
  at_ms: number;
  values: Array<number | undefined>;
}

interface Chart {
  title: string;
  unit: string;
  series: string[];
  /** Values between two scrapes, one per series. */
  measure(before: Scrape, after: Scrape, seconds: number): Array<number | undefined>;
}

const RETRIES = ['db_transaction_retries_total', 'batch_retries_total'];
const retries = (samples: Sample[]) => RETRIES.reduce((sum, name) => sum + total(samples, name), 0);
const requests = (samples: Sample[], where: Record<string, string> = {}) => total(samples, 'http_request_duration_seconds_count', where);
const rate = (before: number, after: number, seconds: number) => Math.max(0, after - before) / seconds;

const CHARTS: Chart[] = [
  {
    title: 'Throughput',
    unit: 'requests/s',
    series: ['all requests'],
    measure: (before, after, seconds) => [rate(requests(before.samples), requests(after.samples), seconds)],
  },
  {
    title: 'Latency percentiles',
    unit: 'ms',
    series: ['p50', 'p95', 'p99'],
    measure: (before, after) => {
      const increase = bucketIncrease(
        buckets(before.samples, 'http_request_duration_seconds'),
        buckets(after.samples, 'http_request_duration_seconds'),
      );
      return [0.5, 0.95, 0.99].map((q) => {
        const seconds = quantile(q, increase);
        return seconds === undefined ? undefined : seconds * 1000;
      });
    },
  },
  {
    title: 'Transaction retries',
    unit: 'retries/s',
    series: ['database and batch retries'],
    measure: (before, after, seconds) => [rate(retries(before.samples), retries(after.samples), seconds)],
  },
  {
    title: '503 answers',
    unit: 'answers/s',
    series: ['503 unavailable'],
    measure: (before, after, seconds) => [
      rate(requests(before.samples, { status: '503' }), requests(after.samples, { status: '503' }), seconds),
    ],
  },
];

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function drawChart(chart: Chart, points: readonly Point[]): Node {
  const values = points.flatMap((point) => point.values.filter((value): value is number => value !== undefined));
  // A flat zero line still gets a scale: one unit.
  const top = (Math.max(0, ...values) || 1) * 1.1;
  const picture = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `${chart.title} over the last ${points.length} scrapes`,
  });
  picture.append(svg('line', { class: 'axis', x1: 0, y1: HEIGHT - 1, x2: WIDTH, y2: HEIGHT - 1 }));
  const label = svg('text', { x: 4, y: 12 });
  label.textContent = `max ${top.toPrecision(3)} ${chart.unit}`;
  picture.append(label);
  chart.series.forEach((_, index) => {
    const coordinates = points
      .map((point, position) => [position, point.values[index]] as const)
      .filter((pair): pair is readonly [number, number] => pair[1] !== undefined)
      .map(
        ([position, value]) =>
          `${((position / Math.max(1, points.length - 1)) * WIDTH).toFixed(1)},${(HEIGHT - 2 - (value / top) * (HEIGHT - 18)).toFixed(1)}`,
      );
    if (coordinates.length > 0) picture.append(svg('polyline', { class: `series-${index}`, points: coordinates.join(' ') }));
  });
  const latest = points.at(-1)?.values ?? [];
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', {}, h('strong', {}, chart.title), ` (${chart.unit})`),
    picture,
    h(
      'div',
      { class: 'legend' },
      ...chart.series.map((name, index) => h('span', { class: `series-${index}` }, `${name}: ${latest[index]?.toFixed(2) ?? '—'}`)),
    ),
  );
}

/**
 * Live charts of this pod's /metrics: scraped every 2 s, differences between scrapes turned into
 * rates and percentiles (the same arithmetic as PromQL's rate() and histogram_quantile()). Returns the stop function.
 */
export function metricsPage(main: HTMLElement): () => void {
  const grid = h('div', { class: 'charts' });
  const status = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted', role: 'status' }, 'Waiting for two scrapes…'));
  const series: Point[][] = CHARTS.map(() => []);
  let previous: Scrape | undefined;
  const scrape = async () => {
    try {
      const response = await fetch('/metrics', { headers: { Accept: 'text/plain' } });
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      const current = { at_ms: Date.now(), samples: parsePrometheus(await response.text()) };
      if (previous) {
        const seconds = (current.at_ms - previous.at_ms) / 1000;
        CHARTS.forEach((chart, index) => {
          series[index]!.push({ at_ms: current.at_ms, values: chart.measure(previous!, current, seconds) });
          if (series[index]!.length > POINTS_MAX) series[index]!.shift();
        });
        show(grid, ...CHARTS.map((chart, index) => drawChart(chart, series[index]!)));
        show(status, h('p', { class: 'muted' }, `Scraped ${new Date(current.at_ms).toISOString()} from this pod's /metrics.`));
      }
      previous = current;
    } catch (error) {
      show(status, problemBox(error));
    }
  };
  void scrape();
  const timer = setInterval(() => void scrape(), SCRAPE_INTERVAL_MS);
  main.replaceChildren(h('h1', {}, 'Live metrics'), h('section', { class: 'card' }, status, grid));
  return () => clearInterval(timer);
}
