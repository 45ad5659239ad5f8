'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, it } = require('node:test');

const { loadConfig } = require('../src/config');
const { signRequest } = require('../src/sigv4');
const vectors = require('./fixtures/sigv4_vectors.json');
const { postJson, startFakeUpstream, startOrchestrator } = require('./helpers/servers');

const FAKE_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake-secret',
  AWS_SESSION_TOKEN: 'fake-token',
};

// Known answers computed by botocore's SigV4Auth (scripts/generate_sigv4_vectors.py).
describe('SigV4 signer against botocore', () => {
  assert.ok(vectors.vectors.length >= 5, 'the fixture has its vectors');
  for (const { name, input, expected } of vectors.vectors) {
    it(name, () => {
      const signed = signRequest({
        method: input.method,
        url: input.url,
        headers: input.headers,
        body: input.body === null ? undefined : Buffer.from(input.body, 'utf8'),
        credentials: input.credentials,
        region: input.region,
        service: input.service,
        now: new Date(input.now),
      });
      assert.equal(signed.canonicalRequest, expected.canonicalRequest);
      assert.equal(signed.stringToSign, expected.stringToSign);
      assert.equal(signed.url, expected.url);
      assert.deepEqual(signed.headers, expected.headers);
    });
  }

  it('changes the signature when one body byte changes', () => {
    const { input, expected } = vectors.vectors.find((v) => v.input.body);
    const signed = signRequest({
      ...input,
      body: Buffer.from(`${input.body} `, 'utf8'),
      now: new Date(input.now),
    });
    assert.notEqual(signed.headers.authorization, expected.headers.authorization);
  });

  it('refuses to sign without credentials or region', () => {
    const request = { method: 'GET', url: 'https://example.com/ready', region: 'us-east-1' };
    assert.throws(() => signRequest({ ...request, credentials: { accessKeyId: 'A' } }), /secretAccessKey/);
    assert.throws(
      () => signRequest({ ...request, region: '', credentials: { accessKeyId: 'A', secretAccessKey: 'S' } }),
      /region/,
    );
  });
});

describe('EMBEDDING_SERVICE_AUTH configuration', () => {
  it('defaults to none', () => {
    assert.equal(loadConfig({}).embeddingServiceAuth.mode, 'none');
    assert.equal(loadConfig({ EMBEDDING_SERVICE_AUTH: '' }).embeddingServiceAuth.mode, 'none');
  });

  it('refuses an unknown mode, naming the choices', () => {
    assert.throws(
      () => loadConfig({ EMBEDDING_SERVICE_AUTH: 'iam' }),
      /EMBEDDING_SERVICE_AUTH must be one of none, aws_iam, got "iam"/,
    );
  });

  it('aws_iam refuses to start without credentials, naming what is missing', () => {
    assert.throws(
      () => loadConfig({ EMBEDDING_SERVICE_AUTH: 'aws_iam', AWS_REGION: 'us-east-1' }),
      /EMBEDDING_SERVICE_AUTH=aws_iam .*AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY is not set/,
    );
  });

  it('aws_iam refuses to start without a region', () => {
    assert.throws(
      () => loadConfig({ EMBEDDING_SERVICE_AUTH: 'aws_iam', ...FAKE_CREDENTIALS }),
      /EMBEDDING_SERVICE_REGION or AWS_REGION is not set/,
    );
  });

  it('aws_iam takes EMBEDDING_SERVICE_REGION over AWS_REGION and reads credentials at call time', () => {
    const env = { EMBEDDING_SERVICE_AUTH: 'aws_iam', AWS_REGION: 'us-east-1', EMBEDDING_SERVICE_REGION: 'eu-west-3', ...FAKE_CREDENTIALS };
    const { embeddingServiceAuth: auth } = loadConfig(env);
    assert.equal(auth.mode, 'aws_iam');
    assert.equal(auth.region, 'eu-west-3');
    assert.equal(auth.service, 'execute-api');
    env.AWS_SECRET_ACCESS_KEY = 'rotated';
    assert.deepEqual(auth.credentials(), { accessKeyId: 'AKIDFAKE', secretAccessKey: 'rotated', sessionToken: 'fake-token' });
  });
});

describe('orchestrator with EMBEDDING_SERVICE_AUTH=aws_iam', () => {
  let embedding;
  let orchestrator;
  let documentsAnswer;

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results: [], model: 'h', took_ms: 1 } }),
      'POST /documents': async () => documentsAnswer,
    });
    orchestrator = await startOrchestrator({
      EMBEDDING_SERVICE_URL: embedding.url,
      EMBEDDING_SERVICE_AUTH: 'aws_iam',
      AWS_REGION: 'us-east-1',
      ...FAKE_CREDENTIALS,
    });
  });

  after(async () => {
    await orchestrator.close();
    await embedding.close();
  });

  it('signs the exact body it sends, with the session token', async () => {
    const { status } = await postJson(`${orchestrator.url}/api/query`, { question: 'what is signed?' });
    assert.equal(status, 200);
    const sent = embedding.requests.at(-1);
    const raw = JSON.stringify(sent.body);
    assert.equal(sent.headers['x-amz-content-sha256'], crypto.createHash('sha256').update(raw).digest('hex'));
    assert.equal(sent.headers['x-amz-security-token'], 'fake-token');
    assert.match(sent.headers['x-amz-date'], /^\d{8}T\d{6}Z$/);
    assert.match(
      sent.headers.authorization,
      /^AWS4-HMAC-SHA256 Credential=AKIDFAKE\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });

  it('answers 502 when the gateway refuses the signature on ingestion', async () => {
    documentsAnswer = { status: 403, body: { message: 'Forbidden' } };
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, { documents: [{ text: 'x' }] });
    assert.equal(status, 502);
    assert.equal(body.error.type, 'upstream_error');
    assert.match(body.error.message, /\/documents returned HTTP 403: Forbidden/);
  });
});
