// Every run started from the UI is followed here, wherever the user navigates next, so the start and finish
// toasts of the seed flow appear once per run (not once per page that happens to show it).
import { keepAlive, subscribe } from "./runFeed";
import { toast } from "./toasts";
import { ApiError, errorMessage } from "../api/client";
import type { Submitted } from "../api/types";
import { TERMINAL } from "../api/types";

const tracked = new Set<string>();

export function trackRun(sub: Submitted, label: string): void {
  if (tracked.has(sub.runId)) return;
  tracked.add(sub.runId);
  const href = `/runs/${sub.runId}`;
  toast(`${label} queued`, "info", href);
  keepAlive(sub.runId, sub.statusUrl);
  let started = false;
  const stop = subscribe(sub.runId, sub.statusUrl, (event) => {
    if (event.type !== "status" || !event.phase) return;
    if ((event.phase === "Running" || event.phase === "Starting") && !started) {
      started = true;
      toast(`${label} started`, "info", href);
    }
    if (TERMINAL.has(event.phase)) {
      tracked.delete(sub.runId);
      toast(`${label} finished: ${event.phase}`, event.phase === "Passed" ? "success" : "error", href);
      window.setTimeout(stop, 0);
    }
  });
}

/** Submission errors as the user should read them; a full queue (429) shows the server's message plainly. */
export function submissionError(err: unknown): string {
  if (err instanceof ApiError && err.status === 429) return `Not submitted (HTTP 429): ${err.message}`;
  return errorMessage(err);
}

export function reportSubmissionError(err: unknown): string {
  const text = submissionError(err);
  toast(text, "error");
  return text;
}
