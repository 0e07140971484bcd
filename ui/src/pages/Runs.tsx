// Run history: filters in the URL (shareable), live refresh, durations and pass/fail counts.
import { runs, tests, jobs } from "../api/endpoints";
import type { Phase, RunList } from "../api/types";
import { PHASES, TRIGGERS } from "../api/types";
import { PhaseBadge } from "../components/PhaseBadge";
import { AsyncView, Empty } from "../components/States";
import { type Async, useAsync } from "../lib/hooks";
import { navigate, useLocation } from "../lib/router";
import { formatCounts, formatDuration, formatTime, runDuration } from "../lib/format";

const PAGE = 25;
const LIVE_MS = 2000;
type FilterName = "phase" | "trigger" | "testId" | "jobId";

export function RunsPage() {
  const loc = useLocation();
  const p = loc.params;
  const filters = {
    phase: (p.get("phase") ?? "") as Phase | "",
    trigger: p.get("trigger") ?? "",
    testId: p.get("testId") ?? "",
    jobId: p.get("jobId") ?? "",
  };
  const offset = Number(p.get("offset") ?? 0) || 0;
  const key = loc.params.toString();
  const state = useAsync(() => runs.list({ ...filters, limit: PAGE, offset }), [key], LIVE_MS);
  const testOptions = useAsync(() => tests.list(), []);
  const jobOptions = useAsync(() => jobs.list(), []);

  function set(name: FilterName | "offset", value: string) {
    const params = new URLSearchParams(loc.params);
    if (value) params.set(name, value);
    else params.delete(name);
    if (name !== "offset") params.delete("offset");
    const qs = params.toString();
    navigate(`/runs${qs ? `?${qs}` : ""}`, { replace: true });
  }

  const filtered = Object.values(filters).some(Boolean);
  return (
    <section class="panel" aria-labelledby="runs-title">
      <div class="panel-head">
        <h1 id="runs-title">Runs</h1>
        <span class="muted live-dot" title="Refreshes every 2 seconds">
          Live
        </span>
      </div>
      <form class="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label class="inline">
          <span>Phase</span>
          <select aria-label="Phase filter" value={filters.phase} onChange={(e) => set("phase", e.currentTarget.value)}>
            <option value="">Any</option>
            {PHASES.map((ph) => (
              <option key={ph} value={ph}>
                {ph}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <span>Trigger</span>
          <select aria-label="Trigger filter" value={filters.trigger} onChange={(e) => set("trigger", e.currentTarget.value)}>
            <option value="">Any</option>
            {TRIGGERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <span>Test</span>
          <select aria-label="Test filter" value={filters.testId} onChange={(e) => set("testId", e.currentTarget.value)}>
            <option value="">Any</option>
            {testOptions.data?.items.map((t) => (
              <option key={t.id} value={t.id}>
                {t.title}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <span>Job</span>
          <select aria-label="Job filter" value={filters.jobId} onChange={(e) => set("jobId", e.currentTarget.value)}>
            <option value="">Any</option>
            {jobOptions.data?.items.map((j) => (
              <option key={j.id} value={j.id}>
                {j.name}
              </option>
            ))}
          </select>
        </label>
        {filtered && (
          <button type="button" class="link" onClick={() => navigate("/runs", { replace: true })}>
            Clear filters
          </button>
        )}
      </form>
      <RunTable state={state} empty={filtered ? "No run matches these filters." : "No runs yet: start one from the playground."} />
      {state.data && state.data.total > PAGE && (
        <nav class="pager" aria-label="Pages">
          <button type="button" class="secondary" disabled={offset === 0} onClick={() => set("offset", String(Math.max(0, offset - PAGE)))}>
            Newer
          </button>
          <span class="muted">
            {offset + 1}–{Math.min(offset + PAGE, state.data.total)} of {state.data.total}
          </span>
          <button type="button" class="secondary" disabled={offset + PAGE >= state.data.total} onClick={() => set("offset", String(offset + PAGE))}>
            Older
          </button>
        </nav>
      )}
    </section>
  );
}

export function RunTable({ state, empty }: { state: Async<RunList>; empty: string }) {
  return (
    <AsyncView state={state} what="runs">
      {(data) =>
        data.items.length === 0 ? (
          <Empty>
            <p>{empty}</p>
          </Empty>
        ) : (
          <div class="table-wrap">
            <table aria-label="Runs">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Phase</th>
                  <th scope="col" class="hide-narrow">Kind</th>
                  <th scope="col" class="hide-narrow">Trigger</th>
                  <th scope="col" class="hide-narrow">Queued</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Results</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((r) => (
                  <tr key={r.runId} data-run-id={r.runId}>
                    <td>
                      <a href={`/runs/${r.runId}`}>{r.title || r.runId}</a>
                    </td>
                    <td>
                      <PhaseBadge phase={r.phase} />
                    </td>
                    <td class="hide-narrow">{r.kind}</td>
                    <td class="hide-narrow">{r.trigger}</td>
                    <td class="hide-narrow">{formatTime(r.queuedAt)}</td>
                    <td>{formatDuration(runDuration(r))}</td>
                    <td>{formatCounts(r.summary)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </AsyncView>
  );
}
