'use strict';

const { createApp } = require('./app');
const { loadConfig } = require('./config');
const { createLogger } = require('./logger');

let config;
try {
  config = loadConfig();
} catch (err) {
  // A setting that cannot work: one line naming it (messages never hold a secret), no stack.
  process.stderr.write(`orchestrator: configuration error: ${err.message}\n`);
  process.exit(2);
}
const logger = createLogger();
const app = createApp(config, { logger });

const server = app.listen(config.port, () => {
  logger.info('listening', {
    port: config.port,
    embedding_service_url: config.embeddingServiceUrl,
    mode: config.openaiApiKey ? 'openai' : 'extractive',
    secrets: config.secretSources,
  });
});

// Docker and systemd stop with SIGTERM; finish in-flight requests first.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    logger.info('shutting down', { signal });
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 10000).unref();
  });
}
