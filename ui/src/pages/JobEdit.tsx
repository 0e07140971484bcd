// Create (/jobs/new) or edit (/jobs/:id) a job: ordered tests, a cron schedule checked by the server as you
// type (with the next run times), run now, and the job's history.
import { useEffect, useState } from "preact/hooks";
import { jobs, runs, tests } from "../api/endpoints";
import { errorMessage } from "../api/client";
import { gitopsResource, type ConcurrencyPolicy, type Job, type JobInput, type JobTest, type SchedulePreview } from "../api/types";
import { ErrorBox, Loading } from "../components/States";
import { RunTable } from "./Runs";
import { useAsync } from "../lib/hooks";
import { navigate } from "../lib/router";
import { reportSubmissionError, trackRun } from "../lib/runTracker";
import { toast } from "../lib/toasts";
import { formatTime } from "../lib/format";

const PREVIEW_DEBOUNCE_MS = 300;

export function JobEditPage({ id }: { id: string }) {
  const isNew = id === "new";
  const [job, setJob] = useState<Job | null>(null);
  const [loadError, setLoadError] = useState("");
  useEffect(() => {
    if (isNew) return;
    setJob(null);
    jobs.get(id).then(setJob, (err: unknown) => setLoadError(errorMessage(err)));
  }, [id, isNew]);

  if (!isNew && loadError) return <ErrorBox message={loadError} />;
  if (!isNew && !job) return <Loading what="the job" />;
  return (
    <>
      <JobForm key={id} job={job} onSaved={setJob} />
      {job && (
        <section class="panel" aria-labelledby="job-history">
          <div class="panel-head">
            <h2 id="job-history">History</h2>
            <a href={`/runs?jobId=${job.id}`}>All runs of this job</a>
          </div>
          <JobHistory id={job.id} />
        </section>
      )}
    </>
  );
}

function JobHistory({ id }: { id: string }) {
  const state = useAsync(() => runs.list({ jobId: id, limit: 10 }), [id], 2000);
  return <RunTable state={state} empty="This job has not run yet." />;
}

function useSchedulePreview(schedule: string, timeZone: string) {
  const [preview, setPreview] = useState<SchedulePreview | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    setPreview(null);
    setError("");
    if (!schedule.trim()) return undefined;
    // Debounced: validate once typing pauses, with croniter on the server (the same check as on save).
    const timer = window.setTimeout(() => {
      jobs.preview(schedule.trim(), timeZone.trim() || "UTC").then(setPreview, (err: unknown) => setError(errorMessage(err)));
    }, PREVIEW_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [schedule, timeZone]);
  return { preview, error };
}

function JobForm({ job, onSaved }: { job: Job | null; onSaved: (j: Job) => void }) {
  const [name, setName] = useState(job?.name ?? "");
  const [description, setDescription] = useState(job?.description ?? "");
  const [schedule, setSchedule] = useState(job?.schedule ?? "");
  const [timeZone, setTimeZone] = useState(job?.timeZone ?? "UTC");
  const [policy, setPolicy] = useState<ConcurrencyPolicy>(job?.concurrencyPolicy ?? "Allow");
  const [suspend, setSuspend] = useState(job?.suspend ?? false);
  const [selected, setSelected] = useState<JobTest[]>(job?.tests ?? []);
  // Pods that run this job's tests at once, each on part of its test files (balanced by their past durations).
  const [shards, setShards] = useState(1);
  const [toAdd, setToAdd] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const catalog = useAsync(() => tests.list(), []);
  const { preview, error: scheduleError } = useSchedulePreview(schedule, timeZone);
  const readOnly = !!job && job.managedBy !== "api";

  function move(index: number, delta: number) {
    const next = [...selected];
    const [item] = next.splice(index, 1);
    next.splice(index + delta, 0, item);
    setSelected(next);
  }

  function add() {
    const t = catalog.data?.items.find((x) => x.id === toAdd);
    if (!t) return;
    setSelected([...selected, { id: t.id, title: t.title, source: "stored" }]);
    setToAdd("");
  }

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    const body: JobInput = {
      name: name.trim(),
      description,
      schedule: schedule.trim(),
      timeZone: timeZone.trim() || "UTC",
      testIds: selected.flatMap((t) => (t.id ? [t.id] : [])),
      concurrencyPolicy: policy,
      suspend,
    };
    try {
      const saved = job ? await jobs.update(job.id, body) : await jobs.create(body);
      toast(job ? `Saved job "${saved.name}"` : `Created job "${saved.name}"`, "success");
      onSaved(saved);
      if (!job) navigate(`/jobs/${saved.id}`, { replace: true });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function runNow() {
    if (!job) return;
    try {
      trackRun(await jobs.run(job.id, { shards }), `Job "${job.name}"`);
    } catch (err) {
      setError(reportSubmissionError(err));
    }
  }

  return (
    <section class="panel" aria-labelledby="job-title">
      <div class="panel-head">
        <h1 id="job-title">{job ? `Job: ${job.name}` : "New job"}</h1>
        <div class="toolbar">
          {job && (
            <label class="inline" title="Pods that run the tests at once, each on part of the test files">
              Shards{" "}
              <input
                type="number"
                min={1}
                max={Math.max(1, Math.min(32, job.tests.length))}
                value={shards}
                onInput={(e) => setShards(Math.max(1, Number((e.target as HTMLInputElement).value) || 1))}
                style={{ width: "4em" }}
              />
            </label>
          )}
          {job && (
            <button type="button" onClick={runNow} disabled={job.tests.length === 0}>
              Run now
            </button>
          )}
          <a href="/jobs">All jobs</a>
        </div>
      </div>
      {readOnly && job && (
        <p class="hint" role="note">
          {job.managedBy === "gitops"
            ? `This job is managed by GitOps (${gitopsResource(job)}); change it in git.`
            : `This job is managed by ${job.managedBy}; change it there.`}
        </p>
      )}
      <form onSubmit={save} class="stack">
        <label for="job-name">Name</label>
        <input id="job-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} disabled={readOnly} />
        <label for="job-description">Description</label>
        <input id="job-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} disabled={readOnly} />

        <fieldset>
          <legend>Tests, in run order</legend>
          {selected.length === 0 ? (
            <p class="muted">No tests yet: add stored tests below.</p>
          ) : (
            <ol class="ordered" aria-label="Job tests">
              {selected.map((t, i) => (
                <li key={`${t.id}-${i}`}>
                  <span class="grow">
                    {t.title}
                    {t.source !== "stored" && <span class="muted"> ({t.source === "configMap" ? "ConfigMap" : "inline"} script)</span>}
                  </span>
                  <button type="button" class="icon" onClick={() => move(i, -1)} disabled={i === 0 || readOnly} aria-label={`Move ${t.title} up`}>
                    ↑
                  </button>
                  <button type="button" class="icon" onClick={() => move(i, 1)} disabled={i === selected.length - 1 || readOnly} aria-label={`Move ${t.title} down`}>
                    ↓
                  </button>
                  <button type="button" class="icon" onClick={() => setSelected(selected.filter((_, k) => k !== i))} disabled={readOnly} aria-label={`Remove ${t.title}`}>
                    ×
                  </button>
                </li>
              ))}
            </ol>
          )}
          <div class="row">
            <select aria-label="Test to add" value={toAdd} onChange={(e) => setToAdd(e.currentTarget.value)} disabled={readOnly} class="grow">
              <option value="">{catalog.data ? (catalog.data.items.length ? "Choose a stored test…" : "No stored tests yet") : "Loading tests…"}</option>
              {catalog.data?.items.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.title}
                </option>
              ))}
            </select>
            <button type="button" class="secondary" onClick={add} disabled={!toAdd || readOnly}>
              Add test
            </button>
          </div>
          {catalog.error && <p class="error">{catalog.error}</p>}
        </fieldset>

        <div class="row">
          <div class="grow">
            <label for="job-schedule">Cron schedule (optional)</label>
            <input
              id="job-schedule"
              value={schedule}
              onInput={(e) => setSchedule(e.currentTarget.value)}
              placeholder="*/15 * * * *"
              aria-describedby="schedule-help"
              aria-invalid={scheduleError ? "true" : undefined}
              disabled={readOnly}
            />
          </div>
          <div>
            <label for="job-tz">Time zone</label>
            <input id="job-tz" value={timeZone} onInput={(e) => setTimeZone(e.currentTarget.value)} disabled={readOnly} />
          </div>
        </div>
        <div id="schedule-help" class="schedule-help" aria-live="polite">
          {!schedule.trim() && <span class="muted">Without a schedule the job runs only when started.</span>}
          {scheduleError && (
            <span class="error" role="alert">
              {scheduleError}
            </span>
          )}
          {preview && (
            <div>
              <span>Next runs:</span>
              <ul class="next-runs" aria-label="Next run times">
                {preview.nextRuns.map((t) => (
                  <li key={t}>{formatTime(t)}</li>
                ))}
              </ul>
            </div>
          )}
        </div>
        <div class="row">
          <div>
            <label for="job-policy">When a scheduled run is still active</label>
            <select id="job-policy" value={policy} onChange={(e) => setPolicy(e.currentTarget.value as ConcurrencyPolicy)} disabled={readOnly}>
              <option value="Allow">Allow: start another</option>
              <option value="Forbid">Forbid: skip this tick</option>
              <option value="Replace">Replace: cancel the active run</option>
            </select>
          </div>
          <label class="inline checkbox">
            <input type="checkbox" checked={suspend} onChange={(e) => setSuspend(e.currentTarget.checked)} disabled={readOnly} />
            <span>Suspend the schedule</span>
          </label>
        </div>
        {!readOnly && (
          <div class="actions">
            <button type="submit" disabled={busy}>
              {busy ? "Saving…" : job ? "Save job" : "Create job"}
            </button>
          </div>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
