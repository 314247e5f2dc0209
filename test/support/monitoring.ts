import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';

/**
 * What the monitoring tests need: the PromQL of every dashboard and alert rule in deploy/, the
 * metric and label names each expression uses (read with Prometheus's own PromQL grammar, so an
 * expression that does not parse fails), and a check of those names against what the pods export.
 */

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const DASHBOARDS_DIR = `${DEPLOY_DIR}grafana/dashboards/`;
export const ALERTS_FILE = `${DEPLOY_DIR}prometheus/alerts.yml`;

/**
 * Metrics that a dashboard or rule names before the code exporting them exists, each with the
 * issue that will export it. Tolerated while absent from /metrics; once a pod exports one,
 * test/api/monitoring.test.ts fails until it is removed from this list, so from then on it is
 * required like any other. Any other unknown name fails at once.
 */
export const METRICS_OF_LATER_ISSUES: readonly ExportedFamily[] = [];

/** Series Prometheus makes itself for every target; `instance` and `job` are the labels it adds to every series. */
export const PROMETHEUS_SERIES: readonly ExportedFamily[] = [{ name: 'up', type: 'gauge', labels: [], owner: 'Prometheus' }];
const TARGET_LABELS = ['instance', 'job'];

/** Grafana's interval variables, replaced by a duration so the expression parses as PromQL. */
const GRAFANA_INTERVALS: Record<string, string> = { __rate_interval: '5m', __interval: '1m', __range: '1h' };

export interface ExportedFamily {
  name: string;
  type: string;
  /** Label names of its series (besides the target labels). */
  labels: readonly string[];
  owner?: string;
}

export interface LabelMatcher {
  label: string;
  op: string;
  value: string;
}

export interface MetricSelector {
  /** As written: a histogram's series carry the _bucket, _sum and _count suffixes. */
  name: string;
  matchers: LabelMatcher[];
}

export interface PromqlReferences {
  metrics: MetricSelector[];
  /** Labels of by/without/on/ignoring/group_left/group_right clauses. */
  grouping_labels: string[];
}

const strict = parser.configure({ strict: true });
type SyntaxNode = ReturnType<typeof strict.parse>['topNode'];

/**
 * Grafana's `$__rate_interval`-style variables become durations; a variable inside a string (a
 * label value such as "$region") is left alone; any other variable is an error.
 */
export function grafanaToPromql(expr: string): string {
  let text = '';
  let quote: string | undefined;
  for (let index = 0; index < expr.length; index += 1) {
    const character = expr[index]!;
    if (quote) {
      if (character === '\\') {
        text += character + (expr[index + 1] ?? '');
        index += 1;
        continue;
      }
      if (character === quote) quote = undefined;
      text += character;
      continue;
    }
    if (character === '"' || character === "'" || character === '`') quote = character;
    if (character !== '$') {
      text += character;
      continue;
    }
    const name = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/.exec(expr.slice(index))!;
    const duration = name?.[1] === undefined ? undefined : GRAFANA_INTERVALS[name[1]];
    if (duration === undefined) throw new Error(`unknown Grafana variable outside a string at ${index} of: ${expr}`);
    text += duration;
    index += name[0].length - 1;
  }
  return text;
}

function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  return literal.startsWith('`') ? body : body.replace(/\\(.)/g, '$1');
}

function childrenNamed(node: SyntaxNode, name: string): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) if (child.name === name) found.push(child);
  return found;
}

function selectorOf(node: SyntaxNode, text: (node: SyntaxNode) => string, expr: string): MetricSelector {
  const identifier = childrenNamed(node, 'Identifier')[0];
  const matchers: LabelMatcher[] = [];
  for (const list of childrenNamed(node, 'LabelMatchers')) {
    for (let matcher = list.firstChild; matcher; matcher = matcher.nextSibling) {
      if (matcher.name === 'QuotedLabelMatcher' || matcher.name === 'QuotedLabelName') {
        throw new Error(`quoted label or metric names are not used here: ${expr}`);
      }
      if (matcher.name !== 'UnquotedLabelMatcher') continue;
      const label = childrenNamed(matcher, 'LabelName')[0]!;
      const op = childrenNamed(matcher, 'MatchOp')[0]!;
      const value = childrenNamed(matcher, 'StringLiteral')[0]!;
      matchers.push({ label: text(label), op: text(op), value: unquote(text(value)) });
    }
  }
  if (!identifier || matchers.some((matcher) => matcher.label === '__name__')) {
    throw new Error(`a selector must name its metric (not {__name__=...}): ${expr}`);
  }
  return { name: text(identifier), matchers };
}

/** The metrics and labels a PromQL expression (Grafana variables allowed) names; throws when it does not parse. */
export function promqlReferences(expr: string): PromqlReferences {
  const promql = grafanaToPromql(expr);
  let tree: ReturnType<typeof strict.parse>;
  try {
    tree = strict.parse(promql);
  } catch (error) {
    throw new Error(`invalid PromQL (${(error as Error).message}): ${expr}`);
  }
  const text = (node: SyntaxNode) => promql.slice(node.from, node.to);
  const references: PromqlReferences = { metrics: [], grouping_labels: [] };
  tree.iterate({
    enter: (ref) => {
      if (ref.name === 'VectorSelector') {
        references.metrics.push(selectorOf(ref.node, text, expr));
        return false;
      }
      if (ref.name === 'GroupingLabels') {
        for (const label of childrenNamed(ref.node, 'LabelName')) references.grouping_labels.push(text(label));
        return false;
      }
      return undefined;
    },
  });
  return references;
}

/** `label_values(metric, label)` of a Grafana query variable, as the selector and label it reads. */
export function labelValuesReferences(query: string): PromqlReferences {
  const match = /^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(query.trim());
  if (!match) throw new Error(`not a label_values(metric, label) query: ${query}`);
  const references = promqlReferences(match[1]!);
  return { metrics: references.metrics, grouping_labels: [...references.grouping_labels, match[2]!] };
}

/** Families of a Prometheus text exposition (`# TYPE` lines), with the label names their samples carry. */
export function parseExposition(text: string): Map<string, ExportedFamily> {
  const families = new Map<string, { type: string; labels: Set<string> }>();
  const sampleFamily = (sample: string) => families.get(sample) ?? families.get(sample.replace(/_(bucket|sum|count)$/, ''));
  // The bucket bound and the summary quantile belong to the series, not to the family's labels.
  const seriesLabels = new Set(['le', 'quantile']);
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type) {
      families.set(type[1]!, { type: type[2]!, labels: new Set() });
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const family = sampleFamily(sample[1]!);
    for (const label of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
      if (!seriesLabels.has(label[1]!)) family?.labels.add(label[1]!);
    }
  }
  return new Map([...families].map(([name, family]) => [name, { name, type: family.type, labels: [...family.labels] }]));
}

const SERIES_SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** The family a series name belongs to: the name itself, or a histogram's (summary's) suffixed series. */
export function familyOf(
  series: string,
  families: ReadonlyMap<string, ExportedFamily>,
): { family: ExportedFamily; suffix: string } | undefined {
  const exact = families.get(series);
  if (exact) return { family: exact, suffix: '' };
  for (const [type, suffixes] of Object.entries(SERIES_SUFFIXES)) {
    for (const suffix of suffixes) {
      const family = series.endsWith(suffix) ? families.get(series.slice(0, -suffix.length)) : undefined;
      if (family?.type === type) return { family, suffix };
    }
  }
  return undefined;
}

function labelsOf(family: ExportedFamily, suffix: string): string[] {
  const extra = suffix === '_bucket' ? ['le'] : family.type === 'summary' && suffix === '' ? ['quantile'] : [];
  return [...family.labels, ...TARGET_LABELS, ...extra];
}

/**
 * Problems with the names an expression uses, against the families the pods export: a metric no
 * pod exports (unless a later issue owns it: then it is checked against that issue's list), a
 * matcher on a label the metric does not have, a grouping label none of the expression's metrics
 * has. What a pod exports always wins over the later issue's list.
 */
export function referenceProblems(
  where: string,
  references: PromqlReferences,
  exported: ReadonlyMap<string, ExportedFamily>,
  later: readonly ExportedFamily[] = METRICS_OF_LATER_ISSUES,
): string[] {
  const problems: string[] = [];
  const known = new Map([...PROMETHEUS_SERIES, ...later].map((family) => [family.name, family]));
  const labels = new Set<string>(TARGET_LABELS);
  for (const selector of references.metrics) {
    const found = familyOf(selector.name, exported) ?? familyOf(selector.name, known);
    if (!found) {
      problems.push(`${where}: no pod exports ${selector.name}`);
      continue;
    }
    const own = labelsOf(found.family, found.suffix);
    for (const label of own) labels.add(label);
    for (const matcher of selector.matchers) {
      if (!own.includes(matcher.label)) problems.push(`${where}: ${selector.name} has no label ${matcher.label}`);
    }
  }
  for (const label of references.grouping_labels) {
    if (!labels.has(label)) problems.push(`${where}: no metric of the expression has the label ${label} it groups by`);
  }
  return problems;
}

interface GrafanaPanel {
  id?: number;
  type?: string;
  title?: string;
  panels?: GrafanaPanel[];
  targets?: Array<{ expr?: string }>;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> };
  [field: string]: unknown;
}

export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARDS_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(`${DASHBOARDS_DIR}${file}`, 'utf8')) as Dashboard }));
}

/** Every panel, rows' nested panels included. */
export function panelsOf(dashboard: Dashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** A named PromQL expression of a dashboard or rule file, and what it references. */
export interface NamedQuery {
  where: string;
  expr: string;
  references: () => PromqlReferences;
}

export function dashboardQueries(file: string, dashboard: Dashboard): NamedQuery[] {
  const targets = panelsOf(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `${file} "${panel.title}"`, expr: target.expr ?? '' })),
  );
  const variables = (dashboard.templating?.list ?? [])
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
      return { where: `${file} variable $${variable.name}`, expr: query, references: () => labelValuesReferences(query) };
    });
  return [...targets.map((target) => ({ ...target, references: () => promqlReferences(target.expr) })), ...variables];
}

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadAlertRules(): AlertRule[] {
  const file = parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> };
  return file.groups.flatMap((group) => group.rules);
}

export function ruleQueries(rules: readonly AlertRule[]): NamedQuery[] {
  return rules.map((rule) => ({
    where: `alerts.yml ${rule.alert ?? rule.record}`,
    expr: rule.expr,
    references: () => promqlReferences(rule.expr),
  }));
}

/** Every PromQL expression of deploy/: dashboards (panels and variables) and alert rules. */
export function allDeployQueries(): NamedQuery[] {
  return [...loadDashboards().flatMap(({ file, dashboard }) => dashboardQueries(file, dashboard)), ...ruleQueries(loadAlertRules())];
}
