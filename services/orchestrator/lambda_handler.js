'use strict';

// Entry point for AWS Lambda behind API Gateway (HTTP API v2 or REST v1).
// Secrets arrive as SSM parameter names (OPENAI_API_KEY_SSM_PARAMETER): they are
// resolved on the first invocation, before the app reads its config, and the
// promise is kept for the life of the execution environment. A failed resolution
// is not kept, so the next invocation tries again.
const serverless = require('serverless-http');

const { createApp } = require('./src/app');
const { resolveSsmSecrets } = require('./src/ssm_secrets');

let ready;

function app() {
  if (!ready) {
    ready = resolveSsmSecrets(process.env).then(() => serverless(createApp()));
    ready.catch(() => {
      ready = undefined;
    });
  }
  return ready;
}

module.exports.handler = async (event, context) => (await app())(event, context);
