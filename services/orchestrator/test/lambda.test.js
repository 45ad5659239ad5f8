'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');

const { PASSAGES, startFakeUpstream } = require('./helpers/servers');

// API Gateway HTTP API (payload format 2.0) event, as Lambda receives it.
function httpApiEvent(method, rawPath, body) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'node-test' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '26/Nov/2026:10:00:00 +0000',
      timeEpoch: 1795600000000,
    },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)).toString('base64'),
    isBase64Encoded: body !== undefined,
  };
}

describe('lambda_handler.handler', () => {
  let embedding;
  let handler;
  const savedEnv = { ...process.env };

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results: PASSAGES, model: 'fake', took_ms: 1 } }),
    });
    Object.assign(process.env, { EMBEDDING_SERVICE_URL: embedding.url, LOG_REQUESTS: 'false' });
    delete process.env.OPENAI_API_KEY;
    process.env.RAGSTACK_RELEASE = 'r-3f9a2c1d7e4b';
    ({ handler } = require(path.join(__dirname, '..', 'lambda_handler.js')));
  });

  after(async () => {
    process.env = savedEnv;
    await embedding.close();
  });

  it('answers /api/health with the release from RAGSTACK_RELEASE', async () => {
    const result = await handler(httpApiEvent('GET', '/api/health'), {});
    assert.equal(result.statusCode, 200);
    assert.deepEqual(JSON.parse(result.body), { status: 'ok', release: 'r-3f9a2c1d7e4b' });
    assert.match(result.headers['content-type'], /application\/json/);
  });

  it('answers /api/query through the embedding service', async () => {
    const result = await handler(httpApiEvent('POST', '/api/query', { question: 'What forms volcanoes?', k: 2 }), {});
    assert.equal(result.statusCode, 200);
    const body = JSON.parse(result.body);
    assert.equal(body.mode, 'extractive');
    assert.equal(body.sources[0].document_id, 'volcano');
    assert.deepEqual(embedding.requests.at(-1).body, { query: 'What forms volcanoes?', k: 2 });
  });

  it('returns validation errors as 400 JSON', async () => {
    const result = await handler(httpApiEvent('POST', '/api/query', { question: '' }), {});
    assert.equal(result.statusCode, 400);
    assert.equal(JSON.parse(result.body).error.field, 'question');
  });
});
