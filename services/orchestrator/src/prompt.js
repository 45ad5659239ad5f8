'use strict';

const SYSTEM_PROMPT = [
  'You answer questions using only the numbered passages supplied by the user.',
  'Cite every claim with the passage number in square brackets, for example [1] or [2][3].',
  'If the passages do not contain the answer, say that the documents do not contain it; do not use outside knowledge.',
].join(' ');

function formatPassages(passages) {
  return passages
    .map((p, i) => {
      const origin = p.document_id ? ` (document: ${p.document_id})` : '';
      return `[${i + 1}]${origin}\n${String(p.text).trim()}`;
    })
    .join('\n\n');
}

// Returns chat messages: the rules in the system turn, the passages and the
// question in the user turn, so the model sees the evidence next to the ask.
function buildPrompt(question, passages) {
  const user = [
    'Passages:',
    formatPassages(passages),
    '',
    `Question: ${question}`,
    '',
    'Answer only from the passages above and cite them as [n].',
  ].join('\n');
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: user },
  ];
}

module.exports = { buildPrompt, SYSTEM_PROMPT };
