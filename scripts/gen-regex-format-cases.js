#!/usr/bin/env node
// Writes tests/data/regex_format_cases.txt: the oracle for JSON Schema `format: "regex"`
// (tests/grammar/json_schema_regex_format_test.cc). Each pattern is judged by JavaScript itself:
// `new RegExp(s)` (no flags: ECMA-262 with Annex B, what JSON Schema validators run).
//
//   node scripts/gen-regex-format-cases.js     # rewrites the file; deterministic (fixed seed)
//
// Line format: "valid<TAB><json>" or "invalid<TAB><json>", where <json> is the pattern as a JSON
// string (the instance the test feeds to the grammar). "#" lines are comments. The generating Node
// version is recorded in the header: named-group and Annex B details have changed across V8
// versions, so regenerate with the same major version (or review the diff).
'use strict';
const fs = require('fs');
const path = require('path');

// Hand-written: every construct of the grammar, its errors and Annex B corners.
const tricky = [
  '', 'a', 'abc', '^\\d+$', '^[a-z0-9_-]+$', '^(foo|bar)$', 'a|', '|', '||a', '()', '(?:)', 'a(|)b',
  '(a)(b)\\1', '\\1', '\\2(a)', '\\12', '(a)\\10', '\\0', '\\00', '\\08', '\\377', '\\8', '\\9',
  '^', '$', '^$', '^*', '$+', '\\b', '\\B', '\\b*', '\\B+', 'a\\bc', '.', '.*', '.+?', '.??',
  '*', '+', '?', '*a', 'a**', 'a*?', 'a*??', 'a+?', 'a??', 'a???', 'a{2}', 'a{2}?', 'a{2}??',
  'a{2,}', 'a{2,3}', 'a{3,2}', 'a{2,2}', 'a{0,0}', 'a{1,10}', 'a{9,10}', 'a{10,9}', 'a{10,15}',
  'a{10,100}', 'a{99,100}', 'a{100,99}', 'a{123,1234}', 'a{01,2}', 'a{1,02}', 'a{,5}', 'a{,}',
  'a{', 'a{1', 'a{1,', 'a{1,2', '{', '}', '{}', '{,}', '{1}', '{1,}', '{1,2}', '{1', '{1*}',
  '{1,*}', 'x{1}{2}', 'x{1}*', 'a{99999999999999999999}', 'a{1,99999999999999999999}',
  'a{99999999999999999999,1}', ']', 'a]', ']]', '[]', '[^]', '[]]', '[^]]', '[', '[a', '[\\]',
  '[\\]]', '[a-z]', '[z-a]', '[a-a]', '[0-9]', '[9-0]', '[1-9]', '[2-5]', '[5-2]', '[0-5]',
  '[A-Z]', '[a-zA-Z0-9]', '[a-f]', '[g-z]', '[A-F0-9]', '[0-z]', '[z-0]', '[A-z]', '[a-Z]',
  '[ -~]', '[~- ]', '[!-/]', '[a-]', '[-a]', '[a--]', '[--a]', '[!--]', '[---]', '[--]', '[-]',
  '[a-z-_]', '[a-b-c]', '[a-z--]', '[\\d-z]', '[z-\\d]', '[a-\\d]', '[\\d-\\w]', '[\\w-.]',
  '[.-\\w]', '[\\s\\S]', '[^\\d]', '[\\b]', '[\\B]', '[\\-]', '[\\^]', '[\\\\]', '[\\/]',
  '[\\x41-\\x5a]', '[\\x5a-\\x41]', '[\\x00-\\x1f]', '[\\x00-\\x1F]', '[\\u0000-\\uFFFF]',
  '[\\u4e00-\\u9fa5]', '[\\u9fa5-\\u4e00]', '[\\u0041-\\x40]', '[\\x4]', '[\\xg]', '[\\u12]',
  '[\\u{1F600}]', '[\\cA]', '[\\c1]', '[\\c_]', '[\\c]', '[\\c*]', '[\\cz-a]', '[\\c_-\\c0]',
  '[\\0]', '[\\0-\\x1f]', '[\\01]', '[\\1]', '[\\7]', '[\\8]', '[\\9]', '[\\1-\\0]',
  '[\\8-\\7]', '[\\k]', '[\\k<a>]', '[😀]', '[😀-😂]', '[a-😀]', '[😀-a]', '[À-ÿ]',
  '[é]', '[\\é]', '\\', 'a\\', '\\\\', '\\d\\D\\w\\W\\s\\S', '\\t\\n\\v\\f\\r', '\\cA', '\\c',
  '\\c1', '\\c*', '\\x41', '\\x4', '\\xg', '\\u0041', '\\u004', '\\u{1F600}', '\\u{1}',
  '\\u{', '\\p{L}', '\\P{L}', '\\k', '\\k<a>', '\\-', '\\/', '\\a', '\\e', '\\z', '\\ ',
  '(?<a>x)', '(?<a>x)\\k<a>', '(?<a>x)\\k', '(?<a>x)\\k<b>', '(?<a>x)|(?<a>y)',
  '(?<a>x)(?<b>y)', '(?<a>x)[\\k]', '(?<$a_1>x)', '(?<1a>x)', '(?<é>x)', '(?<a', '(?<a>',
  '(?<>x)', '(?=a)', '(?!a)', '(?=a)*', '(?!a){2}', '(?=a)?', '(?<=a)', '(?<!a)', '(?<=a)*',
  '(?<!a)+', '(?<=a)?', '(?<=a){1}', '(?<=(a))', '(?<=(?:a|b))', '(?<=a|b)c', '(?<![a-z])x',
  '(?<=\\$)\\d+', '(?', '(?:', '(?i)', '(?i:a)', '(?:+)', '(?:a)+', '(a', 'a)', ')', '(()',
  '(a))', '((a))', '(((a)))', '((((a))))', '(a(b)c)', '(a)|(b)', '(|)', '(?:a|b)*?',
  '^(\\+\\d{1,3})?\\d{7,12}$', '^([01]?\\d|2[0-3]):[0-5]\\d$', '^\\S+@\\S+\\.\\S+$',
  '^#?([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$', '^[A-Z]{2}\\d{6}$', '^(?:\\d{3}-){2}\\d{4}$',
  '^https?://[^\\s/$.?#].[^\\s]*$', '\\.(jpe?g|png|gif)$', '^\\s*$', 'a\nb', '\\\n', '[\n]',
  '/', '//', 'a/b', '-', ',', ':', '=', '!', '<', '>', '#', '"', "'", '`', '~', '@', '%', '&',
];

// Random patterns over a meta-heavy alphabet (mulberry32, fixed seed).
let seed = 20261123;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (s) => s[Math.floor(rand() * s.length)];
const alphabet = '()[]{}|?*+^$\\-,0129abzAZdwkcxu:=!<>.';
const random = [];
for (let i = 0; i < 3000; ++i) {
  const n = 1 + Math.floor(rand() * 8);
  let s = '';
  for (let j = 0; j < n; ++j) s += pick(alphabet);
  random.push(s);
}
// Classes and quantifiers, where the checks with memory live.
const classChars = 'az09AZ-\\]^dwbx4fc_.! ';
for (let i = 0; i < 1000; ++i) {
  let s = '[';
  const n = 1 + Math.floor(rand() * 5);
  for (let j = 0; j < n; ++j) s += pick(classChars);
  random.push(s + ']');
}
for (let i = 0; i < 500; ++i) {
  const num = () => String(Math.floor(rand() * (rand() < 0.7 ? 10 : 200)));
  const q = [
    '{' + num() + '}', '{' + num() + ',}', '{' + num() + ',' + num() + '}', '{,' + num() + '}',
  ];
  const target = pick(['a', '(a)', '[a]', '\\d', '^', '(?=a)', '(?<=a)', '', '|']);
  random.push(target + pick(q) + pick(['', '?', '*', '{1}']));
}
// Nesting.
for (let i = 0; i < 500; ++i) {
  let s = '';
  const n = 1 + Math.floor(rand() * 10);
  const parts = ['(', '(?:', '(?=', '(?<=', ')', ')', 'a', '|', '*', '[a]'];
  for (let j = 0; j < n; ++j) s += pick(parts);
  random.push(s);
}

const seen = new Set();
const lines = [
  '# Generated by scripts/gen-regex-format-cases.js with Node ' + process.version +
      ' (new RegExp(s), no flags). Do not edit.',
];
let valid = 0, invalid = 0;
for (const s of tricky.concat(random)) {
  if (seen.has(s)) continue;
  seen.add(s);
  let ok = true;
  try {
    new RegExp(s);
  } catch (e) {
    ok = false;
  }
  ok ? ++valid : ++invalid;
  lines.push((ok ? 'valid' : 'invalid') + '\t' + JSON.stringify(s));
}
const out = path.join(__dirname, '..', 'tests', 'data', 'regex_format_cases.txt');
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`${out}: ${valid} valid, ${invalid} invalid`);
