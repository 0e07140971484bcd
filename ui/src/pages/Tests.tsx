// Stored tests: search by title or tag, create, edit, delete, run.
import { useState } from "preact/hooks";
import { tests } from "../api/endpoints";
import { errorMessage } from "../api/client";
import type { TestSummary } from "../api/types";
import { AsyncView, Empty } from "../components/States";
import { useAsync } from "../lib/hooks";
import { navigate, useLocation } from "../lib/router";
import { reportSubmissionError, trackRun } from "../lib/runTracker";
import { toast } from "../lib/toasts";
import { formatTime } from "../lib/format";

export function TestsPage() {
  const loc = useLocation();
  const q = loc.params.get("q") ?? "";
  const tag = loc.params.get("tag") ?? "";
  const state = useAsync(() => tests.list(q, tag), [q, tag]);

  function setFilter(name: "q" | "tag", value: string) {
    const params = new URLSearchParams(loc.params);
    if (value) params.set(name, value);
    else params.delete(name);
    const qs = params.toString();
    navigate(`/tests${qs ? `?${qs}` : ""}`, { replace: true });
  }

  return (
    <section class="panel" aria-labelledby="tests-title">
      <div class="panel-head">
        <h1 id="tests-title">Tests</h1>
        <a class="button" href="/tests/new">
          New test
        </a>
      </div>
      <form class="filters" role="search" aria-label="Filter tests" onSubmit={(e) => e.preventDefault()}>
        <label class="inline">
          <span>Title</span>
          <input type="search" aria-label="Search by title" value={q} onInput={(e) => setFilter("q", e.currentTarget.value)} placeholder="login…" />
        </label>
        <label class="inline">
          <span>Tag</span>
          <input type="search" aria-label="Filter by tag" value={tag} onInput={(e) => setFilter("tag", e.currentTarget.value)} placeholder="smoke" />
        </label>
      </form>
      <AsyncView state={state} what="tests">
        {(data) =>
          data.items.length === 0 ? (
            <Empty>
              {q || tag ? (
                <p>No test matches these filters.</p>
              ) : (
                <p>
                  No tests yet. <a href="/tests/new">Create one</a> or save one from the <a href="/playground">playground</a>.
                </p>
              )}
            </Empty>
          ) : (
            <TestTable items={data.items} onChanged={state.reload} onTag={(t) => setFilter("tag", t)} />
          )
        }
      </AsyncView>
    </section>
  );
}

function TestTable({ items, onChanged, onTag }: { items: TestSummary[]; onChanged: () => void; onTag: (t: string) => void }) {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Title</th>
            <th scope="col">Tags</th>
            <th scope="col" class="hide-narrow">Language</th>
            <th scope="col" class="hide-narrow">Updated</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((t) => (
            <TestRow key={t.id} test={t} onChanged={onChanged} onTag={onTag} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TestRow({ test, onChanged, onTag }: { test: TestSummary; onChanged: () => void; onTag: (t: string) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  async function run() {
    setBusy(true);
    try {
      trackRun(await tests.run(test.id), `Test "${test.title}"`);
    } catch (err) {
      reportSubmissionError(err);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    try {
      await tests.remove(test.id);
      toast(`Deleted test "${test.title}"`, "success");
      onChanged();
    } catch (err) {
      toast(`Could not delete "${test.title}": ${errorMessage(err)}`, "error");
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <tr>
      <td>
        <a href={`/tests/${test.id}`}>{test.title}</a>
      </td>
      <td>
        {test.tags.map((t) => (
          <button key={t} type="button" class="tag" onClick={() => onTag(t)} aria-label={`Show tests tagged ${t}`}>
            {t}
          </button>
        ))}
      </td>
      <td class="hide-narrow">{test.language}</td>
      <td class="hide-narrow">{formatTime(test.updatedAt)}</td>
      <td class="row-actions">
        <button type="button" onClick={run} disabled={busy} aria-label={`Run ${test.title}`}>
          Run
        </button>
        <a class="button secondary" href={`/tests/${test.id}`} aria-label={`Edit ${test.title}`}>
          Edit
        </a>
        <a class="button secondary hide-narrow" href={`/playground?test=${test.id}`} aria-label={`Open ${test.title} in the playground`}>
          Playground
        </a>
        {confirming ? (
          <>
            <button type="button" class="danger" onClick={remove} disabled={busy} aria-label={`Confirm delete ${test.title}`}>
              Confirm delete
            </button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)} aria-label="Keep it">
              Keep
            </button>
          </>
        ) : (
          <button type="button" class="secondary" onClick={() => setConfirming(true)} aria-label={`Delete ${test.title}`}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}
