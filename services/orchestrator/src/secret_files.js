'use strict';

// Secrets delivered as files: `<VAR>_FILE=/run/secrets/<name>`, read at each config load.
//
// On EC2 a systemd unit on the host reads the SSM parameters with the instance role and
// writes them to tmpfs (0600); docker compose mounts them into the container as `secrets:`
// files, so a secret is never in `docker inspect` or the container's environment.
//
// - The value is the file's content with one trailing newline (\n or \r\n) stripped.
// - Both `<VAR>` and `<VAR>_FILE` set is a startup error naming both (which one rotates?).
// - A `_FILE` that is missing, unreadable, not UTF-8, too large or empty is a startup error
//   naming the variable and the path. Errors never carry the content.
// - Read when the config is loaded (process start), so rotating is "write the file, restart".
// - The value goes into the config only, never back into process.env.

const fs = require('node:fs');

const SUFFIX = '_FILE';
// Every secret the orchestrator takes. Only these read a `_FILE`: a generic `*_FILE` would
// catch unrelated variables (SSL_CERT_FILE, AWS_CONFIG_FILE) that name files for other reasons.
const SECRET_VARIABLES = ['OPENAI_API_KEY'];
// An API key is far below this; a bigger file is a wrong path.
const MAX_BYTES = 64 * 1024;

// Set means non-empty, as for every other setting (`VAR=` is unset).
function isSet(env, name) {
  const value = env[name];
  return typeof value === 'string' && value.trim() !== '';
}

function stripOneNewline(text) {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

function readBounded(path) {
  const fd = fs.openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) break;
    }
    return buffer.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}

const REASONS = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file',
  EISDIR: 'is a directory, not a file',
  EACCES: 'cannot read the file (permission denied)',
  EPERM: 'cannot read the file (permission denied)',
};

function readSecretFile(variable, path) {
  const where = `${variable}${SUFFIX}=${path}`;
  let raw;
  try {
    raw = readBounded(path);
  } catch (err) {
    // The code only: nothing of the file can be in it, since the read failed.
    throw new Error(`${where}: ${REASONS[err.code] || `cannot read the file (${err.code || err.name})`}`);
  }
  if (raw.length > MAX_BYTES) {
    throw new Error(`${where}: larger than ${MAX_BYTES} bytes, not a secret file`);
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new Error(`${where}: not UTF-8 text`);
  }
  const value = stripOneNewline(text);
  if (value.trim() === '') {
    throw new Error(`${where}: the file is empty (or only whitespace)`);
  }
  return value;
}

// The secret `variable` from `<VAR>` or `<VAR>_FILE` (never both): { value, source }.
// `source` says where it came from without the value, for the startup log line.
function secretFromEnv(env, variable) {
  const fileVariable = `${variable}${SUFFIX}`;
  if (!isSet(env, fileVariable)) {
    return { value: env[variable] || '', source: env[variable] ? variable : 'unset' };
  }
  if (isSet(env, variable)) {
    throw new Error(`both ${variable} and ${fileVariable} are set; set only one (the value, or the file that holds it)`);
  }
  const path = env[fileVariable];
  return { value: readSecretFile(variable, path), source: `${fileVariable}=${path}` };
}

module.exports = { SECRET_VARIABLES, SUFFIX, MAX_BYTES, isSet, secretFromEnv };
