'use strict';

const { UpstreamError } = require('./errors');
const { requestJson, upstreamMessage } = require('./upstream');

const NAME = 'OpenAI';

function createOpenAIClient(config) {
  async function complete(messages) {
    const { status, body } = await requestJson(`${config.openaiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.openaiApiKey}` },
      body: { model: config.openaiChatModel, messages, temperature: 0.1 },
      timeoutMs: config.llmTimeoutMs,
      name: NAME,
    });
    if (status !== 200) {
      const detail = upstreamMessage(body);
      throw new UpstreamError(`${NAME} chat completions returned HTTP ${status}${detail ? `: ${detail}` : ''}`);
    }
    const content = body && body.choices && body.choices[0] && body.choices[0].message && body.choices[0].message.content;
    if (typeof content !== 'string' || content.trim() === '') {
      throw new UpstreamError(`${NAME} chat completions returned no answer text`);
    }
    return content.trim();
  }

  return { complete };
}

module.exports = { createOpenAIClient };
