'use strict';

const http = require('node:http');

const { createApp } = require('../../src/app');
const { loadConfig } = require('../../src/config');
const { silentLogger } = require('../../src/logger');

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

function close(server) {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

// A stand-in upstream on 127.0.0.1: `routes` maps "METHOD /path" to
// async (req, body) => ({status, body, delayMs}); every request is recorded.
async function startFakeUpstream(routes) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', async () => {
      let body;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const entry = { method: req.method, path: req.url, headers: req.headers, body };
      requests.push(entry);
      const route = routes[`${req.method} ${req.url}`];
      const answer = route ? await route(entry) : { status: 404, body: { error: { type: 'not_found', message: 'no route' } } };
      const send = () => {
        if (res.destroyed) return;
        const payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
        res.writeHead(answer.status || 200, { 'content-type': 'application/json' });
        res.end(payload);
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  const url = await listen(server);
  return { url, requests, close: () => close(server) };
}

// The orchestrator under test on a random port, with env-style overrides.
async function startOrchestrator(env = {}, { logger = silentLogger } = {}) {
  const config = loadConfig({ LOG_REQUESTS: 'false', ...env });
  const server = http.createServer(createApp(config, { logger }));
  const url = await listen(server);
  return { url, config, close: () => close(server) };
}

async function postJson(url, body, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function getJson(url) {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

// A port that was free a moment ago: nothing listens there.
async function closedPortUrl() {
  const server = http.createServer();
  const url = await listen(server);
  await close(server);
  return url;
}

const PASSAGES = [
  {
    id: 'volcano#0',
    document_id: 'volcano',
    text: 'Volcanoes form where magma reaches the surface. Basaltic lava is runny and travels far from the vent.',
    score: 0.91,
    metadata: { title: 'Volcanoes' },
  },
  {
    id: 'ocean#0',
    document_id: 'ocean',
    text: 'The Pacific is the largest ocean. Ocean currents move heat from the equator toward the poles.',
    score: 0.42,
    metadata: {},
  },
  {
    id: 'bread#0',
    document_id: 'bread',
    text: 'Sourdough bread rises because of wild yeast. A starter is fed flour and water every day.',
    score: 0.11,
  },
];

module.exports = { startFakeUpstream, startOrchestrator, postJson, getJson, closedPortUrl, listen, close, PASSAGES };
