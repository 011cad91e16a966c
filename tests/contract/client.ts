// A small front-end style client written against the types generated from openapi.json.
// `make ts-check` regenerates generated/api.d.ts and type-checks this file with `tsc --noEmit --strict`:
// if the spec changes incompatibly (a renamed path, field or enum value, a body that gains a required
// field, a status code that moves), this file stops compiling and CI fails.

import type { components, paths } from "./generated/api";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

type CreateScreening = paths["/v1/screenings"]["post"];
export type ScreeningCreate = CreateScreening["requestBody"]["content"]["application/json"];
export type ScreeningRead = CreateScreening["responses"][201]["content"]["application/json"];
type ScreeningNotStored = CreateScreening["responses"][200]["content"]["application/json"];

type AdvanceEscalation = paths["/v1/escalations/{subject_id}/advance"]["post"];
export type AdvanceRequest = AdvanceEscalation["requestBody"]["content"]["application/json"];
export type CaseRead = AdvanceEscalation["responses"][200]["content"]["application/json"];
type AdvancePath = AdvanceEscalation["parameters"]["path"];
// The spec declares If-Match required (its absence is a 428), so the generated header type demands it:
// this line stops compiling if the spec ever makes it optional again.
type AdvanceHeaders = AdvanceEscalation["parameters"]["header"];
export const ifMatchIsRequired: {} extends Pick<AdvanceHeaders, "If-Match"> ? never : true = true;

/** Either the operation's result or the RFC 9457 problem the service answered with. */
export type Outcome<T> =
  | { ok: true; status: number; value: T; etag: string | null; location: string | null }
  | { ok: false; status: number; problem: Problem };

export interface ClientOptions {
  baseUrl: string; // e.g. "http://127.0.0.1:8000"
  token: string; // from POST /v1/auth/token or `python -m app token`
}

async function send<T>(
  options: ClientOptions,
  method: "GET" | "POST",
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Outcome<T>> {
  const response = await fetch(options.baseUrl + path, {
    method,
    headers: {
      Authorization: `Bearer ${options.token}`,
      "Content-Type": "application/json",
      Accept: "application/json",
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    return { ok: false, status: response.status, problem: (await response.json()) as Problem };
  }
  return {
    ok: true,
    status: response.status,
    value: (await response.json()) as T,
    etag: response.headers.get("ETag"),
    location: response.headers.get("Location"),
  };
}

/** createScreening: POST /v1/screenings (201 stored, 200 with `store: false`). */
export function createScreening(
  options: ClientOptions,
  body: ScreeningCreate,
  idempotencyKey?: string,
): Promise<Outcome<ScreeningRead | ScreeningNotStored>> {
  const headers: Record<string, string> = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
  return send(options, "POST", "/v1/screenings", body, headers);
}

/** advanceEscalation: POST /v1/escalations/{subject_id}/advance with If-Match set to the case version. */
export function advanceEscalation(
  options: ClientOptions,
  path: AdvancePath,
  version: CaseRead["version"],
  body: AdvanceRequest,
  idempotencyKey?: string,
): Promise<Outcome<CaseRead>> {
  const headers: Record<string, string> & AdvanceHeaders = { "If-Match": `"${version}"` };
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  return send(options, "POST", `/v1/escalations/${encodeURIComponent(path.subject_id)}/advance`, body, headers);
}

// --- usage: what a front-end does with the results; these lines pin the fields it relies on ---------

const verdictLabels: Record<Schemas["Verdict"], string> = {
  allow: "OK to publish",
  review: "Ask a manager first",
  block: "Do not publish",
};

const stageLabels: Record<Schemas["Stage"], string> = {
  none: "No action yet",
  spoken_to: "Spoken to",
  legal_letter: "Legal letter sent",
  attendance_denied: "Attendance denied",
};

export async function example(options: ClientOptions): Promise<string[]> {
  const lines: string[] = [];
  const screened = await createScreening(
    options,
    {
      text: "Great day volunteering at the centre! Call me on 07700 900123 about the raffle.",
      author: { id: "vol-2201", role: "volunteer" },
      platform: "facebook",
    },
    crypto.randomUUID(),
  );
  if (screened.ok) {
    const result = screened.value;
    const id: string | null = result.id;
    lines.push(`${id ?? "not stored"}: ${verdictLabels[result.verdict]} (${result.policy_version})`);
    for (const finding of result.findings) {
      const spans = finding.spans.map((span) => `${span.start}-${span.end}`).join(", ");
      lines.push(`${finding.rule_id} [${finding.severity}, ${finding.confidence.toFixed(2)}] at ${spans}: ${finding.remediation}`);
    }
    lines.push(`suggested: ${result.suggested_text}`);
  } else {
    lines.push(`${screened.status} ${screened.problem.title}: ${screened.problem.detail}`);
    for (const error of screened.problem.errors ?? []) lines.push(`  ${error.field}: ${error.message}`);
  }

  const advanced = await advanceEscalation(options, { subject_id: "vol-0042" }, 1, {
    reason: "Second public complaint after being spoken to.",
  });
  if (advanced.ok) {
    const caseRead: CaseRead = advanced.value;
    lines.push(`${caseRead.subject_id} is at ${stageLabels[caseRead.stage]} (version ${caseRead.version}, ETag ${advanced.etag})`);
    for (const next of caseRead.next_actions) lines.push(`next: ${next.action} -> ${stageLabels[next.to_stage]}: ${next.wording}`);
  } else if (advanced.status === 412 || advanced.status === 428) {
    lines.push(`re-read the case and retry: ${advanced.problem.detail}`);
  }
  return lines;
}
