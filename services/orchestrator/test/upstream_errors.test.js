'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const { closedPortUrl, getJson, postJson, startFakeUpstream, startOrchestrator } = require('./helpers/servers');

describe('embedding service failures', () => {
  let embedding;
  let orchestrator;
  let searchAnswer;
  let readyAnswer;

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => searchAnswer,
      'GET /ready': async () => readyAnswer,
    });
    orchestrator = await startOrchestrator({
      EMBEDDING_SERVICE_URL: `${embedding.url}/`,
      SEARCH_TIMEOUT_MS: '150',
      READY_TIMEOUT_MS: '150',
    });
  });

  after(async () => {
    await orchestrator.close();
    await embedding.close();
  });

  it('maps an upstream 500 to a 502 JSON error', async () => {
    searchAnswer = { status: 500, body: { error: { type: 'internal_error', message: 'boom' } } };
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'anything' });
    assert.equal(status, 502);
    assert.equal(body.error.type, 'upstream_error');
    assert.match(body.error.message, /\/search returned HTTP 500: boom/);
  });

  it('maps a non-JSON upstream answer to a 502 JSON error', async () => {
    searchAnswer = { status: 200, body: '<html>gateway</html>' };
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'anything' });
    assert.equal(status, 502);
    assert.match(body.error.message, /non-JSON/);
  });

  it('maps an upstream that outlives the timeout to a 504 JSON error', async () => {
    searchAnswer = { status: 200, delayMs: 3000, body: { results: [] } };
    const started = Date.now();
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'anything' });
    assert.equal(status, 504);
    assert.equal(body.error.type, 'upstream_timeout');
    assert.match(body.error.message, /150 ms/);
    assert.ok(Date.now() - started < 2000, 'did not wait for the upstream');
  });

  it('is ready when the embedding service is ready', async () => {
    readyAnswer = { status: 200, body: { status: 'ready', provider: 'hashing', model: 'h', dimension: 8, store: 'local' } };
    const { status, body } = await getJson(`${orchestrator.url}/api/ready`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ready');
    assert.equal(body.embedding.provider, 'hashing');
  });

  it('is not ready, with the reason, when the embedding service says 503', async () => {
    readyAnswer = { status: 503, body: { status: 'not_ready', reason: 'model loading' } };
    const { status, body } = await getJson(`${orchestrator.url}/api/ready`);
    assert.equal(status, 503);
    assert.equal(body.status, 'not_ready');
    assert.match(body.reason, /HTTP 503: model loading/);
  });

  it('is not ready when the embedding /ready hangs', async () => {
    readyAnswer = { status: 200, delayMs: 3000, body: { status: 'ready' } };
    const { status, body } = await getJson(`${orchestrator.url}/api/ready`);
    assert.equal(status, 503);
    assert.match(body.reason, /did not answer/);
  });

  describe('when the embedding service is down', () => {
    let down;

    before(async () => {
      down = await startOrchestrator({ EMBEDDING_SERVICE_URL: await closedPortUrl() });
    });

    after(() => down.close());

    it('is not ready and says the service is unreachable', async () => {
      const { status, body } = await getJson(`${down.url}/api/ready`);
      assert.equal(status, 503);
      assert.match(body.reason, /unreachable \(ECONNREFUSED\)/);
    });

    it('answers queries with a 502 JSON error', async () => {
      const { status, body } = await postJson(`${down.url}/api/query`, { question: 'anything' });
      assert.equal(status, 502);
      assert.equal(body.error.type, 'upstream_error');
    });

    it('still reports itself healthy (liveness does not depend on upstreams)', async () => {
      const { status, body } = await getJson(`${down.url}/api/health`);
      assert.equal(status, 200);
      assert.deepEqual(body, { status: 'ok', release: null });
    });
  });
});
