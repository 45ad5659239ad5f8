'use strict';

const { UpstreamError } = require('./errors');
const { requestJson, upstreamMessage } = require('./upstream');

const NAME = 'embedding service';

function createEmbeddingClient(config) {
  const base = config.embeddingServiceUrl;

  async function search(query, k) {
    const { status, body } = await requestJson(`${base}/search`, {
      method: 'POST',
      body: { query, k },
      timeoutMs: config.searchTimeoutMs,
      name: NAME,
    });
    if (status !== 200) {
      const detail = upstreamMessage(body);
      throw new UpstreamError(`${NAME} /search returned HTTP ${status}${detail ? `: ${detail}` : ''}`);
    }
    if (!body || !Array.isArray(body.results)) {
      throw new UpstreamError(`${NAME} /search returned no results array`);
    }
    return body;
  }

  // Ingestion answers are passed through as-is, including 4xx: those describe
  // the caller's documents and the caller should see them.
  async function upsertDocuments(payload) {
    const { status, body } = await requestJson(`${base}/documents`, {
      method: 'POST',
      body: payload,
      timeoutMs: config.ingestTimeoutMs,
      name: NAME,
    });
    if (status >= 500 || body === undefined) {
      const detail = upstreamMessage(body);
      throw new UpstreamError(`${NAME} /documents returned HTTP ${status}${detail ? `: ${detail}` : ''}`);
    }
    return { status, body };
  }

  async function ready() {
    const { status, body } = await requestJson(`${base}/ready`, {
      timeoutMs: config.readyTimeoutMs,
      name: NAME,
    });
    return { status, body };
  }

  return { search, upsertDocuments, ready };
}

module.exports = { createEmbeddingClient };
