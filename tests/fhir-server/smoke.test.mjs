// Smoke tests of the test FHIR server (server.mjs): run with
//   cd tests/fhir-server && node --test smoke.test.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const SERVER = new URL('./server.mjs', import.meta.url).pathname;
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const MRN = 'https://example-hospital.nhs.uk/Id/mrn';
const EVENT = 'urn:wardline:event';

async function startServer(args = []) {
  const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: proc.stdout });
  const first = await Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    new Promise((_, reject) => proc.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)))),
    sleep(30_000, undefined, { ref: false }).then(() => {
      throw new Error(`server did not start: ${stderr}`);
    }),
  ]);
  const { port } = JSON.parse(first);
  assert.ok(Number.isInteger(port) && port > 0);
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    base: `${origin}/fhir/R4`,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((resolve) => proc.once('exit', resolve));
      }
    },
  };
}

async function call(url, { method = 'GET', body, headers = {}, form } = {}) {
  const init = { method, headers: { accept: 'application/fhir+json', ...headers } };
  if (form) {
    init.body = new URLSearchParams(form).toString();
    init.headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] ??= 'application/fhir+json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const control = (srv, path, body) => call(`${srv.origin}/_test/${path}`, { method: 'POST', body });

function patient(id, nhs, mrn, family, birthDate) {
  return {
    resourceType: 'Patient',
    id,
    identifier: [
      { system: NHS, value: nhs },
      { system: MRN, value: mrn },
    ],
    name: [{ use: 'official', family, given: ['Alex'] }],
    gender: 'unknown',
    birthDate,
  };
}

function communication(eventId, text) {
  return {
    resourceType: 'Communication',
    status: 'completed',
    identifier: [{ system: EVENT, value: eventId }],
    subject: { reference: 'Patient/pat-1' },
    encounter: { reference: 'Encounter/enc-1' },
    sent: '2024-05-01T10:00:00Z',
    payload: [{ contentString: text }],
  };
}

// Conditional update ("upsert") keyed on the event identifier.
function putTransaction(eventIds) {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: eventIds.map((id) => ({
      resource: communication(id, `message ${id}`),
      request: { method: 'PUT', url: `Communication?identifier=${encodeURIComponent(`${EVENT}|${id}`)}` },
    })),
  };
}

// Conditional create keyed on the event identifier.
function ifNoneExistTransaction(eventIds) {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: eventIds.map((id) => ({
      fullUrl: `urn:uuid:${randomUUID()}`,
      resource: communication(id, `message ${id}`),
      request: {
        method: 'POST',
        url: 'Communication',
        ifNoneExist: `identifier=${encodeURIComponent(`${EVENT}|${id}`)}`,
      },
    })),
  };
}

async function count(srv, query) {
  const r = await call(`${srv.base}/${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.resourceType, 'Bundle');
  return r.body.total;
}

// Matrix event ids: "$opaque:server" (room v1-v2), standard base64 with + and / (v3), url-safe base64 (v4+).
// '+' must be percent-encoded in the conditional URL (a bare '+' is a space in a query string).
const EVENT_IDS = ['$abc123:example.org', '$YUwRidLecu3TDLI0e6hTr_tQ8vqoAyAmC3wRJn2U6Vs', '$x+y/z=:hs.example'];

describe('FHIR server (no auth)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  async function seedWard() {
    const r = await control(srv, 'seed', {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: patient('pat-1', '9434765919', 'MRN001', 'Smith', '1970-01-02') },
        { resource: patient('pat-2', '9434765870', 'MRN002', 'Smithson', '1980-03-04') },
        {
          resource: {
            resourceType: 'Location',
            id: 'loc-ward-7',
            status: 'active',
            name: 'Ward 7',
            identifier: [{ system: 'https://example-hospital.nhs.uk/Id/location', value: 'W7' }],
          },
        },
        {
          resource: {
            resourceType: 'Encounter',
            id: 'enc-1',
            status: 'in-progress',
            class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
            subject: { reference: 'Patient/pat-1' },
            location: [{ location: { reference: 'Location/loc-ward-7' }, status: 'active' }],
          },
        },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.entry.length, 4);
  }

  test('GET /metadata returns a CapabilityStatement', async () => {
    const r = await call(`${srv.base}/metadata`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/fhir\+json/);
    assert.equal(r.body.resourceType, 'CapabilityStatement');
    assert.equal(r.body.fhirVersion, '4.0.1');
    const pat = r.body.rest[0].resource.find((x) => x.type === 'Patient');
    assert.ok(pat.searchParam.some((p) => p.name === 'identifier' && p.type === 'token'));
    assert.ok(pat.searchParam.some((p) => p.name === 'birthdate' && p.type === 'date'));
    const comm = r.body.rest[0].resource.find((x) => x.type === 'Communication');
    assert.equal(comm.conditionalUpdate, true);
    assert.equal(comm.conditionalCreate, true);
  });

  test('patient search by NHS number, MRN, name + birthdate; read Encounter and Location', async () => {
    await control(srv, 'reset');
    await seedWard();

    let r = await call(`${srv.base}/Patient?identifier=${encodeURIComponent(`${NHS}|9434765919`)}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.type, 'searchset');
    assert.equal(r.body.total, 1);
    assert.equal(r.body.entry[0].resource.id, 'pat-1');
    assert.equal(r.body.entry[0].fullUrl, `${srv.base}/Patient/pat-1`);

    // unencoded '|' works too
    r = await call(`${srv.base}/Patient?identifier=${NHS}|9434765919`);
    assert.equal(r.body.total, 1);

    // the NHS number under another system does not match
    assert.equal(await count(srv, `Patient?identifier=${encodeURIComponent(`${MRN}|9434765919`)}`), 0);
    assert.equal(await count(srv, `Patient?identifier=${encodeURIComponent(`${MRN}|MRN002`)}`), 1);

    r = await call(`${srv.base}/Patient?family=Smith&birthdate=1970-01-02`);
    assert.equal(r.body.total, 1);
    assert.equal(r.body.entry[0].resource.id, 'pat-1');
    // Medplum's in-memory string match is "contains", case-insensitive: Smith also finds Smithson
    assert.equal(await count(srv, 'Patient?family=smith'), 2);
    assert.equal(await count(srv, 'Patient?family=Smith&birthdate=1970-01-03'), 0);

    // Encounter/Location read; reference search
    r = await call(`${srv.base}/Encounter/enc-1`);
    assert.equal(r.status, 200);
    assert.equal(r.body.location[0].location.reference, 'Location/loc-ward-7');
    assert.match(r.headers.get('etag'), /^W\/"/);
    r = await call(`${srv.base}/Location/loc-ward-7`);
    assert.equal(r.body.name, 'Ward 7');
    assert.equal(await count(srv, 'Encounter?patient=Patient/pat-1&status=in-progress'), 1);

    r = await call(`${srv.base}/Location/nope`);
    assert.equal(r.status, 404);
    assert.equal(r.body.resourceType, 'OperationOutcome');

    // searches the in-memory matcher cannot evaluate are refused, not silently empty
    r = await call(`${srv.base}/Patient?nhs=1`);
    assert.equal(r.status, 400);
    assert.match(r.body.issue[0].details.text, /Unknown search parameter/);
    r = await call(`${srv.base}/Encounter?subject.identifier=${encodeURIComponent(`${NHS}|9434765919`)}`);
    assert.equal(r.status, 400);
  });

  test('transaction of conditional updates (PUT Communication?identifier=...) posted twice files each once', async () => {
    await control(srv, 'reset');
    await seedWard();

    const bundle = putTransaction(EVENT_IDS);
    let r = await call(srv.base, { method: 'POST', body: bundle });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.type, 'transaction-response');
    assert.deepEqual(
      r.body.entry.map((e) => e.response.status),
      ['201', '201', '201']
    );
    const firstIds = r.body.entry.map((e) => e.resource.id);
    const v1 = r.body.entry[0].resource.meta.versionId;

    r = await call(srv.base, { method: 'POST', body: bundle });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.entry.map((e) => e.response.status),
      ['200', '200', '200']
    );
    assert.deepEqual(
      r.body.entry.map((e) => e.resource.id),
      firstIds
    );
    const v2 = r.body.entry[0].resource.meta.versionId;
    assert.notEqual(v1, v2);

    assert.equal(await count(srv, 'Communication'), EVENT_IDS.length);
    for (const id of EVENT_IDS) {
      assert.equal(await count(srv, `Communication?identifier=${encodeURIComponent(`${EVENT}|${id}`)}`), 1, id);
    }
    // an update makes a new version of the same resource
    for (let i = 0; i < 2; i++) {
      r = await call(`${srv.base}/Communication/${firstIds[0]}/_history`);
      assert.deepEqual(
        r.body.entry.map((e) => e.resource.meta.versionId),
        [v2, v1],
        'history is newest first, on every call'
      );
    }
  });

  test('transaction of conditional creates (ifNoneExist) posted twice files each once, no new version', async () => {
    await control(srv, 'reset');
    const bundle = ifNoneExistTransaction(EVENT_IDS);
    let r = await call(srv.base, { method: 'POST', body: bundle });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.entry.map((e) => e.response.status),
      ['201', '201', '201']
    );
    const versions = r.body.entry.map((e) => e.resource.meta.versionId);

    r = await call(srv.base, { method: 'POST', body: ifNoneExistTransaction(EVENT_IDS) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.entry.map((e) => e.response.status),
      ['200', '200', '200']
    );
    assert.deepEqual(
      r.body.entry.map((e) => e.resource.meta.versionId),
      versions
    );
    assert.equal(await count(srv, 'Communication'), EVENT_IDS.length);

    // plain conditional create over HTTP (If-None-Exist header) agrees
    r = await call(`${srv.base}/Communication`, {
      method: 'POST',
      body: communication(EVENT_IDS[0], 'again'),
      headers: { 'if-none-exist': `identifier=${encodeURIComponent(`${EVENT}|${EVENT_IDS[0]}`)}` },
    });
    assert.equal(r.status, 200);
    assert.equal(await count(srv, 'Communication'), EVENT_IDS.length);
  });

  test('transactions are all-or-nothing; more than 8 conditional entries are refused (Medplum limit)', async () => {
    await control(srv, 'reset');
    const bundle = putTransaction(['ok-1', 'bad-2']);
    bundle.entry[1].resource.notAnElement = true; // fails R4 validation
    let r = await call(srv.base, { method: 'POST', body: bundle });
    assert.equal(r.status, 400);
    assert.equal(r.body.resourceType, 'OperationOutcome');
    assert.equal(await count(srv, 'Communication'), 0);

    r = await call(srv.base, { method: 'POST', body: putTransaction([1, 2, 3, 4, 5, 6, 7, 8, 9].map(String)) });
    assert.equal(r.status, 400);
    assert.match(r.body.issue[0].details.text, /too many entries/);
    r = await call(srv.base, { method: 'POST', body: putTransaction([1, 2, 3, 4, 5, 6, 7, 8].map(String)) });
    assert.equal(r.status, 200);
    // a batch has no such limit (and no atomicity)
    r = await call(srv.base, {
      method: 'POST',
      body: { ...putTransaction([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(String)), type: 'batch' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.type, 'batch-response');
    assert.equal(await count(srv, 'Communication'), 10);
  });

  test('POST DocumentReference', async () => {
    await control(srv, 'reset');
    const r = await call(`${srv.base}/DocumentReference`, {
      method: 'POST',
      body: {
        resourceType: 'DocumentReference',
        status: 'current',
        subject: { reference: 'Patient/pat-1' },
        content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('hello').toString('base64') } }],
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.headers.get('location'), new RegExp(`^${srv.base}/DocumentReference/${r.body.id}/_history/`));
    assert.equal(await count(srv, 'DocumentReference?subject=Patient/pat-1'), 1);
  });

  test('down / up', async () => {
    await control(srv, 'reset');
    let r = await control(srv, 'down', {});
    assert.equal(r.status, 200);
    r = await call(`${srv.base}/Patient`);
    assert.equal(r.status, 503);
    assert.equal(r.body.resourceType, 'OperationOutcome');
    r = await call(`${srv.base}/metadata`);
    assert.equal(r.status, 503);
    await control(srv, 'up');
    r = await call(`${srv.base}/Patient`);
    assert.equal(r.status, 200);

    await control(srv, 'down', { seconds: 1 });
    r = await call(`${srv.base}/Patient`);
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    await sleep(1100);
    r = await call(`${srv.base}/Patient`);
    assert.equal(r.status, 200);
  });

  test('reject: writes of a resource type answer 422 with the reason', async () => {
    await control(srv, 'reset');
    const reason = 'Patient record is locked by Medical Records';
    await control(srv, 'reject', { resourceType: 'Communication', reason });

    let r = await call(`${srv.base}/Communication`, { method: 'POST', body: communication('e1', 'x') });
    assert.equal(r.status, 422);
    assert.equal(r.body.resourceType, 'OperationOutcome');
    assert.equal(r.body.issue[0].code, 'business-rule');
    assert.equal(r.body.issue[0].diagnostics, reason);

    r = await call(srv.base, { method: 'POST', body: putTransaction(['e1', 'e2']) });
    assert.equal(r.status, 422);
    assert.equal(r.body.issue[0].details.text, reason);
    assert.equal(await count(srv, 'Communication'), 0);

    // other types are unaffected
    r = await call(`${srv.base}/Patient`, { method: 'POST', body: patient(undefined, '9434765919', 'M1', 'Jones', '1990-01-01') });
    assert.equal(r.status, 201);

    await control(srv, 'reject-clear');
    r = await call(srv.base, { method: 'POST', body: putTransaction(['e1', 'e2']) });
    assert.equal(r.status, 200);
    assert.equal(await count(srv, 'Communication'), 2);
  });

  test('request log', async () => {
    await control(srv, 'reset');
    await call(`${srv.base}/Communication`, {
      method: 'POST',
      body: communication('log-1', 'logged'),
      headers: { authorization: 'Bearer whatever' },
    });
    await call(`${srv.base}/Patient?identifier=x`);
    const r = await call(`${srv.origin}/_test/requests`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 2);
    assert.equal(r.body[0].method, 'POST');
    assert.equal(r.body[0].url, '/fhir/R4/Communication');
    assert.equal(r.body[0].authorization, 'Bearer whatever');
    assert.equal(r.body[0].body.identifier[0].value, 'log-1');
    assert.equal(r.body[0].status, 201);
    assert.equal(r.body[1].url, '/fhir/R4/Patient?identifier=x');
  });
});

describe('FHIR server with --token', () => {
  let srv;
  before(async () => {
    srv = await startServer(['--token', 's3cret']);
  });
  after(async () => {
    await srv?.stop();
  });

  test('requires the bearer token on FHIR endpoints', async () => {
    let r = await call(`${srv.base}/Patient`);
    assert.equal(r.status, 401);
    assert.equal(r.body.resourceType, 'OperationOutcome');
    assert.match(r.headers.get('www-authenticate'), /^Bearer/);
    r = await call(`${srv.base}/Patient`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(r.status, 401);
    r = await call(`${srv.base}/Patient`, { headers: { authorization: 'Bearer s3cret' } });
    assert.equal(r.status, 200);
    r = await call(`${srv.base}/metadata`);
    assert.equal(r.status, 200);
  });
});

describe('FHIR server with --smart (SMART Backend Services)', () => {
  let srv;
  let dir;
  let rsa;
  let ec;
  let other;
  const clientId = 'wardline-test-client';

  before(async () => {
    rsa = await generateKeyPair('RS384');
    ec = await generateKeyPair('ES384');
    other = await generateKeyPair('RS384');
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS384', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES384', use: 'sig' },
    ];
    dir = mkdtempSync(join(tmpdir(), 'fhir-server-test-'));
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys }));
    srv = await startServer(['--smart', '--jwks', jwksFile, '--client-id', clientId]);
  });
  after(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function assertion({ key = rsa.privateKey, alg = 'RS384', kid = 'rsa-1', aud, exp, jti, iss = clientId } = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(iss)
      .setSubject(iss)
      .setAudience(aud ?? `${srv.origin}/auth/token`)
      .setExpirationTime(exp ?? now + 300)
      .setJti(jti ?? randomUUID())
      .sign(key);
  }

  const requestToken = (clientAssertion, scope = 'system/Patient.rs system/Communication.c') =>
    call(`${srv.origin}/auth/token`, {
      method: 'POST',
      form: {
        grant_type: 'client_credentials',
        scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      },
    });

  test('smart-configuration advertises the token endpoint', async () => {
    const r = await call(`${srv.base}/.well-known/smart-configuration`);
    assert.equal(r.status, 200);
    assert.equal(r.body.token_endpoint, `${srv.origin}/auth/token`);
    assert.ok(r.body.token_endpoint_auth_signing_alg_values_supported.includes('RS384'));
  });

  test('valid assertion gets a token that opens the FHIR endpoints; replay, wrong aud, long exp refused', async () => {
    let r = await call(`${srv.base}/Patient`);
    assert.equal(r.status, 401);

    const jwt = await assertion();
    r = await requestToken(jwt);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.token_type, 'bearer');
    assert.equal(r.body.expires_in, 300);
    assert.equal(r.body.scope, 'system/Patient.rs system/Communication.c');
    assert.ok(r.body.access_token.length >= 32);
    const token = r.body.access_token;

    r = await call(`${srv.base}/Patient`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);

    // replayed jti
    r = await requestToken(jwt);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /jti/);

    // wrong aud (the FHIR base instead of the token endpoint)
    r = await requestToken(await assertion({ aud: srv.base }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /aud/);

    // exp more than 5 minutes ahead
    r = await requestToken(await assertion({ exp: Math.floor(Date.now() / 1000) + 600 }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /5 minutes/);

    // signed by a key not in the JWK set (but claiming its kid)
    r = await requestToken(await assertion({ key: other.privateKey }));
    assert.equal(r.status, 400);
    assert.match(r.body.error_description, /signature/);

    // unknown kid, wrong client
    r = await requestToken(await assertion({ kid: 'nope' }));
    assert.equal(r.status, 400);
    r = await requestToken(await assertion({ iss: 'someone-else' }));
    assert.equal(r.status, 400);

    // ES384 works too
    r = await requestToken(await assertion({ key: ec.privateKey, alg: 'ES384', kid: 'ec-1' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));

    // refusals are logged with their reason
    const log = (await call(`${srv.origin}/_test/requests`)).body.filter((e) => e.url === '/auth/token');
    assert.ok(log.some((e) => e.status === 400 && /aud/.test(e.error)));
    assert.ok(log.some((e) => e.status === 400 && /replay/.test(e.error)));
    assert.ok(log.every((e) => e.body.client_assertion));

    // tokens can be invalidated to test re-authentication
    await control(srv, 'expire-tokens');
    r = await call(`${srv.base}/Patient`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
  });
});
