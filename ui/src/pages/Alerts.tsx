// Alert channels (webhook with a JSON body template and HMAC, Slack, SMTP email) with "Send test", and the rules
// that route a job's or a test's runs to them. Credentials are write-only: the page shows which are set, never them.
import { useState } from "preact/hooks";
import { errorMessage } from "../api/client";
import { jobs } from "../api/endpoints";
import { channels, rules, type AlertEvent, type Channel, type ChannelKind, type SendTestResult } from "../api/notify";
import { AsyncView, Empty } from "../components/States";
import { useAsync } from "../lib/hooks";
import { toast } from "../lib/toasts";

const EVENTS: { value: AlertEvent; label: string }[] = [
  { value: "failure", label: "Failure" },
  { value: "recovery", label: "Recovery" },
  { value: "every_run", label: "Every run" },
  { value: "timeout_error", label: "Timed out / Error" },
];

const DEFAULT_TEMPLATE = `{
  "text": "{{job.name}}: {{event}} ({{run.phase}})",
  "link": "{{run.url}}",
  "failed": "{{failedTests}}",
  "error": "{{firstError}}"
}`;

function describe(c: Channel): string {
  if (c.kind === "webhook") return String(c.config.url ?? "");
  if (c.kind === "email") return `${String(c.config.host)}:${String(c.config.port)} → ${(c.config.to as string[] | undefined)?.join(", ") ?? ""}`;
  return "Slack incoming webhook";
}

function ChannelForm({ onCreated }: { onCreated: () => void }) {
  const [kind, setKind] = useState<ChannelKind>("webhook");
  const [fields, setFields] = useState<Record<string, string>>({ port: "587", bodyTemplate: DEFAULT_TEMPLATE });
  const [starttls, setStarttls] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (name: string) => (e: Event) => setFields({ ...fields, [name]: (e.currentTarget as HTMLInputElement).value });
  const f = (name: string) => fields[name] ?? "";

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    let body: Record<string, unknown> = { kind, name: f("name") };
    try {
      if (kind === "webhook") {
        body = { ...body, url: f("url"), bodyTemplate: f("bodyTemplate").trim() ? JSON.parse(f("bodyTemplate")) : null };
        if (f("hmacSecret")) body.hmacSecret = f("hmacSecret");
      } else if (kind === "slack") {
        body = { ...body, webhookUrl: f("webhookUrl") };
      } else {
        body = { ...body, host: f("host"), port: Number(f("port")), starttls, from: f("from"), to: f("to").split(",").map((s) => s.trim()).filter(Boolean) };
        if (f("username")) body.username = f("username");
        if (f("password")) body.password = f("password");
      }
    } catch {
      setError("The body template is not valid JSON.");
      return;
    }
    setBusy(true);
    try {
      const created = await channels.create(body);
      toast(`Channel ${created.name} created`, "success");
      setFields({ port: "587", bodyTemplate: DEFAULT_TEMPLATE });
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="form-grid" aria-label="New channel" onSubmit={submit}>
      <label>
        Kind
        <select value={kind} onChange={(e) => setKind(e.currentTarget.value as ChannelKind)} aria-label="Channel kind">
          <option value="webhook">Webhook (JSON, HMAC-signed)</option>
          <option value="slack">Slack (incoming webhook)</option>
          <option value="email">Email (SMTP)</option>
        </select>
      </label>
      <label>
        Name
        <input required value={f("name")} onInput={set("name")} placeholder="ops-oncall" pattern="[a-z0-9]([-a-z0-9]*[a-z0-9])?" />
      </label>
      {kind === "webhook" && (
        <>
          <label>
            URL
            <input required type="url" value={f("url")} onInput={set("url")} placeholder="https://events.example/hook" />
          </label>
          <label>
            HMAC secret (write-only)
            <input type="password" autocomplete="new-password" value={f("hmacSecret")} onInput={set("hmacSecret")} />
          </label>
          <label class="wide">
            Body template (JSON with {"{{placeholders}}"})
            <textarea rows={6} class="mono" value={f("bodyTemplate")} onInput={set("bodyTemplate")} aria-label="Body template" />
          </label>
        </>
      )}
      {kind === "slack" && (
        <label class="wide">
          Incoming-webhook URL (write-only)
          <input required type="password" autocomplete="off" value={f("webhookUrl")} onInput={set("webhookUrl")} aria-label="Slack webhook URL" />
        </label>
      )}
      {kind === "email" && (
        <>
          <label>
            SMTP host
            <input required value={f("host")} onInput={set("host")} placeholder="smtp.example.com" />
          </label>
          <label>
            Port
            <input required type="number" min={1} max={65535} value={f("port")} onInput={set("port")} />
          </label>
          <label class="inline checkbox">
            <input type="checkbox" checked={starttls} onChange={(e) => setStarttls(e.currentTarget.checked)} /> STARTTLS
          </label>
          <label>
            Username
            <input value={f("username")} onInput={set("username")} autocomplete="off" />
          </label>
          <label>
            Password (write-only)
            <input type="password" autocomplete="new-password" value={f("password")} onInput={set("password")} />
          </label>
          <label>
            From
            <input required type="email" value={f("from")} onInput={set("from")} placeholder="supertest@example.com" />
          </label>
          <label class="wide">
            To (comma-separated)
            <input required value={f("to")} onInput={set("to")} placeholder="oncall@example.com" />
          </label>
        </>
      )}
      {error && (
        <p class="run-error wide" role="alert">
          {error}
        </p>
      )}
      <div class="wide">
        <button type="submit" disabled={busy}>
          Create channel
        </button>
      </div>
    </form>
  );
}

function ChannelRow({ c, onChanged }: { c: Channel; onChanged: () => void }) {
  const [result, setResult] = useState<SendTestResult | null>(null);
  const [busy, setBusy] = useState(false);
  async function sendTest() {
    setBusy(true);
    try {
      setResult(await channels.sendTest(c.id));
    } catch (err) {
      setResult({ ok: false, statusCode: null, error: errorMessage(err), durationMs: 0 });
    } finally {
      setBusy(false);
    }
  }
  return (
    <tr>
      <td>
        <strong>{c.name}</strong>
      </td>
      <td>{c.kind}</td>
      <td class="truncate">{describe(c)}</td>
      <td>{c.secretsSet.length ? c.secretsSet.map((s) => <span class="badge" key={s}>{s} set</span>) : <span class="muted">none</span>}</td>
      <td>
        <button type="button" class="secondary" disabled={busy} onClick={sendTest} aria-label={`Send test to ${c.name}`}>
          Send test
        </button>{" "}
        <button
          type="button"
          class="icon"
          aria-label={`Delete ${c.name}`}
          onClick={async () => {
            if (!confirm(`Delete channel ${c.name} and its rules?`)) return;
            await channels.remove(c.id).catch((e) => toast(errorMessage(e), "error"));
            onChanged();
          }}
        >
          Delete
        </button>
        {result && (
          <div role="status" class={result.ok ? "send-ok" : "run-error"} aria-label={`Send test result for ${c.name}`}>
            {result.ok ? `Delivered (${result.statusCode}) in ${result.durationMs} ms` : `Failed: ${result.error ?? `HTTP ${result.statusCode}`}`}
          </div>
        )}
      </td>
    </tr>
  );
}

function RuleForm({ channelList, onCreated }: { channelList: Channel[]; onCreated: () => void }) {
  const jobList = useAsync(() => jobs.list(), []);
  const [channelId, setChannelId] = useState("");
  const [jobId, setJobId] = useState("");
  const [events, setEvents] = useState<AlertEvent[]>(["failure", "recovery"]);
  const [threshold, setThreshold] = useState("1");
  const [maxPerStreak, setMaxPerStreak] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await rules.create({
        channelId: channelId || channelList[0]?.id || "",
        jobId: jobId || jobList.data?.items[0]?.id || null,
        events,
        failureThreshold: Number(threshold),
        maxAlertsPerStreak: maxPerStreak ? Number(maxPerStreak) : null,
      });
      toast("Rule added", "success");
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  const toggle = (ev: AlertEvent) => setEvents(events.includes(ev) ? events.filter((x) => x !== ev) : [...events, ev]);
  return (
    <form class="form-grid" aria-label="New rule" onSubmit={submit}>
      <label>
        Job
        <select value={jobId} onChange={(e) => setJobId(e.currentTarget.value)} aria-label="Rule job">
          {(jobList.data?.items ?? []).map((j) => (
            <option key={j.id} value={j.id}>
              {j.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Channel
        <select value={channelId} onChange={(e) => setChannelId(e.currentTarget.value)} aria-label="Rule channel">
          {channelList.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
      <fieldset class="wide events">
        <legend>Send on</legend>
        {EVENTS.map((ev) => (
          <label class="inline" key={ev.value}>
            <input type="checkbox" checked={events.includes(ev.value)} onChange={() => toggle(ev.value)} /> {ev.label}
          </label>
        ))}
      </fieldset>
      <label>
        After N consecutive failures
        <input type="number" min={1} max={1000} value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} aria-label="Failure threshold" />
      </label>
      <label>
        At most K alerts per streak
        <input type="number" min={1} max={1000} value={maxPerStreak} placeholder="unlimited" onInput={(e) => setMaxPerStreak(e.currentTarget.value)} aria-label="Max alerts per streak" />
      </label>
      {error && (
        <p class="run-error wide" role="alert">
          {error}
        </p>
      )}
      <div class="wide">
        <button type="submit" disabled={!channelList.length || !events.length}>
          Add rule
        </button>
      </div>
    </form>
  );
}

export function AlertsPage() {
  const channelState = useAsync(() => channels.list(), []);
  const ruleState = useAsync(() => rules.list(), []);
  const jobList = useAsync(() => jobs.list(), []);
  const jobName = (id: string | null) => jobList.data?.items.find((j) => j.id === id)?.name ?? id ?? "";
  return (
    <>
      <section class="panel" aria-labelledby="channels-title">
        <div class="panel-head">
          <h1 id="channels-title">Alert channels</h1>
        </div>
        <AsyncView state={channelState} what="channels">
          {(data) =>
            data.items.length === 0 ? (
              <Empty>
                <p>No channels yet. Add a webhook, a Slack incoming webhook or an SMTP mailbox below.</p>
              </Empty>
            ) : (
              <table aria-label="Channels">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Kind</th>
                    <th>Target</th>
                    <th>Credentials</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((c) => (
                    <ChannelRow key={c.id} c={c} onChanged={() => (channelState.reload(), ruleState.reload())} />
                  ))}
                </tbody>
              </table>
            )
          }
        </AsyncView>
        <h2>New channel</h2>
        <ChannelForm onCreated={channelState.reload} />
      </section>
      <section class="panel" aria-labelledby="rules-title">
        <h2 id="rules-title">Rules</h2>
        <p class="muted">
          A failure streak is the run of consecutive Failed, TimedOut or Error results of one job. Alerts start at the Nth failure and stop
          after K of them; recovery is sent for the first pass after a streak that alerted.
        </p>
        <AsyncView state={ruleState} what="rules">
          {(data) =>
            data.items.length === 0 ? (
              <Empty>
                <p>No rules: no run alerts anyone yet.</p>
              </Empty>
            ) : (
              <table aria-label="Rules">
                <thead>
                  <tr>
                    <th>Job</th>
                    <th>Channel</th>
                    <th>Events</th>
                    <th>From failure #</th>
                    <th>Max per streak</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((r) => (
                    <tr key={r.id}>
                      <td>{r.jobId ? jobName(r.jobId) : `test ${r.testId ?? ""}`}</td>
                      <td>{r.channelName}</td>
                      <td>{r.events.join(", ")}</td>
                      <td>{r.failureThreshold}</td>
                      <td>{r.maxAlertsPerStreak ?? "unlimited"}</td>
                      <td>
                        <button type="button" class="icon" aria-label={`Delete rule for ${r.channelName}`} onClick={async () => (await rules.remove(r.id), ruleState.reload())}>
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </AsyncView>
        <h3>New rule</h3>
        <AsyncView state={channelState} what="channels">
          {(data) => <RuleForm channelList={data.items} onCreated={ruleState.reload} />}
        </AsyncView>
      </section>
    </>
  );
}
