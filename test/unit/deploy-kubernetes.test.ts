// deploy/kubernetes.yaml: the fields that decide what the pod may do and whether it works —
// exactly the two capabilities src/handshake/capabilities.ts checks, everything else dropped,
// no privilege escalation, a read-only root; probes on the metrics listener; the ConfigMap's
// synpool.yaml passes the project's config validator, listens where the ports say, and its
// pool.fleetSize is the replica count (the fleet budget, docs/deployment.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULTS } from '../../src/config/defaults.js';
import { validateConfig } from '../../src/config/schema.js';
import { backlogShare, type PoolDefaults } from '../../src/pool/pool-config.js';

const read = (rel: string): string => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');

// Plain objects from YAML: reached into with `any`, shapes asserted field by field below.
const docs = parseAllDocuments(read('deploy/kubernetes.yaml')).map((d) => {
  expect(d.errors, 'YAML parse errors').toEqual([]);
  return d.toJS() as any;
});
const byKind = (kind: string): any => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, `one ${kind}`).toHaveLength(1);
  return found[0];
};
const deployment = byKind('Deployment');
const configMap = byKind('ConfigMap');
const service = byKind('Service');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c: any) => c.name === 'synpool');

/** `CAP_NET_RAW` in src/handshake/capabilities.ts → `NET_RAW`, as Kubernetes spells it. */
function capabilitiesTheCodeNeeds(): string[] {
  const src = read('src/handshake/capabilities.ts');
  return [...src.matchAll(/^const CAP_([A-Z_]+) = \d+;/gm)].map((m) => m[1]!).sort();
}

/** The config file the container reads: the ConfigMap key at the path its volume is mounted on. */
function configFromConfigMap(): { path: string; text: string } {
  const mount = container.volumeMounts.find((m: any) => pod.volumes.find((v: any) => v.name === m.name)?.configMap?.name === configMap.metadata.name);
  expect(mount, 'the ConfigMap is mounted').toBeDefined();
  const [key, text] = Object.entries(configMap.data as Record<string, string>)[0]!;
  return { path: `${mount.mountPath}/${key}`, text };
}

describe('deploy/kubernetes.yaml', () => {
  it('has a ConfigMap, a Deployment and a Service, the Service selecting the Deployment\'s pods', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Service']);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(service.spec.ports.map((p: any) => p.targetPort)).toEqual(['http']);
  });

  it('capabilities: add exactly what the code checks, drop ALL; no escalation, read-only root', () => {
    const sc = container.securityContext;
    expect(capabilitiesTheCodeNeeds()).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect([...sc.capabilities.add].sort()).toEqual(capabilitiesTheCodeNeeds());
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.privileged ?? false).toBe(false);
    // Kubernetes sets no ambient capabilities, so a non-root user would have none of the added
    // ones, and file capabilities do nothing under no_new_privs: uid 0 with exactly two caps is
    // the working choice (the manifest's header explains it). Written out, not left to the image.
    expect(sc.runAsUser).toBe(0);
    expect(sc.runAsNonRoot).toBe(false);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });

  it('the ConfigMap\'s synpool.yaml validates, and the container reads it with --workers auto', () => {
    const { path, text } = configFromConfigMap();
    expect(container.args).toEqual(['--config', path, '--workers', 'auto']);
    // `workers` is not a config key on this branch: the manifest keeps it out of the file (in args instead).
    const config = validateConfig(parseAllDocuments(text)[0]!.toJS());
    expect(config.listen).toBe('0.0.0.0:8080');
    expect(config.metricsListen).toBe('0.0.0.0:9464');
    expect(DEFAULTS.metricsListen).toBe('127.0.0.1:9464'); // why the file must say it: probes come from outside the pod
  });

  it('ports and probes: http and metrics match the config\'s listeners; /healthz and /readyz on metrics; scrape annotations', () => {
    const config = validateConfig(parseAllDocuments(configFromConfigMap().text)[0]!.toJS());
    const port = (name: string): number => container.ports.find((p: any) => p.name === name)?.containerPort;
    expect(port('http')).toBe(Number(config.listen.split(':').at(-1)));
    expect(port('metrics')).toBe(Number(config.metricsListen?.split(':').at(-1)));
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port('metrics')), 'prometheus.io/path': '/metrics' });
  });

  it('fleet budget: pool.fleetSize is the replica count, and the fleet stays within a quarter of the backlog', () => {
    const pool = validateConfig(parseAllDocuments(configFromConfigMap().text)[0]!.toJS()).pool as unknown as PoolDefaults;
    expect(pool.fleetSize).toBe(deployment.spec.replicas);
    const perReplica = Math.min(pool.maxSize, backlogShare(pool));
    expect(perReplica * deployment.spec.replicas).toBeLessThanOrEqual(pool.upstreamBacklog / 4);
    expect(perReplica).toBe(31); // the worked example in the manifest and docs/deployment.md
  });

  it('stops within the grace period; the read-only root gets writable /run/synpool (keeper socket) and /tmp', () => {
    const config = validateConfig(parseAllDocuments(configFromConfigMap().text)[0]!.toJS());
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.shutdownTimeoutMs);
    const emptyDirAt = (mountPath: string): boolean => {
      const m = container.volumeMounts.find((v: any) => v.mountPath === mountPath);
      return m !== undefined && !m.readOnly && pod.volumes.find((v: any) => v.name === m.name)?.emptyDir !== undefined;
    };
    expect(emptyDirAt('/run/synpool')).toBe(true);
    expect(emptyDirAt('/tmp')).toBe(true);
  });
});
