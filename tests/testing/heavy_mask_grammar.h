// A grammar that compiles in milliseconds but whose token-mask cache takes seconds with a 128k
// vocabulary (16 ms / 2.2 s CPU with Llama-3 on the dev machine, 7,812 states): many distinct
// string-valued fields, each value a chain of character classes that the automaton keeps as
// separate byte-reading states. The compile-deadline tests give it a budget of a few ms. Header
// only, standard library only (the C API tests use it too).
#ifndef SIEVE_TESTS_TESTING_HEAVY_MASK_GRAMMAR_H_
#define SIEVE_TESTS_TESTING_HEAVY_MASK_GRAMMAR_H_

#include <string>

namespace sieve::testing {

inline std::string HeavyMaskGrammar() {
  constexpr int kFields = 120;
  std::string text = "root ::= \"{\" field0";
  for (int i = 1; i < kFields; ++i) text += " \",\" field" + std::to_string(i);
  text += " \"}\"\n";
  for (int i = 0; i < kFields; ++i) {
    const std::string n = std::to_string(i);
    const std::string last(1, static_cast<char>('b' + i % 24));
    text += "field" + n + " ::= \"\\\"k" + n + "\\\": \\\"\" [a-z]{2,4} [0-9]? [A-Z]{0,3} \"-\" [a-" +
            last + "]{1,6} [^\"]{0,5} \"\\\"\"\n";
  }
  return text;
}

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_TESTING_HEAVY_MASK_GRAMMAR_H_
