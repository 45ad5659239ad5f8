'use strict';

// Entry point for AWS Lambda behind API Gateway (HTTP API v2 or REST v1).
const serverless = require('serverless-http');

const { createApp } = require('./src/app');

module.exports.handler = serverless(createApp());
