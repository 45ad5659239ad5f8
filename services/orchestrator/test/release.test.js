'use strict';

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');

const { loadConfig } = require('../src/config');
const { getJson, startOrchestrator } = require('./helpers/servers');

const RELEASE = 'r-3f9a2c1d7e4b';

async function healthWith(env) {
  const orchestrator = await startOrchestrator(env);
  try {
    return await getJson(`${orchestrator.url}/api/health`);
  } finally {
    await orchestrator.close();
  }
}

describe('GET /api/health reports the release', () => {
  it('is RAGSTACK_RELEASE when set', async () => {
    const { status, body } = await healthWith({ RAGSTACK_RELEASE: RELEASE });
    assert.equal(status, 200);
    assert.deepEqual(body, { status: 'ok', release: RELEASE });
  });

  it('is null when RAGSTACK_RELEASE is unset', async () => {
    const { status, body } = await healthWith({});
    assert.equal(status, 200);
    assert.deepEqual(body, { status: 'ok', release: null });
  });

  it('is null when RAGSTACK_RELEASE is empty (compose passes ${RAGSTACK_RELEASE:-})', async () => {
    for (const value of ['', '   ']) {
      const { body } = await healthWith({ RAGSTACK_RELEASE: value });
      assert.deepEqual(body, { status: 'ok', release: null }, JSON.stringify(value));
    }
  });
});

describe('loadConfig release', () => {
  it('reads RAGSTACK_RELEASE once, trimmed', () => {
    assert.equal(loadConfig({ RAGSTACK_RELEASE: ` ${RELEASE}\n` }).release, RELEASE);
    assert.equal(loadConfig({}).release, null);
  });
});
