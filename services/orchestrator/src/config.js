'use strict';

// Every knob comes from the environment so the same image runs under Docker,
// systemd, Fargate and Lambda without a config file.

function intFromEnv(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function stripTrailingSlash(url) {
  return url.replace(/\/+$/, '');
}

function loadConfig(env = process.env) {
  const upstreamTimeout = intFromEnv(env, 'UPSTREAM_TIMEOUT_MS', undefined);
  return {
    port: intFromEnv(env, 'PORT', 5000),
    embeddingServiceUrl: stripTrailingSlash(env.EMBEDDING_SERVICE_URL || 'http://localhost:8000'),
    openaiApiKey: env.OPENAI_API_KEY || '',
    openaiBaseUrl: stripTrailingSlash(env.OPENAI_BASE_URL || 'https://api.openai.com/v1'),
    openaiChatModel: env.OPENAI_CHAT_MODEL || 'gpt-4o-mini',
    defaultK: intFromEnv(env, 'DEFAULT_K', 5),
    // Search is a single embedding + vector query; generation streams a whole
    // answer and ingestion may embed many chunks on CPU, so they get longer.
    searchTimeoutMs: intFromEnv(env, 'SEARCH_TIMEOUT_MS', upstreamTimeout ?? 30000),
    llmTimeoutMs: intFromEnv(env, 'LLM_TIMEOUT_MS', upstreamTimeout ?? 60000),
    ingestTimeoutMs: intFromEnv(env, 'INGEST_TIMEOUT_MS', upstreamTimeout ?? 120000),
    readyTimeoutMs: intFromEnv(env, 'READY_TIMEOUT_MS', 5000),
    corsAllowOrigin: env.CORS_ALLOW_ORIGIN || '',
    logRequests: env.LOG_REQUESTS !== 'false',
  };
}

module.exports = { loadConfig };
