// A session as a web or mobile app writes it, with openapi-fetch and the types
// openapi-typescript generated from the services' live OpenAPI: sign in with a
// bearer token, register people with consent, record a service, page through
// the list, edit under If-Match, sync an offline edit that conflicts, read an
// indicator, request an export and download its CSV, register a trainee.
// tsc type-checks it against the generated types, so a change to the contract
// that breaks a generated client fails before it runs.
//
//   MHPSS_BASE_URL        the stack's root (each service under /beneficiary,
//                         /training and /reporting)
//   MHPSS_FIELD_TOKEN     a case worker's bearer token
//   MHPSS_MANAGER_TOKEN   a programme manager's (reporting)
//   MHPSS_TRAINER_TOKEN   a trainer's (training)
//
// It prints one JSON object of what it saw; any unexpected answer throws.
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type {
  components as BeneficiaryComponents,
  operations as BeneficiaryOperations,
  paths as BeneficiaryPaths,
} from "./generated/beneficiary.js";
import type {
  operations as ReportingOperations,
  paths as ReportingPaths,
} from "./generated/reporting.js";
import type { paths as TrainingPaths } from "./generated/training.js";

type Schemas = BeneficiaryComponents["schemas"];
type Registered =
  BeneficiaryOperations["register_beneficiary"]["responses"][201]["content"]["application/json"];
type Indicator =
  ReportingOperations["indicator_values"]["responses"][200]["content"]["application/json"];

const POLL_MS = 250;
const POLL_SECONDS = 90;

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** Throws with the problem document when an answer is not the one expected. */
function expect<T>(what: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    const problem = JSON.stringify(answer.error ?? null);
    throw new Error(`${what}: HTTP ${answer.response.status} ${problem}`);
  }
  return answer.data;
}

/** Asks until `ready` accepts the answer: the stack's workers are asynchronous. */
async function poll<T>(what: string, ask: () => Promise<T>, ready: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + POLL_SECONDS * 1000;
  for (;;) {
    const value = await ask();
    if (ready(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${POLL_SECONDS} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const base = setting("MHPSS_BASE_URL").replace(/\/+$/, "");
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const beneficiary = createClient<BeneficiaryPaths>({
  baseUrl: `${base}/beneficiary`,
  headers: bearer(setting("MHPSS_FIELD_TOKEN")),
});
const reporting = createClient<ReportingPaths>({
  baseUrl: `${base}/reporting`,
  headers: bearer(setting("MHPSS_MANAGER_TOKEN")),
});
const training = createClient<TrainingPaths>({
  baseUrl: `${base}/training`,
  headers: bearer(setting("MHPSS_TRAINER_TOKEN")),
});

const consents: Schemas["ConsentGiven"][] = [
  { purpose: "registration", granted: true, form_version: "2024-1" },
  { purpose: "services", granted: true, form_version: "2024-1" },
];

function person(name: string): Schemas["BeneficiaryFields"] {
  return {
    full_name: name,
    sex: "female",
    date_of_birth: "1990-04-01",
    marital_status: "married",
    disability: "no",
    displacement_status: "idp",
    nationality: "IRQ",
    registration_channel: "outreach",
    registration_date: "2026-01-10",
  };
}

/** Never called: tsc fails unless each of these is an error, so the generated
 * types are strict (a wrong route, field, value or a missing parameter is
 * caught before anything runs), not `any`. */
export function strictness(): void {
  // @ts-expect-error a route the contract does not have
  void beneficiary.GET("/v1/no-such-route");
  // @ts-expect-error a field BeneficiaryCreate does not have
  const extra: Schemas["BeneficiaryCreate"] = { ...person("x"), consents, shoe_size: 42 };
  // @ts-expect-error a value SyncStatus does not have
  const merged: Schemas["SyncStatus"] = "merged";
  void reporting.GET("/v1/indicators/{indicator_id}/values", {
    // @ts-expect-error the required period (start, end) left out
    params: { path: { indicator_id: "people_reached" } },
  });
  void [extra, merged];
}

// Register three people, each with consent, safe to retry (Idempotency-Key).
const people: Registered[] = [];
for (const name of ["Layla Hassan", "Noor Aziz", "Sara Karim"]) {
  const body: Schemas["BeneficiaryCreate"] = { ...person(name), consents };
  const answer = await beneficiary.POST("/v1/beneficiaries", {
    body,
    params: { header: { "idempotency-key": randomUUID() } },
  });
  if (answer.response.status !== 201) throw new Error(`register: ${answer.response.status}`);
  people.push(expect("register", answer));
}
const [first, second] = people;
if (!first || !second) throw new Error("register: fewer than two people");

const service = expect(
  "record service",
  await beneficiary.POST("/v1/service-records", {
    body: {
      beneficiary_id: first.id,
      activity_code: "individual_counselling",
      service_date: "2026-02-01",
      duration_minutes: 50,
    },
  }),
);

// Page through the list, two at a time, following next_cursor.
const listed: string[] = [];
let pages = 0;
let cursor: string | null | undefined;
do {
  const page: Schemas["Page_BeneficiarySummary_"] = expect(
    "list",
    await beneficiary.GET("/v1/beneficiaries", {
      params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } },
    }),
  );
  pages += 1;
  listed.push(...page.items.map((item) => item.id));
  cursor = page.has_more ? page.next_cursor : undefined;
} while (cursor);

// Edit online under If-Match, then sync an offline edit made from version 1.
const edited = expect(
  "update",
  await beneficiary.PATCH("/v1/beneficiaries/{beneficiary_id}", {
    params: { path: { beneficiary_id: second.id }, header: { "if-match": `"${second.version}"` } },
    body: { marital_status: "divorced" },
  }),
);
const synced = expect(
  "sync",
  await beneficiary.POST("/v1/sync", {
    body: {
      device_id: "tablet-1",
      beneficiaries: [
        { id: second.id, base_version: 1, data: { ...person(second.full_name ?? "Noor Aziz"), phone: "0770 555 6666" } },
      ],
    },
  }),
);
const sync: Schemas["SyncResult"][] = synced.results;

// The indicator, once reporting has read the beneficiary service's feed (at
// least the one person served here; a stack with other data has more).
const period = { start: "2026-01-01", end: "2026-12-31" };
const reached: Indicator = await poll(
  "people_reached",
  async () =>
    expect(
      "indicator",
      await reporting.GET("/v1/indicators/{indicator_id}/values", {
        params: { path: { indicator_id: "people_reached" }, query: period },
      }),
    ),
  (values) => (values.total.value ?? 0) >= 1,
);

// An export: requested, polled until its worker has written it, downloaded
// as text (the file is CSV, not JSON).
const requested = expect(
  "request export",
  await reporting.POST("/v1/exports", {
    body: { indicator: "people_reached", format: "csv", ...period },
    params: { header: { "idempotency-key": randomUUID() } },
  }),
);
const ready = await poll(
  "export",
  async () =>
    expect(
      "read export",
      await reporting.GET("/v1/exports/{export_id}", {
        params: { path: { export_id: requested.id } },
      }),
    ),
  (status) => status.status !== "pending",
);
if (ready.status !== "ready") throw new Error(`export ${ready.status}: ${ready.error}`);
const file = await reporting.GET("/v1/exports/{export_id}/file", {
  params: { path: { export_id: requested.id } },
  parseAs: "text",
});
const csv = expect("download export", file);

// Training: a trainer registers a trainee and lists them.
const trainee = expect(
  "register trainee",
  await training.POST("/v1/trainees", {
    body: {
      full_name: "Rana Khalil",
      audience: "ngo",
      affiliation: "Local NGO",
      role: "psychosocial worker",
      profession: "social worker",
      sex: "female",
    },
  }),
);
const trainees = expect(
  "list trainees",
  await training.GET("/v1/trainees", { params: { query: { limit: 50 } } }),
);

console.log(
  JSON.stringify({
    registered: people.map((p) => ({ id: p.id, version: p.version })),
    service: service.id,
    pages,
    listed,
    edited_version: edited.version,
    sync: sync.map((r) => ({ id: r.id, status: r.status, conflict_id: r.conflict_id ?? null })),
    people_reached: reached.total.value,
    export: {
      id: ready.id,
      status: ready.status,
      rows: ready.rows,
      content_type: file.response.headers.get("content-type"),
      lines: csv.trim().split(/\r?\n/),
    },
    trainee: trainee.id,
    trainees: trainees.items.map((t) => t.id),
  }),
);
