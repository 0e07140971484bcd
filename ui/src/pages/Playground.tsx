// Write a script, run it, watch it live, read the report; save it as a stored test when it is good.
import { useEffect, useState } from "preact/hooks";
import { runs, tests } from "../api/endpoints";
import { errorMessage } from "../api/client";
import type { Language, Submitted } from "../api/types";
import { isTerminal } from "../lib/runFeed";
import { Editor } from "../editor/Editor";
import { TEMPLATE } from "../editor/template";
import { PhaseBadge } from "../components/PhaseBadge";
import { ReportViewer } from "../components/ReportViewer";
import { RunFacts, RunLog, useRunView } from "../components/RunOutput";
import { reportSubmissionError, trackRun } from "../lib/runTracker";
import { navigate, useLocation } from "../lib/router";
import { toast } from "../lib/toasts";

// The draft outlives navigation within the app (module state), not a reload: reloading starts afresh.
const draft = { script: TEMPLATE, language: "javascript" as Language, submitted: null as Submitted | null };

function parseTags(text: string): string[] {
  return text.split(",").map((t) => t.trim()).filter(Boolean);
}

export function Playground() {
  const loc = useLocation();
  const [script, setScript] = useState(draft.script);
  const [version, setVersion] = useState(0); // bumped when the text is replaced, not typed
  const load = (text: string) => {
    setScript(text);
    setVersion((n) => n + 1);
  };
  const [language, setLanguage] = useState<Language>(draft.language);
  const [submitted, setSubmitted] = useState<Submitted | null>(draft.submitted);
  const [submitting, setSubmitting] = useState(false);
  const [runError, setRunError] = useState("");
  const [loadError, setLoadError] = useState("");
  const view = useRunView(submitted);
  const running = submitting || (view.phase !== "Idle" && !isTerminal(view.phase));

  useEffect(() => {
    draft.script = script;
    draft.language = language;
    draft.submitted = submitted;
  }, [script, language, submitted]);

  // /playground?test=<id> opens a stored test (the Tests page links here).
  const testId = loc.params.get("test");
  useEffect(() => {
    if (!testId) return;
    setLoadError("");
    tests.get(testId).then(
      (t) => {
        load(t.script);
        setLanguage(t.language);
      },
      (err: unknown) => setLoadError(`Could not open test ${testId}: ${errorMessage(err)}`),
    );
  }, [testId]);

  async function run(e: Event) {
    e.preventDefault();
    setRunError("");
    setSubmitting(true);
    try {
      const sub = await runs.submitScript(script, language, "Playground run");
      trackRun(sub, "Playground run");
      setSubmitted(sub);
    } catch (err) {
      setRunError(reportSubmissionError(err));
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <div class="playground">
      <section class="panel editor-panel" aria-labelledby="pg-title">
        <div class="panel-head">
          <h1 id="pg-title">Playground</h1>
          <div class="toolbar">
            <label class="inline">
              <span>Language</span>
              <select value={language} onChange={(e) => setLanguage(e.currentTarget.value as Language)} aria-label="Language">
                <option value="javascript">JavaScript</option>
                <option value="typescript">TypeScript</option>
              </select>
            </label>
            <button type="button" class="secondary" onClick={() => load(TEMPLATE)}>
              Use template
            </button>
          </div>
        </div>
        {loadError && (
          <p class="error" role="alert">
            {loadError}
          </p>
        )}
        <form onSubmit={run}>
          <Editor value={script} version={version} language={language} onChange={setScript} label="Script" />
          <div class="actions">
            <button type="submit" disabled={running}>
              {submitting ? "Submitting…" : "Run"}
            </button>
            <span class="phase-line">
              Phase: <PhaseBadge phase={view.phase} label="Phase" />
            </span>
            {submitted && (
              <a href={`/runs/${submitted.runId}`} class="muted">
                Run details
              </a>
            )}
          </div>
        </form>
        {runError && (
          <p class="error" role="alert">
            {runError}
          </p>
        )}
        <SaveAsTest script={script} language={language} />
      </section>

      <section class="panel output-panel" aria-labelledby="out-title">
        <h2 id="out-title">Output</h2>
        <RunFacts view={view} />
        <RunLog view={view} />
        {submitted && isTerminal(view.phase) && (
          <>
            <h2>Report</h2>
            <ReportViewer runId={submitted.runId} reportUrl={submitted.reportUrl} />
          </>
        )}
      </section>
    </div>
  );
}

function SaveAsTest({ script, language }: { script: string; language: Language }) {
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState("");
  const [tags, setTags] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const t = await tests.create({ title: title.trim(), script, language, tags: parseTags(tags) });
      toast(`Saved test "${t.title}"`, "success", `/tests/${t.id}`);
      setOpen(false);
      setTitle("");
      setTags("");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  if (!open) {
    return (
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setOpen(true)}>
          Save as test
        </button>
        <button type="button" class="link" onClick={() => navigate("/tests")}>
          Open a stored test…
        </button>
      </div>
    );
  }
  return (
    <form class="save-form" onSubmit={save} aria-label="Save as test">
      <label for="save-title">Test title</label>
      <input id="save-title" required value={title} onInput={(e) => setTitle(e.currentTarget.value)} autoFocus />
      <label for="save-tags">Tags (comma-separated)</label>
      <input id="save-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} placeholder="smoke, login" />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : "Save test"}
        </button>
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
