import type { Run, Summary } from "../api/types";

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** Server duration when known, else the elapsed time of an active run. */
export function runDuration(run: Run, now = Date.now()): number | null {
  if (run.summary.durationMs) return run.summary.durationMs;
  if (!run.startedAt) return null;
  const end = run.completedAt ? Date.parse(run.completedAt) : now;
  return Math.max(0, end - Date.parse(run.startedAt));
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function formatCounts(s: Summary): string {
  if (!s.total) return "–";
  const parts = [`${s.passed} passed`, `${s.failed} failed`];
  // Quarantined failures are known ones: shown apart, they do not fail the run.
  if (s.quarantined) parts.push(`${s.quarantined} quarantined`);
  if (s.flaky) parts.push(`${s.flaky} flaky`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  return parts.join(", ");
}
