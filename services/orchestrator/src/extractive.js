'use strict';

// Fallback when no LLM is configured: quote the sentences of the retrieved
// passages that share the most words with the question, with citations.

const STOPWORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our so than that the their them then there these they this to was we were what when ' +
    'where which who whom why will with would you your about after all also any before between both each more ' +
    'most other over same should some such only own just very'
  ).split(' '),
);

const EXTRACTIVE_PREFIX = 'Extractive answer (no language model configured; quoted from the top passages):';
const MAX_SENTENCES = 3;
const MAX_PASSAGES = 3;

function tokens(text) {
  return (String(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter((t) => !STOPWORDS.has(t));
}

function splitSentences(text) {
  return String(text)
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?])\s+(?=[\p{Lu}\p{N}"'(\[])/u)
    .map((s) => s.trim())
    .filter(Boolean);
}

function extractiveAnswer(question, passages) {
  const questionTerms = new Set(tokens(question));
  const candidates = [];
  passages.slice(0, MAX_PASSAGES).forEach((passage, passageIndex) => {
    splitSentences(passage.text).forEach((sentence, sentenceIndex) => {
      const terms = new Set(tokens(sentence));
      let overlap = 0;
      for (const term of terms) if (questionTerms.has(term)) overlap += 1;
      candidates.push({ sentence, passageIndex, sentenceIndex, overlap });
    });
  });

  let chosen = candidates
    .filter((c) => c.overlap > 0)
    // Most shared terms first; ties go to the better-ranked passage, then
    // to the earlier sentence, so the output is deterministic.
    .sort((a, b) => b.overlap - a.overlap || a.passageIndex - b.passageIndex || a.sentenceIndex - b.sentenceIndex)
    .slice(0, MAX_SENTENCES);
  if (chosen.length === 0 && candidates.length > 0) chosen = [candidates[0]];

  const body = chosen.map((c) => `${c.sentence} [${c.passageIndex + 1}]`).join(' ');
  return `${EXTRACTIVE_PREFIX} ${body}`.trim();
}

module.exports = { extractiveAnswer, splitSentences, tokens, EXTRACTIVE_PREFIX };
