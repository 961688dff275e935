// `sieve grammar check|print` and `sieve match`: grammars from the command line.
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli_commands.h"
#include "tools/cli_common.h"

namespace sieve_cli {
namespace {

constexpr const char kGrammarHelp[] =
    R"(Usage: sieve grammar check FILE [--root NAME] [--ignore-lookahead] [--tokenizer DIR]
       sieve grammar print FILE [--root NAME] [--simplified]

check: parses and compiles an EBNF/GBNF grammar (llama.cpp GBNF and XGrammar EBNF are read
       unchanged); prints warnings (e.g. unused rules) and statistics: rules, automaton states before
       and after equivalent-state merging, memory, compile time. Errors name line:column. With
       --tokenizer it also builds the token-mask cache for that vocabulary and binds token
       references (<[id]>, <|name|>), which need one.
print: prints the grammar back as EBNF, as written or (--simplified) after inlining, literal fusion,
       dead-rule removal and left-recursion rewriting.

  --root NAME         the start rule (default: root)
  --ignore-lookahead  treat `(= ...)` lookahead assertions as hints instead of refusing those the
                      grammar does not imply (an implied one is compiled exactly either way)
  --simplified        print the simplified grammar

Exit codes: 0 ok, 2 usage error, 3 the grammar is invalid or unsupported.
)";

constexpr const char kMatchHelp[] =
    R"(Usage: sieve match (--grammar FILE | --regex PATTERN) [--root NAME] [--input FILE|-]
                   [--ignore-lookahead]

A regex has JSON Schema `pattern` semantics (unanchored unless written ^...$).
Checks that the whole input (the file, or stdin with "-" or no --input) is a complete sentence of the
grammar. Prints "accepted", or "rejected at byte N" (N = the first byte that cannot continue any
sentence; N = the input length when the input is a valid but incomplete prefix).

Exit codes: 0 accepted, 1 rejected, 2 usage error, 3 the grammar is invalid or unsupported.
)";

struct GrammarHandle {
  sieve_grammar* g = nullptr;
  ~GrammarHandle() { sieve_grammar_free(g); }
};
struct MatcherHandle {
  sieve_matcher* m = nullptr;
  ~MatcherHandle() { sieve_matcher_free(m); }
};

// Compiles `text` (EBNF, or a regex when `is_regex`); `name` labels messages. On failure prints the
// error and returns the exit code (else -1).
int CompileSource(const std::string& name, const std::string& text, bool is_regex,
                  const ArgParser& args, GrammarHandle* out, const sieve_vocab* vocab = nullptr) {
  sieve_grammar_options opts;
  sieve_grammar_options_init(&opts);
  opts.vocab = vocab;
  std::string root = args.Get("root").value_or("root");
  opts.root = root.c_str();
  opts.ignore_lookahead = args.Has("ignore-lookahead");
  sieve_status st = is_regex
                        ? sieve_grammar_compile_regex(text.data(), text.size(), &opts, &out->g)
                        : sieve_grammar_compile_ebnf(text.data(), text.size(), &opts, &out->g);
  if (st != SIEVE_OK) {
    std::cerr << name << ": " << sieve_last_error()->message << "\n";  // carries line:column
    return kExitInvalidSpec;
  }
  for (size_t i = 0; const char* w = sieve_grammar_warning(out->g, i); ++i) {
    std::cerr << name << ": warning: " << w << "\n";
  }
  return -1;
}

// Reads and compiles FILE; on failure prints the error and returns the exit code (else -1).
int CompileFile(const std::string& command, const std::string& path, const ArgParser& args,
                GrammarHandle* out, const sieve_vocab* vocab = nullptr) {
  std::string text, err;
  if (!ReadFile(path, &text, &err)) {
    std::cerr << "sieve " << command << ": " << err << "\n";
    return kExitUsage;
  }
  return CompileSource(path, text, /*is_regex=*/false, args, out, vocab);
}

int PrintStats(const std::string& name, const GrammarHandle& g) {
  sieve_grammar_stats st;
  st.struct_size = sizeof st;
  if (sieve_grammar_get_stats(g.g, &st) != SIEVE_OK) return ApiError("grammar", "stats", kExitFailure);
  std::cout << name << ": ok\n"
            << "rules:          " << st.rules << " as written, " << st.live_rules
            << " in the automaton (" << st.counted_rules << " counted repetitions)\n"
            << "states:         " << st.states << " after merging (" << st.dfa_states
            << " before, " << st.nfa_states << " NFA)\n"
            << "memory:         " << st.memory_bytes << " bytes\n"
            << "compile time:   " << st.compile_ms << " ms\n";
  return kExitOk;
}

int GrammarCheck(const ArgParser& args, const std::string& path) {
  struct VocabHandle {
    sieve_vocab* v = nullptr;
    ~VocabHandle() { sieve_vocab_free(v); }
  } vocab;
  if (auto dir = args.Get("tokenizer")) {
    if (sieve_vocab_create_from_file(dir->c_str(), &vocab.v) != SIEVE_OK) {
      std::cerr << "sieve grammar check: cannot load tokenizer: " << sieve_last_error()->message
                << "\n";
      return kExitFailure;
    }
  }
  GrammarHandle g;
  if (int rc = CompileFile("grammar check", path, args, &g, vocab.v); rc >= 0) return rc;
  return PrintStats(path, g);
}

int GrammarPrint(const ArgParser& args, const std::string& path) {
  GrammarHandle g;
  if (int rc = CompileFile("grammar print", path, args, &g); rc >= 0) return rc;
  size_t n = 0;
  int simplified = args.Has("simplified");
  sieve_grammar_print(g.g, simplified, nullptr, 0, &n);
  std::string text(n, '\0');
  if (sieve_grammar_print(g.g, simplified, text.data(), text.size(), &n) != SIEVE_OK) {
    return ApiError("grammar print", "print", kExitFailure);
  }
  std::cout << text;
  if (!text.empty() && text.back() != '\n') std::cout << '\n';
  return kExitOk;
}

constexpr const char kRegexHelp[] =
    R"(Usage: sieve regex check PATTERN

Compiles an ECMA-262-style regular expression with JSON Schema `pattern` semantics (unanchored unless
written ^...$) and prints automaton statistics. Lookaround and \b are exact (README "JSON Schema"
lists the few forms refused); backreferences are unsupported. Errors carry their byte offset.

Exit codes: 0 ok, 2 usage error, 3 the regex is invalid or unsupported.
)";

}  // namespace

int RunRegex(int argc, char** argv) {
  ArgParser args({}, {"help"});
  if (!args.Parse(argc, argv, 2)) return UsageError("regex", args.error());
  if (args.Has("help")) {
    std::cout << kRegexHelp;
    return kExitOk;
  }
  const auto& pos = args.positionals();
  if (pos.size() != 2 || pos[0] != "check") return UsageError("regex", "expected 'check PATTERN'");
  GrammarHandle g;
  if (int rc = CompileSource("regex", pos[1], /*is_regex=*/true, args, &g); rc >= 0) return rc;
  return PrintStats("regex", g);
}

int RunGrammar(int argc, char** argv) {
  ArgParser args({"root", "tokenizer"}, {"simplified", "ignore-lookahead", "help"});
  if (!args.Parse(argc, argv, 2)) return UsageError("grammar", args.error());
  if (args.Has("help")) {
    std::cout << kGrammarHelp;
    return kExitOk;
  }
  const auto& pos = args.positionals();
  if (pos.size() != 2 || (pos[0] != "check" && pos[0] != "print")) {
    return UsageError("grammar", "expected 'check FILE' or 'print FILE'");
  }
  return pos[0] == "check" ? GrammarCheck(args, pos[1]) : GrammarPrint(args, pos[1]);
}

int RunMatch(int argc, char** argv) {
  ArgParser args({"grammar", "regex", "root", "input"}, {"ignore-lookahead", "help"});
  if (!args.Parse(argc, argv, 2)) return UsageError("match", args.error());
  if (args.Has("help")) {
    std::cout << kMatchHelp;
    return kExitOk;
  }
  if (!args.positionals().empty()) return UsageError("match", "unexpected argument");
  auto grammar_path = args.Get("grammar");
  auto regex = args.Get("regex");
  if (!grammar_path == !regex) return UsageError("match", "give exactly one of --grammar or --regex");
  std::string input, err;
  if (!ReadFile(args.Get("input").value_or("-"), &input, &err)) {
    std::cerr << "sieve match: " << err << "\n";
    return kExitUsage;
  }
  GrammarHandle g;
  int rc = regex ? CompileSource("regex", *regex, /*is_regex=*/true, args, &g)
                 : CompileFile("match", *grammar_path, args, &g);
  if (rc >= 0) return rc;
  MatcherHandle m;
  sieve_matcher_options mo;
  sieve_matcher_options_init(&mo);
  mo.max_rollback_tokens = 1;
  if (sieve_matcher_create(g.g, &mo, &m.m) != SIEVE_OK) {
    return ApiError("match", "matcher", kExitFailure);
  }
  // Feed a byte at a time so that a rejection names its byte.
  for (size_t i = 0; i < input.size(); ++i) {
    sieve_status st = sieve_matcher_accept_string(m.m, input.data() + i, 1);
    if (st == SIEVE_REJECTED) {
      std::cout << "rejected at byte " << i;
      if (sieve_matcher_limit_hit(m.m)) {
        // Not a verdict on the input: say which limit, loudly.
        std::cout << " (the matcher's stack depth or closure limit was reached there, so the "
                     "input may still be a sentence)";
      }
      std::cout << "\n";
      return kExitRejected;
    }
    if (st != SIEVE_OK) return ApiError("match", "matcher", kExitFailure);
  }
  if (!sieve_matcher_can_terminate(m.m)) {
    std::cout << "rejected at byte " << input.size() << " (input ends before the grammar does)\n";
    return kExitRejected;
  }
  std::cout << "accepted\n";
  return kExitOk;
}

}  // namespace sieve_cli
