'use strict';

const { UpstreamError } = require('./errors');
const { signRequest } = require('./sigv4');
const { requestJson, upstreamMessage } = require('./upstream');

const NAME = 'embedding service';

// undefined (send as-is) unless the embedding routes want SigV4 (AWS_IAM).
function signerFor(auth) {
  if (!auth || auth.mode !== 'aws_iam') return undefined;
  return (request) =>
    signRequest({ ...request, credentials: auth.credentials(), region: auth.region, service: auth.service });
}

function createEmbeddingClient(config) {
  const base = config.embeddingServiceUrl;
  const sign = signerFor(config.embeddingServiceAuth);

  async function search(query, k) {
    const { status, body } = await requestJson(`${base}/search`, {
      method: 'POST',
      body: { query, k },
      timeoutMs: config.searchTimeoutMs,
      name: NAME,
      sign,
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
  // the caller's documents and the caller should see them. Not 401/403: the
  // service has no auth of its own, so those are the gateway refusing our
  // signature, an upstream failure.
  async function upsertDocuments(payload) {
    const { status, body } = await requestJson(`${base}/documents`, {
      method: 'POST',
      body: payload,
      timeoutMs: config.ingestTimeoutMs,
      name: NAME,
      sign,
    });
    if (status >= 500 || status === 401 || status === 403 || body === undefined) {
      const detail = upstreamMessage(body);
      throw new UpstreamError(`${NAME} /documents returned HTTP ${status}${detail ? `: ${detail}` : ''}`);
    }
    return { status, body };
  }

  async function ready() {
    const { status, body } = await requestJson(`${base}/ready`, {
      timeoutMs: config.readyTimeoutMs,
      name: NAME,
      sign,
    });
    return { status, body };
  }

  return { search, upsertDocuments, ready };
}

module.exports = { createEmbeddingClient };
