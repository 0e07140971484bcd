// Typed calls for alert channels, rules, deliveries and run variables (issue 17).
import { request } from "./client";

const enc = encodeURIComponent;

export type ChannelKind = "webhook" | "slack" | "email";
export type AlertEvent = "failure" | "recovery" | "every_run" | "timeout_error";

export interface Channel {
  id: string;
  name: string;
  kind: ChannelKind;
  config: Record<string, unknown>;
  secretsSet: string[];
  createdAt: string;
  updatedAt: string;
}

export interface SendTestResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface Rule {
  id: string;
  channelId: string;
  channelName: string;
  jobId: string | null;
  testId: string | null;
  events: AlertEvent[];
  failureThreshold: number;
  maxAlertsPerStreak: number | null;
  createdAt: string;
}

export interface RuleInput {
  channelId: string;
  jobId?: string | null;
  testId?: string | null;
  events: AlertEvent[];
  failureThreshold: number;
  maxAlertsPerStreak: number | null;
}

export interface Attempt {
  number: number;
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface Delivery {
  id: string;
  channelId: string;
  channelName: string | null;
  event: AlertEvent;
  status: "pending" | "sent" | "dead";
  attempts: Attempt[];
  nextAttemptAt: string | null;
  sentAt: string | null;
  idempotencyKey: string;
}

export interface Variable {
  id: string;
  name: string;
  secret: boolean;
  jobId: string | null;
  value: string | null;
  createdAt: string;
  updatedAt: string;
}

export const channels = {
  list: () => request<{ items: Channel[]; total: number }>("GET", "/api/notifications/channels"),
  create: (body: Record<string, unknown>) => request<Channel>("POST", "/api/notifications/channels", body),
  remove: (id: string) => request<void>("DELETE", `/api/notifications/channels/${enc(id)}`),
  sendTest: (id: string) => request<SendTestResult>("POST", `/api/notifications/channels/${enc(id)}/test`),
};

export const rules = {
  list: () => request<{ items: Rule[]; total: number }>("GET", "/api/notifications/rules"),
  create: (body: RuleInput) => request<Rule>("POST", "/api/notifications/rules", body),
  remove: (id: string) => request<void>("DELETE", `/api/notifications/rules/${enc(id)}`),
};

export const deliveries = {
  ofRun: (runId: string) => request<{ items: Delivery[] }>("GET", `/api/runs/${enc(runId)}/notifications`),
};

export const variables = {
  list: () => request<{ items: Variable[]; total: number }>("GET", "/api/variables"),
  create: (body: { name: string; value: string; secret: boolean; jobId: string | null }) =>
    request<Variable>("POST", "/api/variables", body),
  update: (id: string, value: string) => request<Variable>("PUT", `/api/variables/${enc(id)}`, { value }),
  remove: (id: string) => request<void>("DELETE", `/api/variables/${enc(id)}`),
};
