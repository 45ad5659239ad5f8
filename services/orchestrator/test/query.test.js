'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const { NO_RESULTS_ANSWER } = require('../src/app');
const { PASSAGES, postJson, startFakeUpstream, startOrchestrator } = require('./helpers/servers');

describe('POST /api/query in extractive mode', () => {
  let embedding;
  let orchestrator;
  let results;

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results, model: 'fake', took_ms: 1.5 } }),
    });
    orchestrator = await startOrchestrator({ EMBEDDING_SERVICE_URL: embedding.url, OPENAI_API_KEY: '' });
  });

  after(async () => {
    await orchestrator.close();
    await embedding.close();
  });

  it('answers from the top passage and returns the sources with scores', async () => {
    results = PASSAGES;
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, {
      question: 'How far does basaltic lava travel?',
      k: 3,
    });
    assert.equal(status, 200);
    assert.equal(body.mode, 'extractive');
    assert.match(body.answer, /^Extractive answer/);
    assert.match(body.answer, /Basaltic lava is runny and travels far from the vent\. \[1\]/);
    assert.doesNotMatch(body.answer, /Sourdough/);
    assert.deepEqual(
      body.sources.map((s) => [s.id, s.document_id, s.score]),
      [
        ['volcano#0', 'volcano', 0.91],
        ['ocean#0', 'ocean', 0.42],
        ['bread#0', 'bread', 0.11],
      ],
    );
    assert.deepEqual(body.sources[0].metadata, { title: 'Volcanoes' });
    assert.deepEqual(body.sources[2].metadata, {}, 'missing metadata becomes {}');
    assert.equal(body.sources[0].text, PASSAGES[0].text);
    for (const key of ['search_ms', 'generate_ms', 'total_ms']) {
      assert.equal(typeof body.timings[key], 'number', key);
      assert.ok(body.timings[key] >= 0, key);
    }
    assert.ok(body.timings.total_ms >= body.timings.search_ms);
    const searched = embedding.requests.at(-1);
    assert.deepEqual(searched.body, { query: 'How far does basaltic lava travel?', k: 3 });
  });

  it('asks the embedding service for DEFAULT_K passages when k is omitted', async () => {
    results = PASSAGES.slice(0, 1);
    const { status } = await postJson(`${orchestrator.url}/api/query`, { question: 'What forms volcanoes?' });
    assert.equal(status, 200);
    assert.equal(embedding.requests.at(-1).body.k, 5);
  });

  it('says so plainly when nothing relevant is found', async () => {
    results = [];
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'Who won the 1986 cup?' });
    assert.equal(status, 200);
    assert.equal(body.answer, NO_RESULTS_ANSWER);
    assert.match(body.answer, /No relevant documents/);
    assert.deepEqual(body.sources, []);
    assert.equal(body.timings.generate_ms, 0);
  });

  it('sends baseline security headers and no x-powered-by', async () => {
    results = PASSAGES;
    const response = await fetch(`${orchestrator.url}/api/health`);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-powered-by'), null);
    assert.deepEqual(await response.json(), { status: 'ok', release: null });
  });
});
