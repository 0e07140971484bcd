// The Playwright HTML report in an iframe, plus direct links to the run's screenshots, videos and traces. Every
// URL comes from the API and points at the artifacts origin (ARTIFACTS_URL) under a run-scoped token: user-generated
// files never run on the UI's origin, and no cookie is sent there.
import { useEffect, useState } from "preact/hooks";
import { runs } from "../api/endpoints";
import type { Artifact } from "../api/types";

const KIND_LABEL: Record<Artifact["kind"], string> = {
  screenshot: "Screenshot",
  video: "Video",
  trace: "Trace",
  other: "File",
};

function traceViewerUrl(reportUrl: string, traceUrl: string): string {
  // The report ships the trace viewer at report/trace/; it loads the zip named by ?trace= (both on the artifacts origin).
  const base = reportUrl.replace(/index\.html$/, "");
  return `${base}trace/index.html?trace=${encodeURIComponent(new URL(traceUrl, window.location.href).href)}`;
}

export function ReportViewer({ runId, reportUrl, title }: { runId: string; reportUrl: string; title?: string }) {
  const [state, setState] = useState<"checking" | "ready" | "missing">("checking");
  const [artifacts, setArtifacts] = useState<Artifact[]>([]);

  useEffect(() => {
    let cancelled = false;
    setState("checking");
    fetch(reportUrl, { method: "HEAD", credentials: "omit" })
      .then((res) => !cancelled && setState(res.ok ? "ready" : "missing"))
      .catch(() => !cancelled && setState("missing"));
    runs
      .artifacts(runId)
      .then((a) => !cancelled && setArtifacts(a.items))
      .catch(() => !cancelled && setArtifacts([]));
    return () => void (cancelled = true);
  }, [runId, reportUrl]);

  if (state === "checking") return <p class="muted">Looking for the report…</p>;
  if (state === "missing") return <p class="state state-empty">This run has no report (it did not get as far as running tests).</p>;

  const counters: Record<string, number> = {};
  return (
    <div class="report">
      <div class="report-links">
        <a href={reportUrl} target="_blank" rel="noopener">
          Open report in a new tab
        </a>
        {artifacts
          .filter((a) => a.kind !== "other")
          .map((a) => {
            counters[a.kind] = (counters[a.kind] ?? 0) + 1;
            const name = `${KIND_LABEL[a.kind]} ${counters[a.kind]}`;
            const href = a.kind === "trace" ? traceViewerUrl(reportUrl, a.url) : a.url;
            return (
              <a key={a.path} href={href} target="_blank" rel="noopener" class={`artifact artifact-${a.kind}`}>
                {name}
              </a>
            );
          })}
      </div>
      <iframe class="report-frame" src={reportUrl} title={title ?? "Report"} />
    </div>
  );
}
