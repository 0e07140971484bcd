// Per-test health over the window (newest 50 results, 14 days): pass and flaky rates, durations with a sparkline,
// the last failure, and quarantine (a quarantined test still runs; its failure does not fail the run).
import { useState } from "preact/hooks";
import { errorMessage } from "../api/client";
import { health } from "../api/endpoints";
import type { HealthSort, TestHealth } from "../api/types";
import { AsyncView } from "../components/States";
import { formatDuration, formatTime } from "../lib/format";
import { useAsync } from "../lib/hooks";
import { toast } from "../lib/toasts";

function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`;
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : formatDuration(Math.round(v));
}

/** Durations oldest first as a polyline; a flat line when they are all equal. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  if (values.length < 2) return <span class="muted">–</span>;
  const w = 100;
  const h = 20;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const points = values
    .map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - ((v - min) / span) * (h - 2) - 1).toFixed(1)}`)
    .join(" ");
  return (
    <svg class="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
      <polyline fill="none" stroke="currentColor" stroke-width="1.5" points={points} />
    </svg>
  );
}

const SORTS: { value: HealthSort; label: string }[] = [
  { value: "flakyRate", label: "Flaky rate" },
  { value: "passRate", label: "Pass rate" },
  { value: "medianMs", label: "Median duration" },
  { value: "p95Ms", label: "p95 duration" },
  { value: "lastFailureAt", label: "Last failure" },
  { value: "testId", label: "Test" },
];

function HealthRow({ t, onChange }: { t: TestHealth; onChange: () => void }) {
  const [busy, setBusy] = useState(false);
  async function toggle() {
    setBusy(true);
    try {
      if (t.quarantined) {
        await health.release(t.testId);
        toast(`Released ${t.testId} from quarantine`, "success");
      } else {
        const reason = window.prompt(`Why quarantine "${t.testId}"?`, "flaky");
        if (!reason) return;
        await health.quarantine(t.testId, reason);
        toast(`Quarantined ${t.testId}`, "success");
      }
      onChange();
    } catch (e) {
      toast(errorMessage(e), "error");
    } finally {
      setBusy(false);
    }
  }
  return (
    <tr>
      <td>
        <code>{t.testId}</code> {t.quarantined && <span class="badge">quarantined</span>}
      </td>
      <td>{t.runs}</td>
      <td>{pct(t.passRate)}</td>
      <td aria-label="Flaky rate">{pct(t.flakyRate)}</td>
      <td>{ms(t.medianMs)}</td>
      <td>{ms(t.p95Ms)}</td>
      <td>
        <Sparkline values={t.durationsMs} label={`Durations of ${t.testId}`} />
      </td>
      <td>
        {t.lastFailure ? (
          <>
            <a href={`/runs/${encodeURIComponent(t.lastFailure.runId)}`}>{formatTime(t.lastFailure.at)}</a>
            {t.lastFailure.message && <div class="muted small">{t.lastFailure.message.split("\n")[0]}</div>}
          </>
        ) : (
          "–"
        )}
      </td>
      <td>
        <button type="button" class="secondary" disabled={busy} onClick={() => void toggle()}>
          {t.quarantined ? "Release" : "Quarantine"}
        </button>
      </td>
    </tr>
  );
}

export function HealthPage() {
  const [sort, setSort] = useState<HealthSort>("flakyRate");
  const [q, setQ] = useState("");
  const [only, setOnly] = useState("");
  const state = useAsync(() => health.list({ sort, order: sort === "testId" ? "asc" : "desc", q, only, limit: 200 }), [sort, q, only]);
  return (
    <section class="panel" aria-labelledby="health-title">
      <div class="panel-head">
        <h1 id="health-title">Test health</h1>
      </div>
      <form class="filters" aria-label="Filter tests" onSubmit={(e) => e.preventDefault()}>
        <label>
          Sort by{" "}
          <select value={sort} onChange={(e) => setSort((e.target as HTMLSelectElement).value as HealthSort)}>
            {SORTS.map((s) => (
              <option value={s.value}>{s.label}</option>
            ))}
          </select>
        </label>
        <label>
          Show{" "}
          <select value={only} onChange={(e) => setOnly((e.target as HTMLSelectElement).value)}>
            <option value="">All tests</option>
            <option value="flaky">Flaky</option>
            <option value="failing">Failing</option>
            <option value="quarantined">Quarantined</option>
          </select>
        </label>
        <label>
          Search <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>
      </form>
      <AsyncView state={state} what="test health">
        {(list) =>
          list.items.length === 0 ? (
            <p class="muted">
              {q || only ? "No tests match these filters." : `No test results in the last ${list.windowDays} days yet.`}
            </p>
          ) : (
            <div class="table-wrap">
              <table aria-label="Test health">
                <thead>
                  <tr>
                    <th>Test</th>
                    <th>Runs</th>
                    <th>Pass rate</th>
                    <th>Flaky rate</th>
                    <th>Median</th>
                    <th>p95</th>
                    <th>Durations</th>
                    <th>Last failure</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((t) => (
                    <HealthRow key={t.testId} t={t} onChange={state.reload} />
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </AsyncView>
    </section>
  );
}
