// Create (/tests/new) or edit (/tests/:id) a stored test, with its recent runs.
import { useEffect, useState } from "preact/hooks";
import { runs, tests } from "../api/endpoints";
import { errorMessage } from "../api/client";
import type { Language, StoredTest } from "../api/types";
import { Editor } from "../editor/Editor";
import { TEMPLATE } from "../editor/template";
import { ErrorBox, Loading } from "../components/States";
import { RunTable } from "./Runs";
import { useAsync } from "../lib/hooks";
import { navigate } from "../lib/router";
import { reportSubmissionError, trackRun } from "../lib/runTracker";
import { toast } from "../lib/toasts";

export function TestEditPage({ id }: { id: string }) {
  const isNew = id === "new";
  const [loaded, setLoaded] = useState<StoredTest | null>(null);
  const [loadError, setLoadError] = useState("");
  const [title, setTitle] = useState("");
  const [tags, setTags] = useState("");
  const [language, setLanguage] = useState<Language>("javascript");
  const [script, setScript] = useState(TEMPLATE);
  const [version, setVersion] = useState(0); // bumped when the loaded test replaces the text
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (isNew) return;
    setLoaded(null);
    tests.get(id).then(
      (t) => {
        setLoaded(t);
        setTitle(t.title);
        setTags(t.tags.join(", "));
        setLanguage(t.language);
        setScript(t.script);
        setVersion((n) => n + 1);
      },
      (err: unknown) => setLoadError(errorMessage(err)),
    );
  }, [id, isNew]);

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    const body = { title: title.trim(), script, language, tags: tags.split(",").map((t) => t.trim()).filter(Boolean) };
    try {
      const t = isNew ? await tests.create(body) : await tests.replace(id, body);
      toast(isNew ? `Created test "${t.title}"` : `Saved test "${t.title}"`, "success");
      if (isNew) navigate(`/tests/${t.id}`, { replace: true });
      else setLoaded(t);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function run() {
    try {
      trackRun(await tests.run(id), `Test "${title}"`);
    } catch (err) {
      setError(reportSubmissionError(err));
    }
  }

  if (!isNew && loadError) return <ErrorBox message={loadError} />;
  if (!isNew && !loaded) return <Loading what="the test" />;
  return (
    <>
      <section class="panel" aria-labelledby="test-title">
        <div class="panel-head">
          <h1 id="test-title">{isNew ? "New test" : `Test: ${loaded?.title}`}</h1>
          <a href="/tests">All tests</a>
        </div>
        <form onSubmit={save} class="stack">
          <label for="test-title-input">Title</label>
          <input id="test-title-input" required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          <div class="row">
            <div class="grow">
              <label for="test-tags">Tags (comma-separated)</label>
              <input id="test-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
            </div>
            <div>
              <label for="test-language">Language</label>
              <select id="test-language" value={language} onChange={(e) => setLanguage(e.currentTarget.value as Language)}>
                <option value="javascript">JavaScript</option>
                <option value="typescript">TypeScript</option>
              </select>
            </div>
          </div>
          <span class="label">Script</span>
          <Editor value={script} version={version} language={language} onChange={setScript} label="Script" />
          <div class="actions">
            <button type="submit" disabled={busy}>
              {busy ? "Saving…" : isNew ? "Create test" : "Save test"}
            </button>
            {!isNew && (
              <>
                <button type="button" class="secondary" onClick={run}>
                  Run
                </button>
                <a class="button secondary" href={`/playground?test=${id}`}>
                  Open in playground
                </a>
              </>
            )}
          </div>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
        </form>
      </section>
      {!isNew && <TestHistory id={id} />}
    </>
  );
}

function TestHistory({ id }: { id: string }) {
  const state = useAsync(() => runs.list({ testId: id, limit: 10 }), [id], 3000);
  return (
    <section class="panel" aria-labelledby="test-history">
      <div class="panel-head">
        <h2 id="test-history">Recent runs</h2>
        <a href={`/runs?testId=${id}`}>All runs of this test</a>
      </div>
      <RunTable state={state} empty="This test has not run yet." />
    </section>
  );
}
