'use strict';

const { performance } = require('node:perf_hooks');
const express = require('express');

const { loadConfig } = require('./config');
const { ApiError } = require('./errors');
const { createEmbeddingClient } = require('./embedding_client');
const { createOpenAIClient } = require('./openai_client');
const { extractiveAnswer } = require('./extractive');
const { createLogger } = require('./logger');
const { buildPrompt } = require('./prompt');
const { validateDocuments, validateQuery } = require('./validate');

const NO_RESULTS_ANSWER =
  'No relevant documents were found for this question. Ingest documents first or rephrase the question.';

function elapsed(since) {
  return Math.round((performance.now() - since) * 10) / 10;
}

function toSource(result) {
  return {
    id: result.id,
    text: result.text,
    score: result.score,
    document_id: result.document_id,
    metadata: result.metadata || {},
  };
}

function requestLog(logger) {
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      // Path only: query strings can carry tokens and never reach the log.
      logger.info('request', {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        ms: elapsed(started),
      });
    });
    next();
  };
}

function securityHeaders(req, res, next) {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  next();
}

// The UI may be served from another origin (S3 + CloudFront); allow it only
// when CORS_ALLOW_ORIGIN names it.
function cors(allowOrigin) {
  return (req, res, next) => {
    if (!allowOrigin) return next();
    res.set({
      'Access-Control-Allow-Origin': allowOrigin,
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
      'Access-Control-Allow-Headers': 'Content-Type',
      'Access-Control-Max-Age': '600',
      Vary: 'Origin',
    });
    if (req.method === 'OPTIONS') return res.status(204).end();
    return next();
  };
}

function bodyParserError(err) {
  if (err.type === 'entity.parse.failed') {
    return new ApiError(400, 'invalid_json', 'request body is not valid JSON');
  }
  if (err.type === 'entity.too.large') {
    return new ApiError(413, 'payload_too_large', `request body exceeds ${err.limit} bytes`);
  }
  if (Number.isInteger(err.status) && err.status >= 400 && err.status < 500) {
    return new ApiError(err.status, 'bad_request', err.message);
  }
  return undefined;
}

function createApp(config = loadConfig(), { logger = createLogger() } = {}) {
  const embedding = createEmbeddingClient(config);
  const openai = config.openaiApiKey ? createOpenAIClient(config) : null;
  const app = express();
  app.disable('x-powered-by');
  if (config.logRequests) app.use(requestLog(logger));
  app.use(securityHeaders);
  app.use(cors(config.corsAllowOrigin));
  app.use(express.json({ limit: '1mb' }));

  app.get('/api/health', (req, res) => {
    res.json({ status: 'ok', release: config.release });
  });

  app.get('/api/ready', async (req, res) => {
    let answer;
    try {
      answer = await embedding.ready();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return res.status(503).json({ status: 'not_ready', reason: err.message });
    }
    if (answer.status === 200) return res.json({ status: 'ready', embedding: answer.body });
    const detail = answer.body && (answer.body.reason || (answer.body.error && answer.body.error.message));
    return res.status(503).json({
      status: 'not_ready',
      reason: `embedding service /ready returned HTTP ${answer.status}${detail ? `: ${detail}` : ''}`,
    });
  });

  app.post('/api/query', async (req, res) => {
    const started = performance.now();
    const { question, k } = validateQuery(req.body, config.defaultK);

    const searchStarted = performance.now();
    const found = await embedding.search(question, k);
    const searchMs = elapsed(searchStarted);
    const sources = found.results.map(toSource);
    const mode = openai ? 'openai' : 'extractive';

    const generateStarted = performance.now();
    let answer;
    if (sources.length === 0) answer = NO_RESULTS_ANSWER;
    else if (openai) answer = await openai.complete(buildPrompt(question, sources));
    else answer = extractiveAnswer(question, sources);
    const generateMs = sources.length === 0 ? 0 : elapsed(generateStarted);

    res.json({
      answer,
      sources,
      mode,
      timings: { search_ms: searchMs, generate_ms: generateMs, total_ms: elapsed(started) },
    });
  });

  app.post('/api/documents', async (req, res) => {
    const payload = validateDocuments(req.body);
    const { status, body } = await embedding.upsertDocuments(payload);
    res.status(status).json(body);
  });

  app.use((req, res) => {
    res.status(404).json({ error: { type: 'not_found', message: `no route for ${req.method} ${req.path}` } });
  });

  // Four arguments make this Express's error handler; every failure leaves
  // as JSON without a stack trace.
  app.use((err, req, res, next) => {
    const apiError = err instanceof ApiError ? err : bodyParserError(err);
    if (apiError) {
      if (apiError.status >= 500) logger.warn('upstream failure', { path: req.path, status: apiError.status, error: apiError.message });
      return res.status(apiError.status).json(apiError.toJSON());
    }
    logger.error('unhandled error', { path: req.path, error: String(err && err.message) });
    return res.status(500).json({ error: { type: 'internal_error', message: 'internal server error' } });
  });

  return app;
}

let defaultApp;

module.exports = {
  createApp,
  NO_RESULTS_ANSWER,
  // Built on first use so requiring this module never reads the environment.
  get app() {
    if (!defaultApp) defaultApp = createApp();
    return defaultApp;
  },
};
