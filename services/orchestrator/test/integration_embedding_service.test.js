'use strict';

// End to end against the real Python embedding service (hashing provider,
// local store) started here, talking to it only through the orchestrator.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');

const { getJson, listen, close, postJson, startOrchestrator } = require('./helpers/servers');

const REPO = path.resolve(__dirname, '..', '..', '..');
const PYTHON = process.env.RAGSTACK_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
const SERVICE_DIR = path.join(REPO, 'services', 'embedding_service');
const READY_DEADLINE_MS = 90000;

async function freePort() {
  const server = http.createServer();
  const url = await listen(server);
  await close(server);
  return Number(new URL(url).port);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Connection refused and 503 mean "still starting"; any other answer will not
// get better by waiting.
async function probeReady(baseUrl) {
  try {
    const response = await fetch(`${baseUrl}/ready`);
    if (response.status === 200) return { ready: true };
    const detail = `HTTP ${response.status} ${await response.text()}`;
    return { ready: false, fatal: response.status !== 503, detail };
  } catch (err) {
    return { ready: false, fatal: false, detail: err.cause ? err.cause.code || err.cause.message : err.message };
  }
}

const DOCUMENTS = [
  {
    id: 'volcanoes',
    text:
      'Volcanoes erupt when magma rises through the crust. Basaltic lava flows are runny and can travel many ' +
      'kilometres from the vent. Stratovolcanoes build steep cones from layers of ash and andesitic lava.',
    metadata: { title: 'Volcanoes' },
  },
  {
    id: 'sourdough',
    text:
      'Sourdough bread is leavened by a starter of wild yeast and lactobacilli. Bakers feed the starter flour and ' +
      'water daily, and a long cold proof gives the loaf its sour flavour and open crumb.',
    metadata: { title: 'Sourdough' },
  },
  {
    id: 'tides',
    text:
      'Ocean tides are caused by the gravitational pull of the Moon and the Sun. Spring tides happen at new and ' +
      'full moon, when the pulls line up; neap tides happen at the quarter moons.',
    metadata: { title: 'Tides' },
  },
];

describe('integration with the real embedding service', () => {
  let child;
  let childOutput = '';
  let childExit;
  let dataDir;
  let embeddingUrl;
  let orchestrator;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragstack-orch-it-'));
    const port = await freePort();
    embeddingUrl = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      EMBEDDING_PROVIDER: 'hashing',
      VECTOR_STORE: 'local',
      DATA_DIR: dataDir,
      EMBEDDING_SERVICE_HOST: '127.0.0.1',
      EMBEDDING_SERVICE_PORT: String(port),
      PYTHONUNBUFFERED: '1',
    };
    delete env.MONGODB_URI;
    delete env.OPENAI_API_KEY;
    child = spawn(PYTHON, ['-m', 'embedding_service'], { cwd: SERVICE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk) => {
      childOutput = (childOutput + chunk).slice(-8000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => {
      childExit = `spawn failed: ${err.message}`;
    });
    child.on('exit', (code, signal) => {
      childExit = childExit || `exited with code ${code} signal ${signal}`;
    });

    const deadline = Date.now() + READY_DEADLINE_MS;
    for (;;) {
      if (childExit) {
        throw new Error(`embedding service (${PYTHON} -m embedding_service) ${childExit}:\n${childOutput}`);
      }
      const probe = await probeReady(embeddingUrl);
      if (probe.ready) break;
      if (probe.fatal) throw new Error(`embedding service /ready answered ${probe.detail}:\n${childOutput}`);
      if (Date.now() > deadline) {
        throw new Error(`embedding service not ready after ${READY_DEADLINE_MS} ms (${probe.detail}):\n${childOutput}`);
      }
      await sleep(250);
    }
    orchestrator = await startOrchestrator({ EMBEDDING_SERVICE_URL: embeddingUrl });
  });

  after(async () => {
    if (orchestrator) await orchestrator.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('reports ready through the orchestrator', async () => {
    const { status, body } = await getJson(`${orchestrator.url}/api/ready`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.embedding.provider, 'hashing');
  });

  it('ingests documents through /api/documents', async () => {
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, { documents: DOCUMENTS });
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.documents.map((d) => d.id).sort(), ['sourdough', 'tides', 'volcanoes']);
    assert.ok(body.chunks_upserted >= 3, JSON.stringify(body));
  });

  it('skips unchanged chunks when the same documents are ingested again', async () => {
    const { status, body } = await postJson(`${orchestrator.url}/api/documents`, { documents: DOCUMENTS });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.chunks_upserted, 0, JSON.stringify(body));
    assert.ok(body.chunks_unchanged >= 3, JSON.stringify(body));
    assert.equal(body.chunks_deleted, 0, JSON.stringify(body));
  });

  it('finds the right document for a question and answers from it', async () => {
    const { status, body } = await postJson(`${orchestrator.url}/api/query`, {
      question: 'What do bakers feed the sourdough starter?',
      k: 3,
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.mode, 'extractive');
    assert.ok(body.sources.length >= 1);
    assert.equal(body.sources[0].document_id, 'sourdough', JSON.stringify(body.sources.map((s) => [s.document_id, s.score])));
    assert.match(body.sources[0].text, /starter/);
    assert.match(body.answer, /flour and water/);
    const scores = body.sources.map((s) => s.score);
    assert.deepEqual([...scores].sort((a, b) => b - a), scores, 'sources come best first');
  });

  it('finds a different document for a different question', async () => {
    const { body } = await postJson(`${orchestrator.url}/api/query`, { question: 'What causes spring tides and neap tides?' });
    assert.equal(body.sources[0].document_id, 'tides');
  });
});
