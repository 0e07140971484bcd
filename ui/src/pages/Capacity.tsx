// Running and queued work against the limits, refreshed live; a full queue is said in words, since that is
// when submissions are refused with 429.
import { capacity, runs } from "../api/endpoints";
import { AsyncView } from "../components/States";
import { RunTable } from "./Runs";
import { useAsync } from "../lib/hooks";

const LIVE_MS = 2000;

function Meter({ label, value, max }: { label: string; value: number; max: number }) {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return (
    <div class="meter">
      <div class="meter-head">
        <span>{label}</span>
        <strong aria-label={`${label} count`}>
          {value} / {max}
        </strong>
      </div>
      <div class="meter-bar" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value}>
        <div class={`meter-fill ${pct >= 100 ? "full" : ""}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

export function CapacityPage() {
  const state = useAsync(() => capacity.get(), [], LIVE_MS);
  const active = useAsync(() => runs.active(), [], LIVE_MS);
  return (
    <>
      <section class="panel" aria-labelledby="cap-title">
        <div class="panel-head">
          <h1 id="cap-title">Capacity</h1>
          <span class="muted live-dot">Live</span>
        </div>
        <AsyncView state={state} what="capacity">
          {(c) => (
            <>
              <div class="meters">
                <Meter label="Running" value={c.running} max={c.runningCapacity} />
                <Meter label="Queued" value={c.queued} max={c.queuedCapacity} />
              </div>
              {c.queued >= c.queuedCapacity ? (
                <p class="run-error" role="alert">
                  The queue is full ({c.queued} of {c.queuedCapacity} waiting): new runs are refused with HTTP 429 until
                  running work drains.
                </p>
              ) : (
                <p class="muted">
                  Up to {c.runningCapacity} runs execute at once (RUNNING_CAPACITY); up to {c.queuedCapacity} more wait
                  in the queue (QUEUED_CAPACITY).
                </p>
              )}
            </>
          )}
        </AsyncView>
      </section>
      <section class="panel" aria-labelledby="active-title">
        <h2 id="active-title">Queued and running</h2>
        <RunTable state={active} empty="Nothing is queued or running." />
      </section>
    </>
  );
}
