// Wire shapes of the Supertest HTTP API (camelCase JSON), mirroring api/supertest_api/*/schemas.py.

export type Phase = "Queued" | "Starting" | "Running" | "Passed" | "Failed" | "Error" | "Cancelled" | "TimedOut";
export const PHASES: Phase[] = ["Queued", "Starting", "Running", "Passed", "Failed", "Error", "Cancelled", "TimedOut"];
export const TERMINAL: ReadonlySet<Phase> = new Set<Phase>(["Passed", "Failed", "Error", "Cancelled", "TimedOut"]);
export const TRIGGERS = ["manual", "api", "cli", "schedule", "kubectl"] as const;

export type Language = "javascript" | "typescript";
export type RunKind = "test" | "job";

export interface Principal {
  keyId: string;
  keyName: string;
  keyPrefix: string;
  via: "bearer" | "session";
}

export interface Summary {
  total: number;
  passed: number;
  failed: number;
  flaky: number;
  skipped: number;
  durationMs: number | null;
}

export interface Run {
  runId: string;
  kind: RunKind;
  phase: Phase;
  trigger: string;
  title: string;
  testId: string | null;
  jobId: string | null;
  priority: number;
  summary: Summary;
  reportUrl: string;
  statusUrl: string;
  message: string | null;
  exitCode: number | null;
  attempts: number;
  cancelRequested: boolean;
  createdAt: string;
  queuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface RunList {
  items: Run[];
  total: number;
  limit: number;
  offset: number;
}

export interface Submitted {
  runId: string;
  kind: RunKind;
  phase: Phase;
  reportUrl: string;
  statusUrl: string;
}

export interface TestSummary {
  id: string;
  title: string;
  language: Language;
  tags: string[];
  createdAt: string;
  updatedAt: string;
}

export interface StoredTest extends TestSummary {
  script: string;
}

export interface TestInput {
  title: string;
  script: string;
  language: Language;
  tags: string[];
}

export interface Job {
  id: string;
  name: string;
  description: string;
  schedule: string | null;
  timeZone: string;
  /** "api": edited here; "gitops": mirrored from a TestJob applied from git, read-only here. */
  managedBy: string;
  /** The TestJob this job is (Kubernetes mode), if any. */
  resource: { namespace: string; name: string } | null;
  testIds: string[];
  tests: JobTest[];
  concurrencyPolicy: ConcurrencyPolicy;
  suspend: boolean;
  lastRunAt: string | null;
  nextRunAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A stored test (id set), or an inline / ConfigMap script of a GitOps TestJob (id null). */
export interface JobTest {
  id: string | null;
  title: string;
  source: "stored" | "inline" | "configMap";
}

export type ConcurrencyPolicy = "Allow" | "Forbid" | "Replace";

/** "TestJob ns/name" of a GitOps job, for its badge and read-only hint. */
export function gitopsResource(job: Job): string | null {
  if (job.managedBy !== "gitops") return null;
  return job.resource ? `TestJob ${job.resource.namespace}/${job.resource.name}` : "a TestJob";
}

/** What the job form edits; other job fields (deadlines, history limits) keep their values on PATCH. */
export interface JobInput {
  name: string;
  description: string;
  schedule: string; // "" removes the schedule
  timeZone: string;
  testIds: string[];
  concurrencyPolicy: ConcurrencyPolicy;
  suspend: boolean;
}

export interface SchedulePreview {
  schedule: string;
  timeZone: string;
  nextRuns: string[];
}

export interface Capacity {
  running: number;
  queued: number;
  runningCapacity: number;
  queuedCapacity: number;
}

export type ArtifactKind = "screenshot" | "video" | "trace" | "other";

export interface Artifact {
  path: string;
  url: string;
  kind: ArtifactKind;
  size: number;
}

export interface RunEvent {
  type: "status" | "log" | "result";
  runId: string;
  ts: string;
  phase?: Phase;
  message?: string;
  line?: string;
  summary?: Summary;
  reportUrl?: string;
  exitCode?: number;
}
