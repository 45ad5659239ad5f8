'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const { closedPortUrl, startOrchestrator } = require('./helpers/servers');

describe('CORS', () => {
  let open;
  let closed;

  before(async () => {
    const upstream = await closedPortUrl();
    open = await startOrchestrator({ EMBEDDING_SERVICE_URL: upstream, CORS_ALLOW_ORIGIN: 'https://ui.example.test' });
    closed = await startOrchestrator({ EMBEDDING_SERVICE_URL: upstream });
  });

  after(async () => {
    await open.close();
    await closed.close();
  });

  it('answers a preflight for the configured UI origin', async () => {
    const response = await fetch(`${open.url}/api/query`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ui.example.test', 'access-control-request-method': 'POST' },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://ui.example.test');
    assert.match(response.headers.get('access-control-allow-headers'), /Content-Type/);
  });

  it('sends no CORS headers unless CORS_ALLOW_ORIGIN is set', async () => {
    const response = await fetch(`${closed.url}/api/health`, { headers: { origin: 'https://evil.example.test' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });
});
