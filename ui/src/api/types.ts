// Wire shapes of the Supertest HTTP API (camelCase JSON): names for the schemas openapi-typescript generates
// into schema.d.ts from the API's OpenAPI document (scripts/gen-ui-types.sh; CI fails when they drift).
// Only what the schema cannot say is written here: constant lists, helpers, and the SSE event's shape.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

export type Phase = Schemas["Phase"];
export const PHASES: Phase[] = ["Queued", "Starting", "Running", "Passed", "Failed", "Error", "Cancelled", "TimedOut"];
export const TERMINAL: ReadonlySet<Phase> = new Set<Phase>(["Passed", "Failed", "Error", "Cancelled", "TimedOut"]);
export const TRIGGERS = ["manual", "api", "cli", "schedule", "kubectl"] as const;

export type Language = Schemas["TestIn"]["language"];
export type RunKind = Schemas["RunOut"]["kind"];

export type Principal = Schemas["PrincipalOut"];

export type Summary = Schemas["Summary"];

export type Run = Schemas["RunOut"];

export type RunList = Schemas["RunListOut"];

export type Submitted = Schemas["SubmitOut"];

export type TestSummary = Schemas["TestSummaryOut"];

export type StoredTest = Schemas["TestOut"];

export type TestInput = Schemas["TestIn"];

export type Job = Schemas["JobOut"];

export type JobTest = Schemas["JobTestOut"];

export type ConcurrencyPolicy = Schemas["JobIn"]["concurrencyPolicy"];

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

export type SchedulePreview = Schemas["SchedulePreviewOut"];

export type Capacity = Schemas["CapacityOut"];

export type TestHealth = Schemas["TestHealthOut"];

export type TestHealthList = Schemas["TestHealthListOut"];

export type HealthSort = NonNullable<NonNullable<paths["/api/tests/health"]["get"]["parameters"]["query"]>["sort"]>;

export type ArtifactKind = Schemas["ArtifactOut"]["kind"];

export type Artifact = Schemas["ArtifactOut"];

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
