'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');

const { PASSAGES, startFakeUpstream } = require('./helpers/servers');
const { resolveSsmSecrets } = require('../src/ssm_secrets');

const KEY = 'sk-canary-extension-0123456789';
const PARAMETER = '/ragstack/dev/openai_api_key';
const TOKEN = 'session-token-for-the-extension';
const EXTENSION_PATH = `/systemsmanager/parameters/get?name=${encodeURIComponent(PARAMETER)}&withDecryption=true`;

function httpApiEvent(method, rawPath, body) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'abc123.execute-api.us-east-1.amazonaws.com' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'node-test' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '26/Nov/2026:10:00:00 +0000',
      timeEpoch: 1795600000000,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

describe('lambda_handler with OPENAI_API_KEY_SSM_PARAMETER', () => {
  let embedding;
  let openai;
  let extension;
  let handler;
  let extensionStatus = 200;
  const savedEnv = { ...process.env };
  const stdout = [];
  const originalWrite = process.stdout.write;

  before(async () => {
    embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results: PASSAGES.slice(0, 2), model: 'fake', took_ms: 1 } }),
    });
    openai = await startFakeUpstream({
      'POST /v1/chat/completions': async () => ({
        status: 200,
        body: { choices: [{ message: { role: 'assistant', content: 'Lava flows [1].' } }] },
      }),
    });
    extension = await startFakeUpstream({
      [`GET ${EXTENSION_PATH}`]: async () =>
        extensionStatus === 200
          ? { status: 200, body: { Parameter: { Name: PARAMETER, Type: 'SecureString', Value: KEY, Version: 1 } } }
          : { status: extensionStatus, body: 'AccessDeniedException: not authorized to perform ssm:GetParameter' },
    });
    delete process.env.OPENAI_API_KEY;
    Object.assign(process.env, {
      EMBEDDING_SERVICE_URL: embedding.url,
      OPENAI_BASE_URL: `${openai.url}/v1`,
      OPENAI_API_KEY_SSM_PARAMETER: PARAMETER,
      SSM_SECRETS_EXTENSION_URL: extension.url,
      AWS_SESSION_TOKEN: TOKEN,
      LOG_REQUESTS: 'true',
    });
    ({ handler } = require(path.join(__dirname, '..', 'lambda_handler.js')));
    process.stdout.write = (chunk, ...rest) => {
      stdout.push(String(chunk));
      return originalWrite.call(process.stdout, chunk, ...rest);
    };
  });

  after(async () => {
    process.stdout.write = originalWrite;
    process.env = savedEnv;
    await Promise.all([embedding.close(), openai.close(), extension.close()]);
  });

  it('a failed resolution fails the invocation, names the parameter, and is retried next time', async () => {
    extensionStatus = 400;
    await assert.rejects(handler(httpApiEvent('GET', '/api/health'), {}), (err) => {
      assert.match(err.message, /SSM parameter "\/ragstack\/dev\/openai_api_key" for OPENAI_API_KEY/);
      assert.match(err.message, /HTTP 400/);
      return true;
    });
    assert.equal(process.env.OPENAI_API_KEY, undefined);
    extensionStatus = 200;
  });

  it('resolves the key through the extension, with the token header, once', async () => {
    const before = extension.requests.length;
    const first = await handler(httpApiEvent('POST', '/api/query', { question: 'How far does lava go?', k: 2 }), {});
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(JSON.parse(first.body).mode, 'openai');
    const second = await handler(httpApiEvent('POST', '/api/query', { question: 'And again?', k: 2 }), {});
    assert.equal(second.statusCode, 200);

    const calls = extension.requests.slice(before);
    assert.equal(calls.length, 1, 'cached for the life of the execution environment');
    assert.equal(calls[0].path, EXTENSION_PATH);
    assert.equal(calls[0].headers['x-aws-parameters-secrets-token'], TOKEN);
    assert.deepEqual(
      openai.requests.map((r) => r.headers.authorization),
      [`Bearer ${KEY}`, `Bearer ${KEY}`],
    );
    assert.ok(stdout.length > 0, 'request logs were written');
    assert.ok(!stdout.join('').includes(KEY), 'the key never reaches the log');
  });
});

describe('resolveSsmSecrets', () => {
  it('leaves an explicit value alone and needs nothing when nothing is named', async () => {
    const env = { OPENAI_API_KEY: 'explicit', OPENAI_API_KEY_SSM_PARAMETER: PARAMETER };
    assert.deepEqual(await resolveSsmSecrets(env), []);
    assert.equal(env.OPENAI_API_KEY, 'explicit');
    assert.deepEqual(await resolveSsmSecrets({ PORT: '5000' }), []);
  });

  it('refuses without a session token, naming the parameter', async () => {
    await assert.rejects(
      resolveSsmSecrets({ MONGODB_URI_SSM_PARAMETER: '/ragstack/dev/mongodb_uri' }),
      /SSM parameter "\/ragstack\/dev\/mongodb_uri" for MONGODB_URI .*AWS_SESSION_TOKEN is unset/,
    );
  });
});
