import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadTopology } from '../../src/platform/regions.js';
import {
  DEPLOY_DIR,
  allDeployQueries,
  familyOf,
  grafanaToPromql,
  labelValuesReferences,
  loadAlertRules,
  loadDashboards,
  panelsOf,
  parseExposition,
  promqlReferences,
  referenceProblems,
  type ExportedFamily,
} from '../support/monitoring.js';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const topology = loadTopology();
const readYaml = (file: string) => parseYaml(readFileSync(file, 'utf8')) as any;

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${name} variable syntax, not a JavaScript template
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const families = (list: ExportedFamily[]) => new Map(list.map((family) => [family.name, family]));

describe('the PromQL reference extractor', () => {
  it('names the metrics, not the functions, aggregations, keywords or labels', () => {
    const references = promqlReferences(
      'histogram_quantile(0.99, sum by (region, le) (rate(' +
        'http_request_duration_seconds_bucket{route!~"/health|/ready", status="503"}[5m])))' +
        ' > 0.5 and on (region) sum without (instance) (rate(seller_calls_total[5m] offset 1m)) > bool 1' +
        ' or count_values("v", max(up)) unless topk(3, time() - batch_queued_total @ start())',
    );
    expect(references.metrics.map((metric) => metric.name)).toEqual([
      'http_request_duration_seconds_bucket',
      'seller_calls_total',
      'up',
      'batch_queued_total',
    ]);
    expect(references.metrics[0]!.matchers).toEqual([
      { label: 'route', op: '!~', value: '/health|/ready' },
      { label: 'status', op: '=', value: '503' },
    ]);
    expect(references.grouping_labels).toEqual(['region', 'le', 'region', 'instance']);
  });

  it('takes metric names that look like keywords or functions as metrics where PromQL does', () => {
    expect(promqlReferences('sum(rate(sum_total[5m])) / count(rate_limited)').metrics.map((metric) => metric.name)).toEqual([
      'sum_total',
      'rate_limited',
    ]);
  });

  it("reads Grafana's interval variables and leaves variables inside label values alone", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${name} variable syntax, not a JavaScript template
    expect(grafanaToPromql('rate(x{region=~"$region"}[$__rate_interval]) * ${__interval}')).toBe('rate(x{region=~"$region"}[5m]) * 1m');
    expect(promqlReferences('sum(rate(x{region=~"$region", a="\\"$b"}[$__rate_interval]))').metrics[0]!.matchers).toEqual([
      { label: 'region', op: '=~', value: '$region' },
      { label: 'a', op: '=', value: '"$b' },
    ]);
    expect(() => grafanaToPromql('rate(x[$window])')).toThrow(/unknown Grafana variable/);
  });

  it('refuses what does not parse as PromQL', () => {
    for (const invalid of ['rat(x[5m])', 'sum(x', 'x{a=}', 'sum by (a) x', 'histogram_quantile(0.99 x)', '']) {
      expect(() => promqlReferences(invalid), invalid).toThrow(/invalid PromQL/);
    }
    expect(() => promqlReferences('{__name__="x"}')).toThrow(/must name its metric/);
  });

  it('reads the metric and label of a Grafana label_values variable', () => {
    expect(labelValuesReferences('label_values(http_request_duration_seconds_count, region)')).toEqual({
      metrics: [{ name: 'http_request_duration_seconds_count', matchers: [] }],
      grouping_labels: ['region'],
    });
    expect(() => labelValuesReferences('query_result(up)')).toThrow(/label_values/);
  });
});

describe('checking the names against what the pods export', () => {
  const exposition = [
    '# HELP http_request_duration_seconds latency',
    '# TYPE http_request_duration_seconds histogram',
    'http_request_duration_seconds_bucket{le="0.1",method="GET",route="/v1/items",status="200",region="eu-west"} 3',
    'http_request_duration_seconds_sum{method="GET",route="/v1/items",status="200",region="eu-west"} 0.2',
    'http_request_duration_seconds_count{method="GET",route="/v1/items",status="200",region="eu-west"} 3',
    '# TYPE seller_calls_total counter',
    'seller_calls_total{kind="quote",outcome="ok",region="eu-west"} 7',
    '# TYPE batch_queued_total counter',
    'batch_queued_total{region="eu-west"} 0',
    '# TYPE write_queue_count gauge',
  ].join('\n');
  const exported = parseExposition(exposition);

  it('parses families, their types and the labels of their series', () => {
    expect(exported.get('http_request_duration_seconds')).toEqual({
      name: 'http_request_duration_seconds',
      type: 'histogram',
      labels: ['method', 'route', 'status', 'region'],
    });
    expect(exported.get('write_queue_count')).toEqual({ name: 'write_queue_count', type: 'gauge', labels: [] });
    expect(familyOf('http_request_duration_seconds_bucket', exported)?.family.name).toBe('http_request_duration_seconds');
    expect(familyOf('http_request_duration_seconds_count', exported)?.suffix).toBe('_count');
    // A gauge's own name ending in _count is itself, never the series of another family.
    expect(familyOf('write_queue_count', exported)).toEqual({ family: exported.get('write_queue_count'), suffix: '' });
    expect(familyOf('seller_calls_total_bucket', exported)).toBeUndefined();
  });

  it('passes real names and labels', () => {
    const references = promqlReferences(
      'histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{status="200"}[5m])))' +
        ' + sum by (instance) (up)',
    );
    expect(referenceProblems('panel', references, exported, [])).toEqual([]);
  });

  it('fails a panel that names a metric no pod exports', () => {
    const references = promqlReferences('sum(rate(http_request_duration_secondz_count[5m]))');
    expect(referenceProblems('panel "Requests"', references, exported, [])).toEqual([
      'panel "Requests": no pod exports http_request_duration_secondz_count',
    ]);
    // A counter has no buckets: its name with a histogram suffix is unknown too.
    expect(referenceProblems('p', promqlReferences('seller_calls_total_bucket'), exported, [])).toEqual([
      'p: no pod exports seller_calls_total_bucket',
    ]);
  });

  it('fails labels the metric does not have, matched or grouped by', () => {
    expect(referenceProblems('p', promqlReferences('seller_calls_total{state="open"}'), exported, [])).toEqual([
      'p: seller_calls_total has no label state',
    ]);
    expect(referenceProblems('p', promqlReferences('rate(http_request_duration_seconds_count{le="1"}[5m])'), exported, [])).toEqual([
      'p: http_request_duration_seconds_count has no label le',
    ]);
    expect(referenceProblems('p', promqlReferences('sum by (sqlstate) (rate(seller_calls_total[5m]))'), exported, [])).toEqual([
      'p: no metric of the expression has the label sqlstate it groups by',
    ]);
  });

  it("tolerates a later issue's metric while it is absent, and checks it against the pods once they export it", () => {
    const later: ExportedFamily[] = [
      { name: 'webhook_delivery_lag_seconds', type: 'histogram', labels: ['endpoint_id'], owner: 'issue 10' },
    ];
    const lag = promqlReferences('histogram_quantile(0.99, sum by (endpoint_id, le) (rate(webhook_delivery_lag_seconds_bucket[5m])))');
    expect(referenceProblems('p', lag, exported, later)).toEqual([]);
    expect(referenceProblems('p', lag, exported, [])).toEqual([
      'p: no pod exports webhook_delivery_lag_seconds_bucket',
      'p: no metric of the expression has the label endpoint_id it groups by',
      'p: no metric of the expression has the label le it groups by',
    ]);
    expect(referenceProblems('p', promqlReferences('webhook_delivery_lag_seconds_bucket{outcome="x"}'), exported, later)).toEqual([
      'p: webhook_delivery_lag_seconds_bucket has no label outcome',
    ]);
    // Exported under other labels than the list promised: what the pods export decides.
    const now_exported = families([
      ...exported.values(),
      { name: 'webhook_delivery_lag_seconds', type: 'histogram', labels: ['endpoint'] },
    ]);
    expect(referenceProblems('p', lag, now_exported, later)).toEqual([
      'p: no metric of the expression has the label endpoint_id it groups by',
    ]);
  });
});

describe('deploy/grafana/dashboards', () => {
  const dashboards = loadDashboards();
  const provider = readYaml(`${DEPLOY_DIR}grafana/provisioning/dashboards/creditshop.yml`);

  it('are the four dashboards, each valid JSON with a unique uid and title', () => {
    expect(dashboards.map(({ file }) => file)).toEqual(['ledger.json', 'sellers.json', 'service-overview.json', 'shop.json']);
    expect(new Set(dashboards.map(({ dashboard }) => dashboard.uid)).size).toBe(4);
    expect(new Set(dashboards.map(({ dashboard }) => dashboard.title)).size).toBe(4);
    for (const { file, dashboard } of dashboards) {
      expect(dashboard.uid, file).toMatch(/^creditshop-[a-z-]+$/);
      expect(dashboard.uid.length, file).toBeLessThanOrEqual(40);
      expect(typeof dashboard['schemaVersion'], file).toBe('number');
      expect(dashboard['tags'], file).toContain('creditshop');
    }
  });

  it('lay out panels with unique ids inside the 24-column grid, every query on the data source variable', () => {
    for (const { file, dashboard } of dashboards) {
      const panels = panelsOf(dashboard) as Array<Record<string, any>>;
      expect(panels.length, file).toBeGreaterThan(5);
      expect(new Set(panels.map((panel) => panel['id'])).size, file).toBe(panels.length);
      const variables = (dashboard.templating?.list ?? []).map((variable) => variable.name);
      expect(variables, file).toContain('datasource');
      for (const panel of panels) {
        const { x, y, w, h } = panel['gridPos'];
        expect(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${file} ${panel['title']}`).toBe(true);
        if (panel['type'] === 'row') continue;
        expect(panel['title'], file).toBeTruthy();
        expect(panel['datasource'], `${file} ${panel['title']}`).toEqual(DATASOURCE);
        expect(panel['targets'].length, `${file} ${panel['title']}`).toBeGreaterThan(0);
        for (const target of panel['targets']) expect(target.datasource).toEqual(panel['datasource']);
      }
    }
  });

  it('use only variables they define', () => {
    for (const { file, dashboard } of dashboards) {
      const defined = new Set((dashboard.templating?.list ?? []).map((variable) => variable.name));
      const used = JSON.stringify(dashboard.panels).matchAll(/\$\{?([a-z][a-z0-9_]*)/g);
      for (const [, name] of used) expect(defined.has(name!), `${file} uses $${name}`).toBe(true);
    }
  });

  it('are loaded from the folder the compose file mounts', () => {
    expect(provider.apiVersion).toBe(1);
    expect(provider.providers).toHaveLength(1);
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  const rules = loadAlertRules();

  it('has the alerts operators asked for', () => {
    const names = rules.map((rule) => rule.alert);
    for (const required of [
      'ReconciliationMismatch',
      'HighUnavailableRate',
      'LatencyP99OverTarget',
      'SellerCircuitsOpen',
      'WebhookDeliveryLag',
      'TopupsHeldForReview',
    ]) {
      expect(names).toContain(required);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives every alert a duration, a severity, a summary, a description and a runbook', () => {
    for (const rule of rules) {
      expect(rule.alert, rule.expr).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.['severity']);
      for (const annotation of ['summary', 'description', 'runbook']) {
        expect(rule.annotations?.[annotation]?.length ?? 0, `${rule.alert} ${annotation}`).toBeGreaterThan(20);
      }
    }
  });
});

describe('every PromQL expression in deploy/', () => {
  it('parses with the PromQL grammar and names at least one metric', () => {
    const queries = allDeployQueries();
    expect(queries.length).toBeGreaterThan(60);
    for (const query of queries) expect(query.references().metrics.length, query.where).toBeGreaterThan(0);
  });
});

describe('deploy/prometheus scrape configuration', () => {
  const prometheus_dir = `${DEPLOY_DIR}prometheus/`;

  for (const file of ['prometheus.yml', 'prometheus.local.yml']) {
    it(`${file} loads the alert rules and scrapes job creditshop`, () => {
      const config = readYaml(`${prometheus_dir}${file}`);
      expect(config.rule_files).toEqual(['alerts.yml']);
      expect(config.scrape_configs.map((job: any) => job.job_name)).toEqual(['creditshop']);
      expect(config.scrape_configs[0].metrics_path).toBe('/metrics');
    });
  }

  it('scrapes the compose pod of every region on its port', () => {
    const targets = readYaml(`${prometheus_dir}prometheus.yml`).scrape_configs[0].static_configs.flatMap((config: any) => config.targets);
    expect([...targets].sort()).toEqual(topology.regions.map((region) => `pod-${region.name}:${region.port}`).sort());
  });

  it("scrapes `npm start`'s pods on 127.0.0.1 through file discovery", () => {
    const local = readYaml(`${prometheus_dir}prometheus.local.yml`);
    const pattern = local.scrape_configs[0].file_sd_configs[0].files[0];
    expect(pattern).toBe('targets/*.json');
    const groups = JSON.parse(readFileSync(`${prometheus_dir}targets/npm-start.json`, 'utf8'));
    const targets = groups.flatMap((group: { targets: string[] }) => group.targets);
    expect([...targets].sort()).toEqual(topology.regions.map((region) => `127.0.0.1:${region.port}`).sort());
  });
});

describe('docker-compose.cockroach.yml monitoring services', () => {
  const compose = readYaml(`${REPO_DIR}docker-compose.cockroach.yml`);
  const services = compose.services as Record<string, any>;
  /** Bind mounts as [repository path, container path]. */
  const binds = (service: any): Array<[string, string]> =>
    (service.volumes ?? [])
      .map((volume: string) => volume.split(':'))
      .filter(([source]: string[]) => source!.startsWith('./'))
      .map(([source, target]: string[]) => [source, target]);

  it('runs Prometheus and Grafana from exactly pinned images, reachable from this machine only', () => {
    expect(services['prometheus'].image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services['grafana'].image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(services['prometheus'].ports).toEqual(['127.0.0.1:9090:9090']);
    expect(services['grafana'].ports).toEqual(['127.0.0.1:3000:3000']);
    expect(services['grafana'].depends_on).toEqual({ prometheus: { condition: 'service_started' } });
  });

  it('mounts deploy/ where each reads it, and every mounted path exists', () => {
    expect(binds(services['prometheus'])).toEqual([['./deploy/prometheus', '/etc/prometheus']]);
    expect(services['prometheus'].command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(binds(services['grafana'])).toEqual([
      ['./deploy/grafana/provisioning', '/etc/grafana/provisioning'],
      ['./deploy/grafana/dashboards', '/var/lib/grafana/dashboards'],
    ]);
    for (const name of ['prometheus', 'grafana']) {
      for (const [source] of binds(services[name])) expect(existsSync(path.join(REPO_DIR, source)), source).toBe(true);
      for (const volume of services[name].volumes) expect(volume, `${name} mounts read-only or a named volume`).toMatch(/:ro$|^[a-z-]+:\//);
    }
    for (const volume of ['prometheus-data', 'grafana-data']) expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it("points Grafana's provisioned data source at the Prometheus service", () => {
    const datasources = readYaml(`${DEPLOY_DIR}grafana/provisioning/datasources/prometheus.yml`).datasources;
    expect(datasources).toHaveLength(1);
    expect(datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
  });
});
