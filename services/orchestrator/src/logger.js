'use strict';

// One JSON object per line on stdout, the format CloudWatch and docker logs
// parse without configuration.
function createLogger(write = (line) => process.stdout.write(`${line}\n`)) {
  function log(level, msg, fields = {}) {
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  }
  return {
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}

const silentLogger = { info() {}, warn() {}, error() {} };

module.exports = { createLogger, silentLogger };
