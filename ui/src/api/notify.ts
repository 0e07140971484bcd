// Typed calls for alert channels, rules, deliveries and run variables (issue 17).
import { request } from "./client";
import type { components } from "./schema";

type Schemas = components["schemas"];

const enc = encodeURIComponent;

export type ChannelKind = "webhook" | "slack" | "email";
export type AlertEvent = NonNullable<Schemas["RuleIn"]["events"]>[number];

// The schema types these fields as plain strings; the literal unions are what the API actually sends.
export type Channel = Omit<Schemas["ChannelOut"], "kind"> & { kind: ChannelKind };

export type SendTestResult = Schemas["SendTestOut"];

export type Rule = Omit<Schemas["RuleOut"], "events"> & { events: AlertEvent[] };

export type RuleInput = Schemas["RuleIn"];

export type Attempt = Schemas["AttemptOut"];

export type Delivery = Omit<Schemas["DeliveryOut"], "event" | "status"> & {
  event: AlertEvent;
  status: "pending" | "sent" | "dead";
};

export type Variable = Schemas["VariableOut"];

export type VariableInput = Schemas["VariableIn"];

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
  create: (body: VariableInput) =>
    request<Variable>("POST", "/api/variables", body),
  update: (id: string, value: string) => request<Variable>("PUT", `/api/variables/${enc(id)}`, { value }),
  remove: (id: string) => request<void>("DELETE", `/api/variables/${enc(id)}`),
};
