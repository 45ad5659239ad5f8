'use strict';

// Secrets as files (`<VAR>_FILE`): the contract docker compose `secrets:` mounts rely on.
// Every test that can see a secret value uses a canary and checks it never reaches an
// error message or the process's output.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, it, mock } = require('node:test');

const { PASSAGES, closedPortUrl, postJson, startFakeUpstream } = require('./helpers/servers');
const { loadConfig } = require('../src/config');
const { resolveSsmSecrets } = require('../src/ssm_secrets');
const { SECRET_VARIABLES } = require('../src/secret_files');

const CANARY = 'sk-canary-file-0123456789abcdef';
const ORCHESTRATOR_DIR = path.join(__dirname, '..');

let dir;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orchestrator-secrets-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function secretFile(content) {
  const file = path.join(dir, `secret-${(counter += 1)}`);
  fs.writeFileSync(file, content, { mode: 0o600 });
  return file;
}

function configError(env) {
  let caught;
  assert.throws(
    () => loadConfig(env),
    (err) => {
      caught = err;
      return true;
    },
  );
  assert.ok(!caught.message.includes(CANARY), `the value leaked: ${caught.message}`);
  assert.ok(!caught.message.includes('canary'), `the content leaked: ${caught.message}`);
  return caught.message;
}

describe('OPENAI_API_KEY_FILE: the value', () => {
  for (const [content, value] of [
    [CANARY, CANARY],
    [`${CANARY}\n`, CANARY],
    [`${CANARY}\r\n`, CANARY],
    // Exactly one newline: the rest is content (and nothing else is trimmed).
    [`${CANARY}\n\n`, `${CANARY}\n`],
    [`${CANARY}\r\n\r\n`, `${CANARY}\r\n`],
    [` ${CANARY} \n`, ` ${CANARY} `],
    [`${CANARY}\r`, `${CANARY}\r`],
  ]) {
    it(`is the content minus one trailing newline: ${JSON.stringify(content.slice(CANARY.length - 4))}`, () => {
      const config = loadConfig({ OPENAI_API_KEY_FILE: secretFile(content) });
      assert.equal(config.openaiApiKey, value);
    });
  }

  it('covers every secret the orchestrator takes, and is never put back into the environment', () => {
    assert.deepEqual(SECRET_VARIABLES, ['OPENAI_API_KEY']);
    const file = secretFile(`${CANARY}\n`);
    const env = { OPENAI_API_KEY_FILE: file };
    const config = loadConfig(env);
    assert.equal(config.openaiApiKey, CANARY);
    assert.deepEqual(env, { OPENAI_API_KEY_FILE: file });
    assert.deepEqual(config.secretSources, { OPENAI_API_KEY: `OPENAI_API_KEY_FILE=${file}` });
    assert.ok(!JSON.stringify(config.secretSources).includes(CANARY));
  });

  it('treats empty variables as unset, as every other setting', () => {
    // `VAR=` next to a file is not "both set" ...
    const file = secretFile(CANARY);
    assert.equal(loadConfig({ OPENAI_API_KEY: '', OPENAI_API_KEY_FILE: file }).openaiApiKey, CANARY);
    // ... and `VAR_FILE=` reads nothing.
    const config = loadConfig({ OPENAI_API_KEY_FILE: '' });
    assert.equal(config.openaiApiKey, '');
    assert.deepEqual(config.secretSources, { OPENAI_API_KEY: 'unset' });
    assert.deepEqual(loadConfig({ OPENAI_API_KEY: CANARY }).secretSources, { OPENAI_API_KEY: 'OPENAI_API_KEY' });
  });

  it('is read again at each config load: a restart picks up a rotated file', () => {
    const file = secretFile('sk-before-rotation\n');
    assert.equal(loadConfig({ OPENAI_API_KEY_FILE: file }).openaiApiKey, 'sk-before-rotation');
    fs.writeFileSync(file, 'sk-after-rotation\n');
    assert.equal(loadConfig({ OPENAI_API_KEY_FILE: file }).openaiApiKey, 'sk-after-rotation');
  });
});

describe('OPENAI_API_KEY_FILE: startup errors', () => {
  it('refuses OPENAI_API_KEY and OPENAI_API_KEY_FILE together, naming both', () => {
    const message = configError({ OPENAI_API_KEY: CANARY, OPENAI_API_KEY_FILE: secretFile(`${CANARY}-file`) });
    assert.match(message, /both OPENAI_API_KEY and OPENAI_API_KEY_FILE are set/);
  });

  it('refuses a missing file, naming the variable and the path', () => {
    const file = path.join(dir, 'absent');
    assert.equal(configError({ OPENAI_API_KEY_FILE: file }), `OPENAI_API_KEY_FILE=${file}: no such file`);
  });

  it('refuses a directory', () => {
    assert.equal(configError({ OPENAI_API_KEY_FILE: dir }), `OPENAI_API_KEY_FILE=${dir}: is a directory, not a file`);
  });

  it('refuses an unreadable file (0000 for a non-root user)', () => {
    const file = secretFile(CANARY);
    // The suite may run as root, which reads a 0000 file anyway: the open fails as it would.
    const denied = Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { code: 'EACCES' });
    const realOpenSync = fs.openSync;
    mock.method(fs, 'openSync', (target, ...rest) => {
      if (target === file) throw denied;
      return realOpenSync(target, ...rest);
    });
    try {
      assert.equal(
        configError({ OPENAI_API_KEY_FILE: file }),
        `OPENAI_API_KEY_FILE=${file}: cannot read the file (permission denied)`,
      );
    } finally {
      mock.restoreAll();
    }
  });

  for (const content of ['', '\n', '\r\n', '  \n']) {
    it(`refuses an empty file: ${JSON.stringify(content)}`, () => {
      const file = secretFile(content);
      assert.equal(
        configError({ OPENAI_API_KEY_FILE: file }),
        `OPENAI_API_KEY_FILE=${file}: the file is empty (or only whitespace)`,
      );
    });
  }

  it('refuses non-UTF-8 and oversized files without showing the content', () => {
    const binary = secretFile(Buffer.concat([Buffer.from(CANARY), Buffer.from([0xff, 0xfe, 0x0a])]));
    assert.equal(configError({ OPENAI_API_KEY_FILE: binary }), `OPENAI_API_KEY_FILE=${binary}: not UTF-8 text`);
    const big = secretFile(`${CANARY}\n`.repeat(5000));
    assert.equal(
      configError({ OPENAI_API_KEY_FILE: big }),
      `OPENAI_API_KEY_FILE=${big}: larger than 65536 bytes, not a secret file`,
    );
  });
});

describe('OPENAI_API_KEY_FILE against OPENAI_API_KEY_SSM_PARAMETER', () => {
  it('the file wins like an explicit value: the extension is never asked', async () => {
    const extension = await startFakeUpstream({});
    try {
      const file = secretFile(`${CANARY}\n`);
      const env = {
        OPENAI_API_KEY_FILE: file,
        OPENAI_API_KEY_SSM_PARAMETER: '/ragstack/dev/openai_api_key',
        SSM_SECRETS_EXTENSION_URL: extension.url,
        AWS_SESSION_TOKEN: 'token',
      };
      assert.deepEqual(await resolveSsmSecrets(env), []);
      assert.equal(extension.requests.length, 0);
      assert.equal(env.OPENAI_API_KEY, undefined);
      assert.equal(loadConfig(env).openaiApiKey, CANARY);
    } finally {
      await extension.close();
    }
  });

  it('an empty OPENAI_API_KEY_FILE leaves the SSM parameter in charge', async () => {
    // No session token: the resolver must try (and fail) to read the parameter.
    await assert.rejects(
      resolveSsmSecrets({ OPENAI_API_KEY_FILE: '', OPENAI_API_KEY_SSM_PARAMETER: '/ragstack/dev/openai_api_key' }),
      /SSM parameter "\/ragstack\/dev\/openai_api_key" for OPENAI_API_KEY/,
    );
  });
});

// --- the real process: `node src/server.js` ------------------------------------------------

function freePort() {
  return closedPortUrl().then((url) => Number(new URL(url).port));
}

function baseEnv(extra) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(OPENAI_|EMBEDDING_|AWS_)/.test(key)),
  );
  return { ...env, LOG_REQUESTS: 'true', ...extra };
}

// Runs server.js until `until(output)` is true or it exits; resolves { code, output, child }.
function runServer(env, until = () => false) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/server.js'], { cwd: ORCHESTRATOR_DIR, env });
    let output = '';
    let done = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server.js did not start or exit in time: ${output}`));
    }, 20000);
    const onData = (chunk) => {
      output += chunk;
      if (!done && until(output)) {
        done = true;
        clearTimeout(timer);
        resolve({ code: null, output: () => output, child });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code, output: () => output, child });
    });
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe('server.js with OPENAI_API_KEY_FILE', () => {
  it('stops at startup when the value and the file are both set, naming both and not the value', async () => {
    const { code, output } = await runServer(
      baseEnv({ OPENAI_API_KEY: CANARY, OPENAI_API_KEY_FILE: secretFile(`${CANARY}-file\n`) }),
    );
    assert.equal(code, 2);
    assert.match(output(), /^orchestrator: configuration error: both OPENAI_API_KEY and OPENAI_API_KEY_FILE are set/);
    assert.ok(!output().includes(CANARY));
    assert.ok(!/\n\s+at /.test(output()), 'no stack trace');
  });

  it('stops at startup on a missing file, naming the variable and the path', async () => {
    const file = path.join(dir, 'run', 'secrets', 'openai_api_key');
    const { code, output } = await runServer(baseEnv({ OPENAI_API_KEY_FILE: file }));
    assert.equal(code, 2);
    assert.equal(output(), `orchestrator: configuration error: OPENAI_API_KEY_FILE=${file}: no such file\n`);
  });

  it('a restart picks up a rotated file, and the key never reaches the output', async () => {
    const embedding = await startFakeUpstream({
      'POST /search': async () => ({ status: 200, body: { results: PASSAGES.slice(0, 2), model: 'fake', took_ms: 1 } }),
    });
    const openai = await startFakeUpstream({
      'POST /v1/chat/completions': async () => ({
        status: 200,
        body: { choices: [{ message: { role: 'assistant', content: 'Lava flows [1].' } }] },
      }),
    });
    const file = secretFile(`${CANARY}-v1\n`);
    const outputs = [];
    try {
      for (const next of [`${CANARY}-v2\r\n`, null]) {
        const port = await freePort();
        const env = baseEnv({
          PORT: String(port),
          EMBEDDING_SERVICE_URL: embedding.url,
          OPENAI_BASE_URL: `${openai.url}/v1`,
          OPENAI_API_KEY_FILE: file,
        });
        const { child, output } = await runServer(env, (text) => text.includes('"msg":"listening"'));
        try {
          const answer = await postJson(`http://127.0.0.1:${port}/api/query`, { question: 'How far does lava go?' });
          assert.equal(answer.status, 200);
          assert.equal(answer.body.mode, 'openai');
        } finally {
          await stop(child);
          outputs.push(output());
        }
        // Rotation: the host writes a new file, then restarts the container.
        if (next) fs.writeFileSync(file, next);
      }
    } finally {
      await Promise.all([embedding.close(), openai.close()]);
    }
    assert.deepEqual(
      openai.requests.map((r) => r.headers.authorization),
      [`Bearer ${CANARY}-v1`, `Bearer ${CANARY}-v2`],
    );
    const all = outputs.join('');
    assert.ok(all.includes(`"secrets":{"OPENAI_API_KEY":"OPENAI_API_KEY_FILE=${file}"}`), all);
    assert.ok(all.includes('"path":"/api/query"'), 'request lines were logged');
    assert.ok(!all.includes(CANARY), 'the key never reaches the output');
  });
});
