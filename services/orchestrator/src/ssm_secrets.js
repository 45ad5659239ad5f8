'use strict';

// Secrets named by `<VAR>_SSM_PARAMETER` (e.g. OPENAI_API_KEY_SSM_PARAMETER=/ragstack/dev/openai_api_key)
// are read through the AWS Parameters and Secrets Lambda Extension's local HTTP endpoint, so
// the zip carries no AWS SDK and the function's configuration carries no secret value.
// They land in the environment once, before the app reads its config; an explicit `<VAR>` wins,
// and so does a `<VAR>_FILE` for the secrets that take one (secret_files.js): no read then.
// Values are never logged; errors name the parameter, never a value.

const { SECRET_VARIABLES, SUFFIX: FILE_SUFFIX, isSet } = require('./secret_files');

const SUFFIX = '_SSM_PARAMETER';
const TIMEOUT_MS = 5000;

function extensionUrl(env) {
  // SSM_SECRETS_EXTENSION_URL lets tests point at a stand-in; Lambda uses the extension's port.
  const base = env.SSM_SECRETS_EXTENSION_URL || `http://localhost:${env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT || 2773}`;
  return base.replace(/\/+$/, '');
}

async function fetchParameter(env, variable, name) {
  const where = `SSM parameter ${JSON.stringify(name)} for ${variable} (${variable}${SUFFIX})`;
  if (!env.AWS_SESSION_TOKEN) {
    throw new Error(`cannot read ${where}: AWS_SESSION_TOKEN is unset (the extension needs it)`);
  }
  const url = `${extensionUrl(env)}/systemsmanager/parameters/get?name=${encodeURIComponent(name)}&withDecryption=true`;
  let response;
  try {
    response = await fetch(url, {
      headers: { 'X-Aws-Parameters-Secrets-Token': env.AWS_SESSION_TOKEN },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new Error(`cannot read ${where}: extension unreachable at ${extensionUrl(env)} (${err.cause?.code || err.name})`);
  }
  if (!response.ok) {
    // The body is the extension's error text (from SSM): no value, since the read failed.
    const detail = (await response.text()).slice(0, 300);
    throw new Error(`cannot read ${where}: HTTP ${response.status} ${detail}`);
  }
  const value = (await response.json())?.Parameter?.Value;
  if (typeof value !== 'string') {
    throw new Error(`cannot read ${where}: the extension's answer has no Parameter.Value`);
  }
  return value;
}

// Fills each unset `<VAR>` named by a `<VAR>_SSM_PARAMETER`; resolves to the VARs filled.
async function resolveSsmSecrets(env = process.env) {
  const wanted = Object.entries(env)
    .filter(([key, name]) => key.endsWith(SUFFIX) && key !== SUFFIX && name && name.trim())
    .map(([key, name]) => [key.slice(0, -SUFFIX.length), name.trim()])
    .filter(([variable]) => !env[variable])
    .filter(([variable]) => !(SECRET_VARIABLES.includes(variable) && isSet(env, `${variable}${FILE_SUFFIX}`)));
  const values = await Promise.all(wanted.map(([variable, name]) => fetchParameter(env, variable, name)));
  wanted.forEach(([variable], i) => {
    env[variable] = values[i];
  });
  return wanted.map(([variable]) => variable);
}

module.exports = { resolveSsmSecrets };
