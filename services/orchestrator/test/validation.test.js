'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const { PASSAGES, postJson, startFakeUpstream, startOrchestrator } = require('./helpers/servers');

describe('request validation', () => {
  let embedding;
  let orchestrator;

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results: PASSAGES, model: 'fake', took_ms: 1 } }),
      'POST /documents': async () => ({ status: 200, body: { documents: [], chunks_upserted: 0, chunks_unchanged: 0, chunks_deleted: 0 } }),
    });
    orchestrator = await startOrchestrator({ EMBEDDING_SERVICE_URL: embedding.url });
  });

  after(async () => {
    await orchestrator.close();
    await embedding.close();
  });

  const badQueries = [
    ['missing question', {}, 'question'],
    ['empty question', { question: '   ' }, 'question'],
    ['non-string question', { question: 42 }, 'question'],
    ['question over 2000 chars', { question: 'x'.repeat(2001) }, 'question'],
    ['k of 0', { question: 'q', k: 0 }, 'k'],
    ['k of 21', { question: 'q', k: 21 }, 'k'],
    ['fractional k', { question: 'q', k: 1.5 }, 'k'],
    ['string k', { question: 'q', k: '3' }, 'k'],
    ['array body', [{ question: 'q' }], 'body'],
  ];
  for (const [name, payload, field] of badQueries) {
    it(`rejects a query with ${name} naming the field "${field}"`, async () => {
      const { status, body } = await postJson(`${orchestrator.url}/api/query`, payload);
      assert.equal(status, 400);
      assert.equal(body.error.type, 'validation_error');
      assert.equal(body.error.field, field);
    });
  }

  it('accepts a 2000-char question and k=20', async () => {
    const { status } = await postJson(`${orchestrator.url}/api/query`, { question: 'y'.repeat(2000), k: 20 });
    assert.equal(status, 200);
  });

  const badDocuments = [
    ['no documents', {}, 'documents'],
    ['empty documents', { documents: [] }, 'documents'],
    ['document without text', { documents: [{ id: 'a' }] }, 'documents[0].text'],
    ['non-string id', { documents: [{ text: 'ok' }, { id: 7, text: 'ok' }] }, 'documents[1].id'],
    ['array metadata', { documents: [{ text: 'ok', metadata: [] }] }, 'documents[0].metadata'],
    ['negative chunk_overlap', { documents: [{ text: 'ok' }], chunk_overlap: -1 }, 'chunk_overlap'],
    ['zero chunk_size', { documents: [{ text: 'ok' }], chunk_size: 0 }, 'chunk_size'],
  ];
  for (const [name, payload, field] of badDocuments) {
    it(`rejects documents with ${name} naming the field "${field}"`, async () => {
      const { status, body } = await postJson(`${orchestrator.url}/api/documents`, payload);
      assert.equal(status, 400);
      assert.equal(body.error.type, 'validation_error');
      assert.equal(body.error.field, field);
    });
  }

  it('never calls the embedding service for an invalid request', () => {
    const questions = embedding.requests.filter((r) => r.path === '/search').map((r) => r.body.query);
    assert.deepEqual(questions, ['y'.repeat(2000)]);
    assert.equal(embedding.requests.filter((r) => r.path === '/documents').length, 0);
  });

  it('answers malformed JSON with a 400 JSON error', async () => {
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, '{"question": ');
    assert.equal(status, 400);
    assert.equal(body.error.type, 'invalid_json');
    assert.doesNotMatch(JSON.stringify(body), /at .*\.js/);
  });

  it('answers a body over 1 MB with a 413 JSON error', async () => {
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, {
      documents: [{ text: 'z'.repeat(1024 * 1024 + 10) }],
    });
    assert.equal(status, 413);
    assert.equal(body.error.type, 'payload_too_large');
  });

  it('answers an unknown API route with a 404 JSON error', async () => {
    const response = await fetch(`${orchestrator.url}/api/nope`);
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error.type, 'not_found');
  });
});
