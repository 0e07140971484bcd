// The run page's alerts: each channel's delivery and every attempt (status code, error), refreshed while pending.
import { deliveries } from "../api/notify";
import { formatTime } from "../lib/format";
import { useAsync } from "../lib/hooks";

export function Deliveries({ runId }: { runId: string }) {
  const state = useAsync(() => deliveries.ofRun(runId), [runId], 3000);
  const items = state.data?.items ?? [];
  if (!items.length) return null;
  return (
    <section class="panel" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      <table aria-label="Alert deliveries">
        <thead>
          <tr>
            <th>Channel</th>
            <th>Event</th>
            <th>Status</th>
            <th>Attempts</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.id}>
              <td>{d.channelName ?? d.channelId}</td>
              <td>{d.event}</td>
              <td>
                <span class="badge" data-phase={d.status === "sent" ? "Passed" : d.status === "dead" ? "Failed" : "Queued"}>
                  {d.status}
                </span>
              </td>
              <td>
                {d.attempts.map((a) => (
                  <div key={a.number}>
                    #{a.number} {formatTime(a.at)}: {a.statusCode ?? "-"}
                    {a.error ? ` (${a.error})` : ""}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
