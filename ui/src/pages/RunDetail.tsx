// One run: summary, live log, report, cancel while it is queued or running, and re-run of its failed tests once
// it finished with failures.
import { Deliveries } from "../components/Deliveries";
import { useState } from "preact/hooks";
import { runs } from "../api/endpoints";
import { errorMessage } from "../api/client";
import type { Run } from "../api/types";
import { TERMINAL } from "../api/types";
import { PhaseBadge } from "../components/PhaseBadge";
import { ReportViewer } from "../components/ReportViewer";
import { RunFacts, RunLog, useRunView } from "../components/RunOutput";
import { AsyncView } from "../components/States";
import { useAsync } from "../lib/hooks";
import { navigate } from "../lib/router";
import { formatCounts, formatDuration, formatTime, runDuration } from "../lib/format";
import { toast } from "../lib/toasts";

export function RunDetailPage({ id }: { id: string }) {
  const state = useAsync(() => runs.get(id), [id]);
  return (
    <AsyncView state={state} what="the run">
      {(run) => <RunDetail run={run} reload={state.reload} />}
    </AsyncView>
  );
}

function RunDetail({ run, reload }: { run: Run; reload: () => void }) {
  // Follow the stream of the run as loaded; the row is re-read when the stream reports the end.
  const view = useRunView(run, (fresh) => fresh.phase !== run.phase && reload());
  const [cancelling, setCancelling] = useState(false);
  const [error, setError] = useState("");
  const phase = view.phase === "Idle" ? run.phase : view.phase;
  const finished = TERMINAL.has(phase);
  const [rerunning, setRerunning] = useState(false);
  // Only a finished run with failed tests has something to re-run (flaky and quarantined ones passed the run).
  const canRerun = finished && (view.summary ?? run.summary).failed > 0;

  async function cancel() {
    setCancelling(true);
    setError("");
    try {
      await runs.cancel(run.runId);
      toast(`Cancelling ${run.title || run.runId}`, "info");
    } catch (err) {
      setError(errorMessage(err));
      setCancelling(false);
    }
  }

  async function rerunFailed() {
    setRerunning(true);
    setError("");
    try {
      const started = await runs.rerunFailed(run.runId);
      toast(`Re-running the failed tests of ${run.title || run.runId}`, "info");
      navigate(`/runs/${started.runId}`);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setRerunning(false);
    }
  }

  return (
    <>
      <section class="panel" aria-labelledby="run-title">
        <div class="panel-head">
          <h1 id="run-title">{run.title || `Run ${run.runId}`}</h1>
          <div class="toolbar">
            <PhaseBadge phase={phase} label="Phase" />
            {!finished && (
              <button type="button" class="danger" onClick={cancel} disabled={cancelling || run.cancelRequested}>
                {cancelling || run.cancelRequested ? "Cancelling…" : "Cancel run"}
              </button>
            )}
            {canRerun && (
              <button type="button" onClick={rerunFailed} disabled={rerunning}>
                {rerunning ? "Starting…" : "Re-run failed"}
              </button>
            )}
          </div>
        </div>
        <dl class="facts">
          <dt>Run id</dt>
          <dd>
            <code>{run.runId}</code>
          </dd>
          <dt>Kind</dt>
          <dd>{run.kind === "job" ? "Job run" : "Test run"}</dd>
          <dt>Trigger</dt>
          <dd>{run.trigger}</dd>
          {run.testId && (
            <>
              <dt>Test</dt>
              <dd>
                <a href={`/tests/${run.testId}`}>{run.testId}</a>
              </dd>
            </>
          )}
          {run.jobId && (
            <>
              <dt>Job</dt>
              <dd>
                <a href={`/jobs/${run.jobId}`}>{run.jobId}</a>
              </dd>
            </>
          )}
          {run.rerunOf && (
            <>
              <dt>Re-run of</dt>
              <dd>
                <a href={`/runs/${run.rerunOf}`}>{run.rerunOf}</a> (its failed tests: {(run.onlyTests ?? []).length})
              </dd>
            </>
          )}
          <dt>Queued</dt>
          <dd>{formatTime(run.queuedAt)}</dd>
          <dt>Started</dt>
          <dd>{formatTime(run.startedAt)}</dd>
          <dt>Finished</dt>
          <dd>{formatTime(run.completedAt)}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(runDuration(run))}</dd>
          <dt>Results</dt>
          <dd>{formatCounts(view.summary ?? run.summary)}</dd>
          {run.junitUrl && (
            <>
              <dt>JUnit</dt>
              <dd>
                <a href={run.junitUrl} rel="noreferrer" target="_blank">
                  junit.xml
                </a>
              </dd>
            </>
          )}
          {run.message && (
            <>
              <dt>Message</dt>
              <dd>{run.message}</dd>
            </>
          )}
        </dl>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <RunFacts view={{ ...view, summary: null }} />
      </section>
      <section class="panel" aria-labelledby="log-title">
        <h2 id="log-title">Log</h2>
        <RunLog view={view} />
      </section>
      {finished && <Deliveries runId={run.runId} />}
      {finished && (
        <section class="panel" aria-labelledby="report-title">
          <h2 id="report-title">Report</h2>
          <ReportViewer runId={run.runId} reportUrl={run.reportUrl} />
        </section>
      )}
    </>
  );
}
