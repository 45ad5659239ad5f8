'use strict';

// Every knob comes from the environment so the same image runs under Docker,
// systemd, Fargate and Lambda without a config file. Secrets may instead come as
// files named by `<VAR>_FILE` (docker compose `secrets:`), read here: see secret_files.js.

const { secretFromEnv } = require('./secret_files');

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

const EMBEDDING_AUTH_MODES = ['none', 'aws_iam'];

// How calls to the embedding service are authenticated. `aws_iam`: SigV4-signed
// for API Gateway routes with AWS_IAM authorization (the Lambda path), with the
// standard credential variables (Lambda sets them for the execution role). They
// are read again at each call, not kept here.
function embeddingAuthFromEnv(env) {
  const mode = env.EMBEDDING_SERVICE_AUTH || 'none';
  if (!EMBEDDING_AUTH_MODES.includes(mode)) {
    throw new Error(
      `EMBEDDING_SERVICE_AUTH must be one of ${EMBEDDING_AUTH_MODES.join(', ')}, got ${JSON.stringify(mode)}`,
    );
  }
  if (mode === 'none') return { mode };
  const region = env.EMBEDDING_SERVICE_REGION || env.AWS_REGION || '';
  const missing = [
    ...(env.AWS_ACCESS_KEY_ID ? [] : ['AWS_ACCESS_KEY_ID']),
    ...(env.AWS_SECRET_ACCESS_KEY ? [] : ['AWS_SECRET_ACCESS_KEY']),
    ...(region ? [] : ['EMBEDDING_SERVICE_REGION or AWS_REGION']),
  ];
  if (missing.length > 0) {
    throw new Error(`EMBEDDING_SERVICE_AUTH=aws_iam signs with AWS credentials, but ${missing.join(', ')} is not set`);
  }
  return {
    mode,
    region,
    service: 'execute-api',
    credentials: () => ({
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    }),
  };
}

function loadConfig(env = process.env) {
  const upstreamTimeout = intFromEnv(env, 'UPSTREAM_TIMEOUT_MS', undefined);
  const openaiApiKey = secretFromEnv(env, 'OPENAI_API_KEY');
  return {
    port: intFromEnv(env, 'PORT', 5000),
    embeddingServiceUrl: stripTrailingSlash(env.EMBEDDING_SERVICE_URL || 'http://localhost:8000'),
    embeddingServiceAuth: embeddingAuthFromEnv(env),
    openaiApiKey: openaiApiKey.value,
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
    // Which release this process runs (`r-` + 12 hex chars), reported by /api/health; not a secret.
    release: (env.RAGSTACK_RELEASE || '').trim() || null,
    // Where each secret came from (a variable name or `<VAR>_FILE=<path>`), never its value.
    secretSources: { OPENAI_API_KEY: openaiApiKey.source },
  };
}

module.exports = { loadConfig };
