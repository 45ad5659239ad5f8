'use strict';

// One error shape for the whole API, matching the embedding service:
// {"error": {"type": ..., "message": ..., "field"?: ...}}
class ApiError extends Error {
  constructor(status, type, message, field) {
    super(message);
    this.status = status;
    this.type = type;
    this.field = field;
  }

  toJSON() {
    const error = { type: this.type, message: this.message };
    if (this.field) error.field = this.field;
    return { error };
  }
}

class ValidationError extends ApiError {
  constructor(field, message) {
    super(400, 'validation_error', message, field);
  }
}

class UpstreamError extends ApiError {
  constructor(message) {
    super(502, 'upstream_error', message);
  }
}

class UpstreamTimeoutError extends ApiError {
  constructor(message) {
    super(504, 'upstream_timeout', message);
  }
}

module.exports = { ApiError, ValidationError, UpstreamError, UpstreamTimeoutError };
