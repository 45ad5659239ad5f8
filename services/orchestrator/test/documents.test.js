'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const { postJson, startFakeUpstream, startOrchestrator } = require('./helpers/servers');

describe('POST /api/documents', () => {
  let embedding;
  let orchestrator;
  let answer;

  before(async () => {
    embedding = await startFakeUpstream({ 'POST /documents': async () => answer });
    orchestrator = await startOrchestrator({ EMBEDDING_SERVICE_URL: embedding.url });
  });

  after(async () => {
    await orchestrator.close();
    await embedding.close();
  });

  it('forwards the documents and returns the embedding service result', async () => {
    const result = { documents: [{ id: 'faq', chunks: 2 }], chunks_upserted: 2, chunks_unchanged: 0, chunks_deleted: 0 };
    answer = { status: 200, body: result };
    const payload = {
      documents: [{ id: 'faq', text: 'First. Second.', metadata: { title: 'FAQ' } }],
      chunk_size: 400,
      chunk_overlap: 40,
    };
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, { ...payload, ignored: true });
    assert.equal(status, 200);
    assert.deepEqual(body, result);
    assert.deepEqual(embedding.requests.at(-1).body, payload, 'only the contract fields are forwarded');
  });

  it('passes an embedding service 4xx through unchanged', async () => {
    const error = { error: { type: 'validation_error', message: 'chunk_overlap must be < chunk_size', field: 'chunk_overlap' } };
    answer = { status: 422, body: error };
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, {
      documents: [{ text: 'x' }],
      chunk_size: 10,
      chunk_overlap: 10,
    });
    assert.equal(status, 422);
    assert.deepEqual(body, error);
  });

  it('maps an embedding service 500 to a 502', async () => {
    answer = { status: 500, body: { error: { message: 'disk full' } } };
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, { documents: [{ text: 'x' }] });
    assert.equal(status, 502);
    assert.equal(body.error.type, 'upstream_error');
    assert.match(body.error.message, /disk full/);
  });
});
