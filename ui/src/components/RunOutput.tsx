// What a followed run shows: the live phase, counts, the message of a failed run, the log and the report.
// Shared by the playground and the run page so both read the same events the same way.
import { useEffect, useState } from "preact/hooks";
import { runs, runLog } from "../api/endpoints";
import type { Phase, Run, Summary } from "../api/types";
import { TERMINAL } from "../api/types";
import { subscribe } from "../lib/runFeed";
import { formatCounts } from "../lib/format";
import { LogPane } from "./LogPane";

const MAX_LINES = 3000;

export interface RunView {
  phase: Phase | "Idle";
  lines: string[];
  summary: Summary | null;
  message: string | null;
  lost: boolean;
}

const ROW_CATCH_UP_ATTEMPTS = 30;
const ROW_CATCH_UP_MS = 1000;

const IDLE: RunView = { phase: "Idle", lines: [], summary: null, message: null, lost: false };

/** Follows `run` live while it is active; a finished run's log comes from its uploaded logs.txt. */
export function useRunView(run: { runId: string; statusUrl: string; phase: Phase } | null, onEnd?: (r: Run) => void): RunView {
  const [view, setView] = useState<RunView>(IDLE);
  const runId = run?.runId;

  useEffect(() => {
    if (!run) {
      setView(IDLE);
      return undefined;
    }
    setView({ ...IDLE, phase: run.phase });
    let cancelled = false;
    // After the terminal event, the row has the final message, counts and duration. In Kubernetes mode the operator
    // writes the row a moment after the runner's event reaches us: never let a row that is still catching up turn a
    // finished run back to Running; ask again shortly instead.
    const refresh = (attempt = 0) =>
      runs.get(run.runId).then((r) => {
        if (cancelled) return;
        if (!TERMINAL.has(r.phase)) {
          if (attempt < ROW_CATCH_UP_ATTEMPTS) window.setTimeout(() => void refresh(attempt + 1), ROW_CATCH_UP_MS);
          return;
        }
        setView((v) => ({ ...v, phase: r.phase, summary: r.summary.total ? r.summary : v.summary, message: r.message ?? v.message }));
        onEnd?.(r);
      }, () => undefined);

    if (TERMINAL.has(run.phase)) {
      runLog(run.runId).then((text) => {
        if (!cancelled && text !== null) setView((v) => ({ ...v, lines: text.split("\n").slice(-MAX_LINES) }));
      });
      return () => void (cancelled = true);
    }
    const unsubscribe = subscribe(
      run.runId,
      run.statusUrl,
      (event) => {
        if (cancelled) return;
        if (event.type === "log") {
          setView((v) => ({ ...v, lines: [...v.lines, event.line ?? ""].slice(-MAX_LINES) }));
        } else if (event.type === "result") {
          setView((v) => ({ ...v, summary: event.summary ?? v.summary }));
        } else if (event.phase) {
          const phase = event.phase;
          setView((v) => ({
            ...v,
            phase,
            message: TERMINAL.has(phase) && event.message ? event.message : v.message,
            lines: event.message && !TERMINAL.has(phase) ? [...v.lines, `[${phase}] ${event.message}`] : v.lines,
          }));
          if (TERMINAL.has(phase)) void refresh(); // the row has the final message, counts and duration
        }
      },
      () => !cancelled && setView((v) => ({ ...v, lost: true })),
    );
    return () => {
      cancelled = true;
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId]);
  return view;
}

export function RunFacts({ view }: { view: RunView }) {
  const failed = view.phase === "Failed" || view.phase === "Error" || view.phase === "TimedOut";
  return (
    <>
      {view.summary && (
        <p class="counts" aria-label="Test counts">
          {formatCounts(view.summary)}
        </p>
      )}
      {failed && view.message && (
        <div class="run-error" role="alert" aria-label="Run error">
          <strong>{view.phase}:</strong> {view.message}
        </div>
      )}
      {view.lost && (
        <p class="error" role="alert">
          Lost the live status stream; reload the page to see the latest state.
        </p>
      )}
    </>
  );
}

export function RunLog({ view }: { view: RunView }) {
  const placeholder = view.phase === "Idle" ? "Run the script to see its output here." : "Waiting for output…";
  return <LogPane lines={view.lines} placeholder={placeholder} />;
}
