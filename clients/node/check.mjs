#!/usr/bin/env node
// Node Flight SQL interop check for lakeflight, run by
// clients/python/tests/test_node.py. Uses @firetiger-oss/flight-sql-client.
//
//   node check.mjs --host 127.0.0.1 --port 31337 [--token T | --username U --password P]
//     --query SQL --expect-rows N [--expect-columns a,b] [--expect-value keycol=keyval:col=value]
//     [--schema S --expect-tables t1,t2]
//
// Prints one "OK name detail" line per check; on failure prints
// "FAIL name detail" and exits 1 (2 for bad arguments).
//
// Notes on the client (1.1.1), from its dist/ sources:
// - execute(sql) reads only the FIRST endpoint of the FlightInfo, so the row
//   count check reads every endpoint itself (getFlightInfo + doGet) and the
//   execute() check compares with it.
// - getTables() packs its command in google.protobuf.Any, as the spec asks;
//   getCatalogs/getSchemas/getPrimaryKeys/prepare do not (they send a bare
//   command), so they are not used here.
// - With username/password it sends Basic credentials on every call and does
//   not keep the bearer token the Handshake returns; with token it sends
//   "Bearer <token>" on every call.

import { createRequire } from "node:module";
import { FlightSQLClient } from "@firetiger-oss/flight-sql-client";

const require = createRequire(import.meta.url);
const { CommandStatementQuery } = require("@firetiger-oss/flight-sql-client/dist/generated/proto/FlightSql_pb.js");

const TIMEOUT_MS = 60_000;

function parseArgs(argv) {
  const known = new Set([
    "host", "port", "token", "username", "password", "query", "expect-rows",
    "expect-columns", "expect-value", "schema", "expect-tables",
  ]);
  const opt = { host: "127.0.0.1" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--") || !known.has(a.slice(2)) || i + 1 >= argv.length) {
      console.error(`bad argument ${a}; known: ${[...known].join(", ")}`);
      process.exit(2);
    }
    opt[a.slice(2)] = argv[++i];
  }
  if (!opt.port || !opt.query || opt["expect-rows"] === undefined) {
    console.error("--port, --query and --expect-rows are required");
    process.exit(2);
  }
  return opt;
}

class CheckFailed extends Error {
  constructor(check, message) {
    super(message);
    this.check = check;
  }
}

function ok(check, detail) {
  console.log(`OK ${check} ${detail}`);
}

function require_(cond, check, message) {
  if (!cond) throw new CheckFailed(check, message);
}

function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function describe(err) {
  const parts = [String(err?.message ?? err)];
  if (err?.code !== undefined) parts.push(`code=${err.code}`);
  if (err?.originalError) parts.push(`cause=${err.originalError.message ?? err.originalError}`);
  return parts.join(" ");
}

async function step(check, what, fn, ms = TIMEOUT_MS) {
  try {
    return await withTimeout(fn(), what, ms);
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    throw new CheckFailed(check, `${what}: ${describe(err)}`);
  }
}

function cell(v) {
  if (v === null || v === undefined) return "null";
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return String(v);
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const config = { host: opt.host, port: Number(opt.port), plaintext: true };
  if (opt.token) config.token = opt.token;
  if (opt.username) {
    config.username = opt.username;
    config.password = opt.password ?? "";
  }
  const client = new FlightSQLClient(config);
  const auth = opt.token ? "token" : opt.username ? "basic" : "none";
  // With credentials, connect() runs a Handshake and resolves only when the
  // server sends a HandshakeResponse message (it never gives up on its own).
  await step("connect", `connect ${opt.host}:${opt.port} (Handshake, auth=${auth})`, () => client.connect(), 20_000);
  ok("connect", `${opt.host}:${opt.port} auth=${auth}`);

  // Every endpoint of the query, read with the client's getFlightInfo/doGet.
  const cmd = new CommandStatementQuery();
  cmd.setQuery(opt.query);
  const descriptor = client.createCommandDescriptor(cmd, FlightSQLClient.TYPE_URLS.COMMAND_STATEMENT_QUERY);
  const info = await step("query", `getFlightInfo(${opt.query})`, () => client.getFlightInfo(descriptor));
  const endpoints = info.getEndpointList();
  require_(endpoints.length > 0, "query", `${opt.query}: no endpoints`);
  let rows = 0;
  let columns = null;
  let found = null;
  const [keyPart, valPart] = (opt["expect-value"] ?? "").split(":");
  const [keyCol, keyVal] = keyPart ? keyPart.split("=") : [];
  const [valCol, wantVal] = valPart ? valPart.split("=") : [];
  for (const [i, ep] of endpoints.entries()) {
    const locs = ep.getLocationList().map((l) => l.getUri());
    require_(
      locs.length === 0 || locs.some((u) => u.startsWith("arrow-flight-reuse-connection:") || u.includes(`:${opt.port}`)),
      "query",
      `endpoint ${i} points elsewhere: ${locs}`,
    );
    const table = await step("query", `doGet(endpoint ${i})`, () => client.doGet(ep.getTicket()));
    if (table.numRows === 0 && table.schema.fields.length === 0) continue; // empty stream
    const names = table.schema.fields.map((f) => f.name);
    if (columns === null) columns = names;
    require_(names.join(",") === columns.join(","), "query", `endpoint ${i} columns ${names} != ${columns}`);
    rows += table.numRows;
    if (keyCol) {
      for (const row of table) {
        if (cell(row[keyCol]) === keyVal) found = cell(row[valCol]);
      }
    }
  }
  const wantRows = Number(opt["expect-rows"]);
  require_(rows === wantRows, "query", `${opt.query}: ${rows} rows over ${endpoints.length} endpoint(s), expected ${wantRows}`);
  if (opt["expect-columns"]) {
    require_(
      (columns ?? []).join(",") === opt["expect-columns"],
      "query",
      `${opt.query}: columns ${columns}, expected ${opt["expect-columns"]}`,
    );
  }
  let detail = `rows=${rows} endpoints=${endpoints.length} columns=${columns}`;
  if (keyCol) {
    require_(found !== null, "query", `${opt.query}: no row with ${keyCol}=${keyVal}`);
    require_(found === wantVal, "query", `${opt.query}: ${valCol}=${found} where ${keyCol}=${keyVal}, expected ${wantVal}`);
    detail += ` ${valCol}=${found}`;
  }
  ok("query", detail);

  // The client's one-call API (first endpoint only, see the note above).
  const t = await step("execute", `execute(${opt.query})`, () => client.execute(opt.query));
  if (endpoints.length === 1) {
    require_(t.numRows === rows, "execute", `execute() gave ${t.numRows} rows, expected ${rows}`);
  } else {
    require_(t.numRows <= rows, "execute", `execute() gave ${t.numRows} rows, more than the ${rows} of all endpoints`);
  }
  ok("execute", `rows=${t.numRows} (first endpoint of ${endpoints.length})`);

  if (opt["expect-tables"] !== undefined) {
    const tables = await step("getTables", "getTables", () => client.getTables(undefined, opt.schema));
    const got = tables.filter((x) => !opt.schema || x.schema === opt.schema).map((x) => x.tableName).sort();
    const want = opt["expect-tables"].split(",").filter(Boolean).sort();
    require_(got.join(",") === want.join(","), "getTables", `schema ${opt.schema}: ${got}, expected ${want}`);
    ok("getTables", `${opt.schema}: ${got.join(",")}`);
  }

  await client.close();
  ok("all", "checks passed");
}

main().then(
  () => process.exit(0),
  (err) => {
    if (err instanceof CheckFailed) {
      console.log(`FAIL ${err.check} ${err.message}`);
    } else {
      console.log(`FAIL unexpected ${describe(err)}`);
      if (err?.stack) console.log(err.stack);
    }
    process.exit(1);
  },
);
