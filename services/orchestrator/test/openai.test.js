'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const { createLogger } = require('../src/logger');
const { PASSAGES, postJson, startFakeUpstream, startOrchestrator } = require('./helpers/servers');

const API_KEY = 'sk-test-0123456789abcdef';

describe('POST /api/query in OpenAI mode', () => {
  let embedding;
  let openai;
  let orchestrator;
  let completion;
  const logLines = [];

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results: PASSAGES.slice(0, 2), model: 'fake', took_ms: 1 } }),
    });
    openai = await startFakeUpstream({
      'POST /v1/chat/completions': async () => completion,
    });
    orchestrator = await startOrchestrator(
      {
        EMBEDDING_SERVICE_URL: embedding.url,
        OPENAI_API_KEY: API_KEY,
        OPENAI_BASE_URL: `${openai.url}/v1/`,
        OPENAI_CHAT_MODEL: 'gpt-test',
        LLM_TIMEOUT_MS: '200',
        LOG_REQUESTS: 'true',
      },
      { logger: createLogger((line) => logLines.push(line)) },
    );
  });

  after(async () => {
    await orchestrator.close();
    await openai.close();
    await embedding.close();
  });

  it('sends a grounded prompt with the passages and a Bearer key, and returns the model answer', async () => {
    completion = {
      status: 200,
      body: { choices: [{ message: { role: 'assistant', content: '  Basaltic lava travels far [1].  ' } }] },
    };
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'How far does lava go?', k: 2 });
    assert.equal(status, 200);
    assert.equal(body.mode, 'openai');
    assert.equal(body.answer, 'Basaltic lava travels far [1].');
    assert.deepEqual(
      body.sources.map((s) => s.id),
      ['volcano#0', 'ocean#0'],
    );

    const call = openai.requests.at(-1);
    assert.equal(call.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(call.body.model, 'gpt-test');
    const system = call.body.messages.find((m) => m.role === 'system').content;
    const user = call.body.messages.find((m) => m.role === 'user').content;
    assert.match(system, /only/);
    assert.match(system, /\[1\]/);
    assert.ok(user.includes(`[1] (document: volcano)\n${PASSAGES[0].text}`), user);
    assert.ok(user.includes(`[2] (document: ocean)\n${PASSAGES[1].text}`), user);
    assert.match(user, /Question: How far does lava go\?/);
  });

  it('turns an OpenAI error into a 502 JSON error', async () => {
    completion = { status: 500, body: { error: { message: 'The server had an error' } } };
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'How far does lava go?' });
    assert.equal(status, 502);
    assert.equal(body.error.type, 'upstream_error');
    assert.match(body.error.message, /OpenAI .*HTTP 500/);
  });

  it('turns a slow OpenAI into a 504 JSON error within the LLM timeout', async () => {
    completion = { status: 200, delayMs: 3000, body: { choices: [{ message: { content: 'late' } }] } };
    const started = Date.now();
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, { question: 'How far does lava go?' });
    assert.equal(status, 504);
    assert.equal(body.error.type, 'upstream_timeout');
    assert.ok(Date.now() - started < 2000, 'answered before the fake upstream did');
  });

  it('never writes the API key to the logs', async () => {
    assert.ok(logLines.length >= 3, 'requests were logged');
    const request = JSON.parse(logLines.find((l) => JSON.parse(l).msg === 'request'));
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/api/query');
    assert.equal(typeof request.ms, 'number');
    assert.ok(!logLines.join('\n').includes(API_KEY));
  });
});
