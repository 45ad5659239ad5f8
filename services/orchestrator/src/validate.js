'use strict';

const { ValidationError } = require('./errors');

const MAX_QUESTION_CHARS = 2000;
const MAX_K = 20;

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function validateQuery(body, defaultK) {
  if (!isPlainObject(body)) throw new ValidationError('body', 'request body must be a JSON object');
  const { question } = body;
  if (typeof question !== 'string' || question.trim() === '') {
    throw new ValidationError('question', 'question must be a non-empty string');
  }
  if (question.length > MAX_QUESTION_CHARS) {
    throw new ValidationError('question', `question must be at most ${MAX_QUESTION_CHARS} characters`);
  }
  let k = defaultK;
  if (body.k !== undefined && body.k !== null) {
    if (!Number.isInteger(body.k) || body.k < 1 || body.k > MAX_K) {
      throw new ValidationError('k', `k must be an integer between 1 and ${MAX_K}`);
    }
    k = body.k;
  }
  return { question: question.trim(), k: Math.min(k, MAX_K) };
}

// Shape checks only; the embedding service owns the finer rules (sizes,
// chunking bounds) and its 4xx answers are passed back to the caller.
function validateDocuments(body) {
  if (!isPlainObject(body)) throw new ValidationError('body', 'request body must be a JSON object');
  const { documents } = body;
  if (!Array.isArray(documents) || documents.length === 0) {
    throw new ValidationError('documents', 'documents must be a non-empty array');
  }
  documents.forEach((doc, i) => {
    const field = `documents[${i}]`;
    if (!isPlainObject(doc)) throw new ValidationError(field, `${field} must be an object`);
    if (typeof doc.text !== 'string' || doc.text.trim() === '') {
      throw new ValidationError(`${field}.text`, `${field}.text must be a non-empty string`);
    }
    if (doc.id !== undefined && (typeof doc.id !== 'string' || doc.id.trim() === '')) {
      throw new ValidationError(`${field}.id`, `${field}.id must be a non-empty string when given`);
    }
    if (doc.metadata !== undefined && !isPlainObject(doc.metadata)) {
      throw new ValidationError(`${field}.metadata`, `${field}.metadata must be an object when given`);
    }
  });
  for (const field of ['chunk_size', 'chunk_overlap']) {
    const value = body[field];
    if (value !== undefined && (!Number.isInteger(value) || value < (field === 'chunk_size' ? 1 : 0))) {
      throw new ValidationError(field, `${field} must be a ${field === 'chunk_size' ? 'positive' : 'non-negative'} integer`);
    }
  }
  const payload = { documents };
  if (body.chunk_size !== undefined) payload.chunk_size = body.chunk_size;
  if (body.chunk_overlap !== undefined) payload.chunk_overlap = body.chunk_overlap;
  return payload;
}

module.exports = { validateQuery, validateDocuments, MAX_QUESTION_CHARS, MAX_K };
