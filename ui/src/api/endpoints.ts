// Typed calls, one per API route the UI uses.
import { request } from "./client";
import type {
  Artifact,
  Capacity,
  Job,
  JobInput,
  Language,
  Phase,
  Principal,
  Run,
  RunList,
  HealthSort,
  SchedulePreview,
  TestHealthList,
  StoredTest,
  Submitted,
  TestInput,
  TestSummary,
} from "./types";

const enc = encodeURIComponent;

function query(params: Record<string, string | string[] | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const auth = {
  me: () => request<Principal>("GET", "/api/auth/me"),
  login: (apiKey: string) => request<Principal>("POST", "/api/auth/login", { apiKey }),
  logout: () => request<void>("POST", "/api/auth/logout"),
};

export const tests = {
  list: (q?: string, tag?: string) => request<{ items: TestSummary[]; total: number }>("GET", `/api/tests${query({ q, tag })}`),
  get: (id: string) => request<StoredTest>("GET", `/api/tests/${enc(id)}`),
  create: (body: TestInput) => request<StoredTest>("POST", "/api/tests", body),
  replace: (id: string, body: TestInput) => request<StoredTest>("PUT", `/api/tests/${enc(id)}`, body),
  remove: (id: string) => request<void>("DELETE", `/api/tests/${enc(id)}`),
  run: (id: string) => request<Submitted>("POST", `/api/tests/${enc(id)}/run`),
};

export const jobs = {
  list: () => request<{ items: Job[]; total: number }>("GET", "/api/jobs"),
  get: (id: string) => request<Job>("GET", `/api/jobs/${enc(id)}`),
  create: (body: JobInput) => request<Job>("POST", "/api/jobs", { ...body, schedule: body.schedule || null }),
  update: (id: string, body: JobInput) => request<Job>("PATCH", `/api/jobs/${enc(id)}`, body),
  remove: (id: string) => request<void>("DELETE", `/api/jobs/${enc(id)}`),
  run: (id: string, options?: { shards?: number }) => request<Submitted>("POST", `/api/jobs/${enc(id)}/run`, options),
  preview: (schedule: string, timeZone: string) =>
    request<SchedulePreview>("GET", `/api/jobs/schedule-preview${query({ schedule, timeZone, count: 5 })}`),
};

export interface RunFilters {
  phase?: Phase | "";
  trigger?: string;
  testId?: string;
  jobId?: string;
  kind?: string;
  limit?: number;
  offset?: number;
}

export const runs = {
  submitScript: (script: string, language: Language, title: string) =>
    request<Submitted>("POST", "/api/test", { script, language, title }),
  list: (f: RunFilters) => request<RunList>("GET", `/api/runs${query({ ...f })}`),
  active: () => request<RunList>("GET", `/api/runs${query({ phase: ["Queued", "Starting", "Running"], limit: 50 })}`),
  get: (id: string) => request<Run>("GET", `/api/runs/${enc(id)}`),
  cancel: (id: string) => request<Run>("POST", `/api/runs/${enc(id)}/cancel`),
  rerunFailed: (id: string) => request<Submitted>("POST", `/api/runs/${enc(id)}/rerun${query({ only: "failed" })}`),
  artifacts: (id: string) => request<{ items: Artifact[] }>("GET", `/api/runs/${enc(id)}/artifacts`),
};

export const health = {
  list: (f: { sort: HealthSort; order: "asc" | "desc"; q?: string; only?: string; limit?: number; offset?: number }) =>
    request<TestHealthList>("GET", `/api/tests/health${query({ ...f })}`),
  quarantine: (testId: string, reason: string) =>
    request<unknown>("PUT", `/api/tests/quarantine/${enc(testId)}`, { reason }),
  release: (testId: string) => request<void>("DELETE", `/api/tests/quarantine/${enc(testId)}`),
};

export const capacity = {
  get: () => request<Capacity>("GET", "/api/capacity"),
};

/** Plain text of a finished run's log (the runner uploads logs.txt next to the report). */
export async function runLog(runId: string): Promise<string | null> {
  const res = await fetch(`/api/test-results/${enc(runId)}/logs.txt`, { credentials: "same-origin" });
  return res.ok ? res.text() : null;
}
