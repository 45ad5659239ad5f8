'use strict';

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { EXTRACTIVE_PREFIX, extractiveAnswer, splitSentences } = require('../src/extractive');
const { buildPrompt } = require('../src/prompt');
const { loadConfig } = require('../src/config');

describe('extractive answers', () => {
  it('splits text into sentences', () => {
    assert.deepEqual(splitSentences('One is here.  Two?\nThree! four stays. 5 starts'), [
      'One is here.',
      'Two?',
      'Three! four stays.',
      '5 starts',
    ]);
  });

  it('quotes the sentences sharing the most words with the question, with citations', () => {
    const answer = extractiveAnswer('Which ocean is the largest?', [
      { text: 'Bread needs yeast. Yeast eats sugar.' },
      { text: 'Whales live in every ocean. The Pacific is the largest ocean on Earth.' },
    ]);
    assert.ok(answer.startsWith(EXTRACTIVE_PREFIX));
    const body = answer.slice(EXTRACTIVE_PREFIX.length).trim();
    assert.ok(body.startsWith('The Pacific is the largest ocean on Earth. [2]'), body);
    assert.doesNotMatch(body, /yeast/i);
  });

  it('falls back to the first sentence of the top passage when no words match', () => {
    const answer = extractiveAnswer('zzz?', [{ text: 'Alpha first. Beta second.' }, { text: 'Gamma.' }]);
    assert.equal(answer, `${EXTRACTIVE_PREFIX} Alpha first. [1]`);
  });
});

describe('grounded prompt', () => {
  it('numbers the passages and tells the model to cite and stay within them', () => {
    const [system, user] = buildPrompt('Why?', [
      { text: 'Because A.', document_id: 'a' },
      { text: ' Because B. ' },
    ]);
    assert.equal(system.role, 'system');
    assert.match(system.content, /only/);
    assert.match(system.content, /\[1\]/);
    assert.equal(user.role, 'user');
    assert.ok(user.content.includes('[1] (document: a)\nBecause A.\n\n[2]\nBecause B.'), user.content);
    assert.match(user.content, /Question: Why\?/);
  });
});

describe('configuration', () => {
  it('has documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 5000);
    assert.equal(config.embeddingServiceUrl, 'http://localhost:8000');
    assert.equal(config.openaiBaseUrl, 'https://api.openai.com/v1');
    assert.equal(config.openaiChatModel, 'gpt-4o-mini');
    assert.equal(config.searchTimeoutMs, 30000);
    assert.equal(config.llmTimeoutMs, 60000);
  });

  it('lets UPSTREAM_TIMEOUT_MS set every upstream timeout and rejects garbage', () => {
    const config = loadConfig({ UPSTREAM_TIMEOUT_MS: '1234', LLM_TIMEOUT_MS: '99' });
    assert.equal(config.searchTimeoutMs, 1234);
    assert.equal(config.ingestTimeoutMs, 1234);
    assert.equal(config.llmTimeoutMs, 99);
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be a positive integer/);
  });
});
