// Variables and secrets of runs, project-wide or per job; scripts read them as process.env.NAME. A secret's value
// is write-only: once saved the page shows that it is set, never what it is, and the runner masks it in logs.
import { useState } from "preact/hooks";
import { errorMessage } from "../api/client";
import { jobs } from "../api/endpoints";
import { variables, type Variable } from "../api/notify";
import { AsyncView, Empty } from "../components/States";
import { useAsync } from "../lib/hooks";
import { toast } from "../lib/toasts";

function VariableForm({ onCreated }: { onCreated: () => void }) {
  const jobList = useAsync(() => jobs.list(), []);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [secret, setSecret] = useState(false);
  const [jobId, setJobId] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await variables.create({ name, value, secret, jobId: jobId || null });
      toast(`${secret ? "Secret" : "Variable"} ${name} saved`, "success");
      setName("");
      setValue("");
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  return (
    <form class="form-grid" aria-label="New variable" onSubmit={submit}>
      <label>
        Name
        <input required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="API_TOKEN" pattern="[A-Za-z_][A-Za-z0-9_]*" />
      </label>
      <label>
        Value
        <input required type={secret ? "password" : "text"} autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <label>
        Scope
        <select value={jobId} onChange={(e) => setJobId(e.currentTarget.value)} aria-label="Variable scope">
          <option value="">Project-wide</option>
          {(jobList.data?.items ?? []).map((j) => (
            <option key={j.id} value={j.id}>
              Job: {j.name}
            </option>
          ))}
        </select>
      </label>
      <label class="inline checkbox">
        <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.currentTarget.checked)} /> Secret (write-only, masked in logs)
      </label>
      {error && (
        <p class="run-error wide" role="alert">
          {error}
        </p>
      )}
      <div class="wide">
        <button type="submit">Save</button>
      </div>
    </form>
  );
}

function Row({ v, jobName, onChanged }: { v: Variable; jobName: string; onChanged: () => void }) {
  return (
    <tr>
      <td class="mono">{v.name}</td>
      <td>{v.jobId ? `Job: ${jobName}` : "Project"}</td>
      <td>{v.secret ? <span class="badge" aria-label={`${v.name} is a secret`}>secret · set</span> : <code>{v.value}</code>}</td>
      <td>
        <button
          type="button"
          class="icon"
          aria-label={`Replace ${v.name}`}
          onClick={async () => {
            const next = prompt(`New value for ${v.name}${v.secret ? " (it stays write-only)" : ""}`);
            if (next === null) return;
            await variables.update(v.id, next).catch((e) => toast(errorMessage(e), "error"));
            onChanged();
          }}
        >
          Replace
        </button>{" "}
        <button type="button" class="icon" aria-label={`Delete ${v.name}`} onClick={async () => (await variables.remove(v.id), onChanged())}>
          Delete
        </button>
      </td>
    </tr>
  );
}

export function VariablesPage() {
  const state = useAsync(() => variables.list(), []);
  const jobList = useAsync(() => jobs.list(), []);
  const jobName = (id: string | null) => jobList.data?.items.find((j) => j.id === id)?.name ?? id ?? "";
  return (
    <section class="panel" aria-labelledby="vars-title">
      <div class="panel-head">
        <h1 id="vars-title">Variables and secrets</h1>
      </div>
      <p class="muted">
        Scripts read these as <code>process.env.NAME</code>; a job's value overrides a project-wide one. Secrets are encrypted at rest and masked
        in logs, live output and results.json, but not in screenshots, videos, traces or the HTML report.
      </p>
      <AsyncView state={state} what="variables">
        {(data) =>
          data.items.length === 0 ? (
            <Empty>
              <p>No variables yet.</p>
            </Empty>
          ) : (
            <table aria-label="Variables">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Scope</th>
                  <th>Value</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {data.items.map((v) => (
                  <Row key={v.id} v={v} jobName={jobName(v.jobId)} onChanged={state.reload} />
                ))}
              </tbody>
            </table>
          )
        }
      </AsyncView>
      <h2>New variable</h2>
      <VariableForm onCreated={state.reload} />
    </section>
  );
}
