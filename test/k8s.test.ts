// deploy/k8s cannot be applied here (no cluster), so check what `kubectl apply -k --dry-run` and a
// reader would: every listed manifest parses, the stack has its parts, each container runs a real
// CLI subcommand with an image kustomize rewrites, reads only variables powersweep knows, the API
// is probed on /healthz and /readyz, and GPU workers request GPUs.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "@powersweep/runtime";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const root = join(import.meta.dirname, "..");
const k8s = join(root, "deploy", "k8s");

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; volumes?: Array<{ persistentVolumeClaim?: { claimName: string } }> };
    };
  };
}

const load = (file: string): Manifest[] =>
  parseAllDocuments(readFileSync(join(k8s, file), "utf8")).map((d) => {
    expect(d.errors, file).toEqual([]);
    return d.toJS() as Manifest;
  });

const kustomization = load("kustomization.yaml")[0] as unknown as {
  kind: string;
  resources: string[];
  images: Array<{ name: string; newName: string }>;
};
const manifests = kustomization.resources.flatMap(load);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const deployment = (name: string) => {
  const d = byKind("Deployment").find((m) => m.metadata.name === name);
  if (!d) throw new Error(`no Deployment ${name}`);
  return d;
};
const container = (name: string) => deployment(name).spec?.template?.spec.containers[0] as Container;

// What powersweep reads: loadConfig's variables (recorded by reading them through a proxy) and the
// process-level ones README's configuration table documents.
const configVars = new Set<string>();
loadConfig(
  new Proxy({} as NodeJS.ProcessEnv, {
    get: (_t, key) => {
      if (typeof key === "string") configVars.add(key);
      return undefined;
    },
  }),
);
const readme = readFileSync(join(root, "README.md"), "utf8");
const documented = new Set([...readme.matchAll(/^\|\s*`([A-Z_]+)`/gm)].map((m) => m[1] as string));
const cli = readFileSync(join(root, "apps", "cli", "src", "main.ts"), "utf8");

describe("deploy/k8s", () => {
  it("lists manifests that exist and describe api, fitter and a GPU worker with their config", () => {
    expect(kustomization.kind).toBe("Kustomization");
    for (const r of kustomization.resources) expect(existsSync(join(k8s, r)), r).toBe(true);
    expect(
      byKind("Deployment")
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(["powersweep-api", "powersweep-fitter", "powersweep-worker-gpu"]);
    expect(byKind("Service").map((s) => s.metadata.name)).toEqual(["powersweep-api"]);
    expect(byKind("ConfigMap").map((s) => s.metadata.name)).toEqual(["powersweep-config"]);
    expect(byKind("PersistentVolumeClaim")).toHaveLength(1);
    // no secret values in what kustomize applies: the service URLs come from a secret made by hand
    expect(byKind("Secret")).toEqual([]);
  });

  it("runs each container as a CLI subcommand, on an image kustomize sets, selecting its own pods", () => {
    const images = kustomization.images.map((i) => i.name);
    for (const d of byKind("Deployment")) {
      const c = d.spec?.template?.spec.containers[0] as Container;
      expect(images, d.metadata.name).toContain(c.image);
      expect(cli, d.metadata.name).toContain(`.command("${c.args?.[0]}")`);
      expect(d.spec?.template?.metadata.labels).toMatchObject(d.spec?.selector?.matchLabels ?? { missing: true });
    }
    const service = byKind("Service")[0] as Manifest;
    expect(deployment("powersweep-api").spec?.template?.metadata.labels).toMatchObject(
      service.spec?.selector as Record<string, string>,
    );
  });

  it("sets only variables powersweep reads, with the service URLs from the secret", () => {
    const config = byKind("ConfigMap")[0]?.data ?? {};
    const secretKeys = Object.keys(load("secret.example.yaml")[0]?.stringData ?? {});
    expect(secretKeys.sort()).toEqual(["DATABASE_URL", "REDIS_URL"]);
    for (const name of Object.keys(config)) expect(configVars.has(name) || documented.has(name), name).toBe(true);
    for (const d of byKind("Deployment")) {
      const c = d.spec?.template?.spec.containers[0] as Container;
      for (const e of c.env ?? []) expect(configVars.has(e.name) || documented.has(e.name), e.name).toBe(true);
      const fromSecret = (c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef);
      expect(fromSecret.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.key])).toEqual([
        ["DATABASE_URL", "powersweep-services", "DATABASE_URL"],
        ["REDIS_URL", "powersweep-services", "REDIS_URL"],
      ]);
      expect(c.envFrom?.[0]?.configMapRef?.name).toBe("powersweep-config");
    }
  });

  it("probes the API on /healthz and /readyz at its listening port", () => {
    const api = container("powersweep-api");
    expect(api.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(api.readinessProbe?.httpGet?.path).toBe("/readyz");
    const port = api.ports?.find((p) => p.name === api.readinessProbe?.httpGet?.port);
    expect(String(port?.containerPort)).toBe(api.env?.find((e) => e.name === "PORT")?.value);
    expect(api.env?.find((e) => e.name === "HOST")?.value).toBe("0.0.0.0");
  });

  it("gives each GPU worker one GPU, several trial slots on it, and the shared checkpoints", () => {
    const w = container("powersweep-worker-gpu");
    expect(w.resources?.requests?.["nvidia.com/gpu"]).toBe(1);
    expect(w.resources?.limits?.["nvidia.com/gpu"]).toBe(1);
    const args = w.args ?? [];
    expect(args.slice(0, 3)).toEqual(["worker", "--devices", "0"]);
    expect(Number(args[args.indexOf("--slots-per-device") + 1])).toBeGreaterThan(1);
    const claim = deployment("powersweep-worker-gpu").spec?.template?.spec.volumes?.find(
      (v) => v.persistentVolumeClaim,
    );
    expect(claim?.persistentVolumeClaim?.claimName).toBe(byKind("PersistentVolumeClaim")[0]?.metadata.name);
    expect(byKind("ConfigMap")[0]?.data?.CHECKPOINT_DIR).toBe("/checkpoints");
  });
});
