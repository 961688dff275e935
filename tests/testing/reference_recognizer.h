// Reference recogniser: the test oracle for the grammar compiler and matcher. Simple and obviously
// right beats fast; never use it outside tests.
//
// It works on bytes, straight from the Grammar IR (nothing compiled): for an expression and a start
// position it computes the set of end positions, memoised per (expression, position), so it is
// polynomial, not exponential. Rules are memoised per (rule, position) in a table that only grows;
// a rule reached again at the same position while it is being evaluated (left recursion) reads the
// table's current value, and whole passes repeat until a pass changes nothing. That is Kleene
// iteration towards the least fixpoint, so left-recursive grammars are recognised correctly.
//
// Semantics:
//  - kCharClass consumes the UTF-8 encoding of one code point in its ranges; kBytes its bytes;
//  - a rule with a lookahead L matches text[p..e) only if text[e..] begins with a match of L (L is
//    not consumed; at the very end of the text, only a nullable L holds);
//  - ReferenceIsPrefix: the text is a byte prefix of some sentence. Running out of input in the
//    middle of a literal or of a character's encoding, or before an element, counts as "could be
//    continued" as long as the rest of the derivation can produce some finite string; a lookahead
//    whose text has not been generated yet is assumed satisfiable.
#ifndef SIEVE_TESTS_TESTING_REFERENCE_RECOGNIZER_H_
#define SIEVE_TESTS_TESTING_REFERENCE_RECOGNIZER_H_

#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace sieve {

// True if the whole input is a sentence of the root rule.
bool ReferenceMatch(const Grammar& g, std::string_view input);

// True if the input is a prefix (in bytes) of some sentence of the root rule; a sentence is also
// its own prefix.
bool ReferenceIsPrefix(const Grammar& g, std::string_view input);

// One line of a tests/data/grammars/NAME.{accept,reject}.txt file (format: README.md there).
struct TestSentence {
  std::string text;     // unescaped bytes
  bool prefix = false;  // reject files: the line began with '~' (a valid, incomplete prefix)
  int line = 0;         // 1-based line in the file
};

// Reads a sentence file. False (with *error naming the file and line) if the file cannot be read
// or a line has a malformed escape.
bool LoadSentences(const std::string& path, std::vector<TestSentence>* out, std::string* error);

}  // namespace sieve

#endif  // SIEVE_TESTS_TESTING_REFERENCE_RECOGNIZER_H_
