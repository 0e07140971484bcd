// One SSE connection per followed run, shared by every view of it (the playground, the run page, the toasts).
// Browsers allow ~6 HTTP/1.1 connections per host, so a stream per component would starve the page quickly.
// The feed buffers the events it has seen, so a view that subscribes late (the user opens the run page
// mid-run) first gets what it missed, like Last-Event-ID does for the EventSource itself.
import type { Phase, RunEvent } from "../api/types";
import { TERMINAL } from "../api/types";

export type FeedListener = (event: RunEvent) => void;

interface Feed {
  source: EventSource;
  events: RunEvent[];
  listeners: Set<FeedListener>;
  keepAlive: boolean; // followed for toasts: stays open with no listeners until the run ends
  ended: boolean;
}

const MAX_BUFFER = 5000;
const feeds = new Map<string, Feed>();
const lostListeners = new Map<string, Set<() => void>>();

function open(runId: string, statusUrl: string): Feed {
  const existing = feeds.get(runId);
  if (existing) return existing;
  const source = new EventSource(statusUrl, { withCredentials: true });
  const feed: Feed = { source, events: [], listeners: new Set(), keepAlive: false, ended: false };
  const deliver = (raw: Event) => {
    const event = JSON.parse((raw as MessageEvent<string>).data) as RunEvent;
    feed.events.push(event);
    if (feed.events.length > MAX_BUFFER) feed.events.splice(0, feed.events.length - MAX_BUFFER);
    const terminal = event.type === "status" && !!event.phase && TERMINAL.has(event.phase);
    if (terminal) end(runId, feed); // before delivery: the server closes now; do not let EventSource reconnect
    feed.listeners.forEach((l) => l(event));
  };
  for (const type of ["status", "log", "result"]) source.addEventListener(type, deliver);
  source.onerror = () => {
    // EventSource retries on its own (resuming with Last-Event-ID); CLOSED means it gave up.
    if (source.readyState === EventSource.CLOSED && !feed.ended) {
      end(runId, feed);
      lostListeners.get(runId)?.forEach((l) => l());
    }
  };
  feeds.set(runId, feed);
  return feed;
}

function end(runId: string, feed: Feed): void {
  feed.ended = true;
  feed.source.close();
  // Keep the finished feed briefly for late subscribers, then forget it (the run page reloads from the API).
  window.setTimeout(() => {
    if (feeds.get(runId) === feed) feeds.delete(runId);
  }, 30_000);
}

/** Subscribe to a run's events (replaying the buffered ones first). Returns the unsubscribe function. */
export function subscribe(runId: string, statusUrl: string, listener: FeedListener, onLost?: () => void): () => void {
  const feed = open(runId, statusUrl);
  feed.events.forEach(listener);
  feed.listeners.add(listener);
  if (onLost) {
    const set = lostListeners.get(runId) ?? new Set();
    set.add(onLost);
    lostListeners.set(runId, set);
  }
  return () => {
    feed.listeners.delete(listener);
    if (onLost) lostListeners.get(runId)?.delete(onLost);
    if (!feed.keepAlive && feed.listeners.size === 0 && !feed.ended) {
      feed.source.close();
      feeds.delete(runId);
    }
  };
}

export function keepAlive(runId: string, statusUrl: string): void {
  open(runId, statusUrl).keepAlive = true;
}

export function isTerminal(phase: Phase | "Idle"): boolean {
  return phase !== "Idle" && TERMINAL.has(phase);
}
