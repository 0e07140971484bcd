// Jobs: ordered sets of stored tests, run now or on a cron schedule.
import { useState } from "preact/hooks";
import { jobs } from "../api/endpoints";
import { errorMessage } from "../api/client";
import { gitopsResource, type Job } from "../api/types";
import { AsyncView, Empty } from "../components/States";
import { useAsync } from "../lib/hooks";
import { reportSubmissionError, trackRun } from "../lib/runTracker";
import { toast } from "../lib/toasts";
import { formatTime } from "../lib/format";

export function JobsPage() {
  const state = useAsync(() => jobs.list(), [], 10_000);
  return (
    <section class="panel" aria-labelledby="jobs-title">
      <div class="panel-head">
        <h1 id="jobs-title">Jobs</h1>
        <a class="button" href="/jobs/new">
          New job
        </a>
      </div>
      <AsyncView state={state} what="jobs">
        {(data) =>
          data.items.length === 0 ? (
            <Empty>
              <p>
                No jobs yet. A job runs several stored tests in order, by hand or on a cron schedule.{" "}
                <a href="/jobs/new">Create a job</a>.
              </p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table aria-label="Jobs">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Tests</th>
                    <th scope="col">Schedule</th>
                    <th scope="col" class="hide-narrow">Next run</th>
                    <th scope="col" class="hide-narrow">Last run</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((j) => (
                    <JobRow key={j.id} job={j} onChanged={state.reload} />
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

function JobRow({ job, onChanged }: { job: Job; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const gitops = gitopsResource(job);
  const readOnly = job.managedBy !== "api";

  async function run() {
    setBusy(true);
    try {
      trackRun(await jobs.run(job.id), `Job "${job.name}"`);
    } catch (err) {
      reportSubmissionError(err);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    try {
      await jobs.remove(job.id);
      toast(`Deleted job "${job.name}"`, "success");
      onChanged();
    } catch (err) {
      toast(`Could not delete "${job.name}": ${errorMessage(err)}`, "error");
      setConfirming(false);
    }
  }

  return (
    <tr>
      <td>
        <a href={`/jobs/${job.id}`}>{job.name}</a>
        {gitops && (
          <span class="badge gitops" title={`managed by GitOps: ${gitops}`} aria-label={`managed by GitOps: ${gitops}`}>
            GitOps
          </span>
        )}
      </td>
      <td>{job.tests.map((t) => t.title).join(" → ") || <span class="muted">none</span>}</td>
      <td>{job.schedule ? <code>{job.schedule}</code> : <span class="muted">manual</span>}</td>
      <td class="hide-narrow">{formatTime(job.nextRunAt)}</td>
      <td class="hide-narrow">{formatTime(job.lastRunAt)}</td>
      <td class="row-actions">
        <button type="button" onClick={run} disabled={busy || job.tests.length === 0} aria-label={`Run ${job.name} now`}>
          Run now
        </button>
        <a class="button secondary" href={`/jobs/${job.id}`} aria-label={readOnly ? `View ${job.name}` : `Edit ${job.name}`}>
          {readOnly ? "View" : "Edit"}
        </a>
        <a class="button secondary hide-narrow" href={`/runs?jobId=${job.id}`} aria-label={`History of ${job.name}`}>
          History
        </a>
        {readOnly ? null : confirming ? (
          <button type="button" class="danger" onClick={remove} aria-label={`Confirm delete ${job.name}`}>
            Confirm delete
          </button>
        ) : (
          <button type="button" class="secondary" onClick={() => setConfirming(true)} aria-label={`Delete ${job.name}`}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}
