// `sieve compile` and `sieve validate`: JSON Schemas from the command line.
//
// compile converts a schema to a grammar, compiles the automaton and (with --tokenizer) the
// token-mask cache, and reports sizes, times and every keyword the grammar does not enforce
// exactly, each with its JSON pointer; --json prints the same as one JSON object with stable keys.
// validate checks documents against the schema through the grammar (json_schema_locate.h) and names
// the schema location of each rejection.
//
// These commands use the engine's C++ API directly (like sieve-make-model): the C API has no JSON
// Schema entry point yet, and the schema location of a rejection needs the converter's rule map.
#include <unistd.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/grammar_printer.h"
#include "grammar/json_schema.h"
#include "grammar/json_schema_locate.h"
#include "grammar/mask_cache.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/tokenizer.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "tools/cli_schema_options.h"

namespace sieve_cli {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

constexpr const char kCompileHelp[] =
    R"(Usage: sieve compile --schema FILE [--tokenizer DIR] [--json] [SCHEMA OPTIONS]

Converts a JSON Schema (drafts 4, 6, 7, 2019-09, 2020-12) into a grammar and compiles its pushdown
automaton; with --tokenizer it also builds the token-mask cache for that vocabulary. Prints the
subschemas, rules, states, memory, the time of each stage, and every keyword the grammar does not
enforce exactly, with its JSON pointer:
  ignored   not enforced at all (only with --unsupported ignore)
  loosened  enforced partially: the grammar accepts more than the schema (--unsupported ignore)
  narrowed  the grammar accepts fewer documents than the schema (always safe)
  info      an unknown keyword read as an annotation

  --schema FILE        the schema ("-" reads stdin)
  --tokenizer DIR      tokenizer.json or a folder holding it: also build the mask cache
  --json               print one JSON object (stable keys) instead of the text report
  --print              print the generated grammar (EBNF, before simplification) and stop
)";

constexpr const char kCompileExits[] =
    R"(
Defaults here are what a model should generate: compact whitespace, properties in schema order.
Exit codes: 0 ok, 1 failure (tokenizer cannot be loaded), 2 usage error, 3 the schema is invalid or
unsupported (the message names the JSON pointer).
)";

constexpr const char kValidateHelp[] =
    R"(Usage: sieve validate --schema FILE [--jsonl] [SCHEMA OPTIONS] DOC... | -

Checks JSON documents against a schema through its grammar (what a constrained model could emit)
and prints one line per document:
  DOC: accepted
  DOC: rejected at byte N (schema location /json/pointer): what was found
N is the offset of the first byte no valid document can have there (the document's length when it
ends too early); the schema location is the innermost subschema being matched at that byte (where
anyOf/oneOf branches all fail, the subschema holding them). Whitespace before and after the
top-level value is allowed.

  --schema FILE        the schema
  --jsonl              every non-empty line of each DOC is a document, labelled DOC:LINE
  DOC                  files to check; "-" reads stdin
)";

constexpr const char kValidateExits[] =
    R"(
Defaults here suit documents written by anyone: any whitespace, properties in any order (schema
order with --strict).
With --unsupported ignore, keywords the grammar cannot enforce are listed on stderr: documents
that violate only those are accepted.
Exit codes: 0 all accepted, 1 some rejected, 2 usage error (or a DOC cannot be read), 3 the schema
is invalid or unsupported (the message names the JSON pointer).
)";

const char* SemanticsName(const sieve::JsonSchemaOptions& o) {
  return o.semantics == sieve::JsonSchemaSemantics::kStrict ? "strict" : "standard";
}
const char* OrderName(const sieve::JsonSchemaOptions& o) {
  if (o.property_order == sieve::JsonPropertyOrder::kAny) return "any";
  if (o.property_order == sieve::JsonPropertyOrder::kSchema) return "schema";
  return o.semantics == sieve::JsonSchemaSemantics::kStrict ? "schema" : "any";
}
const char* UnsupportedName(const sieve::JsonSchemaOptions& o) {
  return o.unsupported == sieve::UnsupportedPolicy::kIgnore ? "ignore" : "error";
}

std::string PointerText(const std::string& p) { return p.empty() ? "\"\" (the root)" : p; }

// One line for a schema that cannot be converted: code, position, JSON pointer, message.
std::string DescribeSchemaError(sieve::Status st, std::string_view text) {
  if (st.offset() >= 0 && st.line() == 0) st = sieve::WithLineColumnFromOffset(st, text);
  std::string out = sieve::StatusCodeName(st.code());
  if (st.line() > 0) {
    out += " at " + std::to_string(st.line()) + ":" + std::to_string(st.column());
  } else if (st.offset() >= 0) {
    out += " at byte " + std::to_string(st.offset());
  }
  if (st.code() != sieve::StatusCode::kParse || !st.json_pointer().empty()) {
    out += " (schema location " + PointerText(st.json_pointer()) + ")";
  }
  return out + ": " + st.message();
}

struct SchemaInput {
  std::string path;
  std::string text;
  sieve::JsonSchemaOptions opts;
};

// Parses the shared flags and reads --schema; returns an exit code, or -1 to go on.
int LoadSchema(const std::string& command, const ArgParser& args,
               sieve::JsonWhitespace default_whitespace, sieve::JsonPropertyOrder default_order,
               SchemaInput* in) {
  auto path = args.Get("schema");
  if (!path) return UsageError(command, "--schema FILE is required");
  std::string err;
  if (!ParseSchemaOptions(args, default_whitespace, default_order, &in->opts, &err)) {
    return UsageError(command, err);
  }
  in->path = *path;
  if (!ReadFile(*path, &in->text, &err)) {
    std::cerr << "sieve " << command << ": " << err << "\n";
    return kExitUsage;
  }
  return -1;
}

void WriteOptions(rapidjson::Writer<rapidjson::StringBuffer>& w,
                  const sieve::JsonSchemaOptions& o) {
  w.Key("options");
  w.StartObject();
  w.Key("semantics");
  w.String(SemanticsName(o));
  w.Key("whitespace");
  w.String(WhitespaceName(o).c_str());
  w.Key("property_order");
  w.String(OrderName(o));
  w.Key("unsupported");
  w.String(UnsupportedName(o));
  w.EndObject();
}

int CompileError(const SchemaInput& in, const sieve::Status& st, bool json) {
  if (!json) {
    std::cerr << in.path << ": " << DescribeSchemaError(st, in.text) << "\n";
    return kExitInvalidSpec;
  }
  sieve::Status s = st;
  if (s.offset() >= 0 && s.line() == 0) s = sieve::WithLineColumnFromOffset(s, in.text);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("schema");
  w.String(in.path.c_str());
  w.Key("ok");
  w.Bool(false);
  WriteOptions(w, in.opts);
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(sieve::StatusCodeName(s.code()));
  w.Key("pointer");
  w.String(s.json_pointer().c_str());
  w.Key("offset");
  if (s.offset() >= 0) {
    w.Int64(s.offset());
  } else {
    w.Null();
  }
  w.Key("line");
  w.Int(s.line());
  w.Key("column");
  w.Int(s.column());
  w.Key("message");
  w.String(s.message().c_str());
  w.EndObject();
  w.EndObject();
  std::cout << buf.GetString() << "\n";
  return kExitInvalidSpec;
}

struct MaskCacheResult {
  std::string tokenizer;
  size_t vocab_size = 0;
  double load_ms = 0;  // tokenizer + token trie: per vocabulary, shared by every grammar
  sieve::MaskCacheStats stats;
  size_t bytes = 0;
};

int CompileMain(int argc, char** argv) {
  std::vector<std::string> value_flags = {"schema", "tokenizer"};
  std::vector<std::string> bool_flags = {"json", "print", "help"};
  value_flags.insert(value_flags.end(), SchemaValueFlags().begin(), SchemaValueFlags().end());
  bool_flags.insert(bool_flags.end(), SchemaBoolFlags().begin(), SchemaBoolFlags().end());
  ArgParser args(value_flags, bool_flags);
  if (!args.Parse(argc, argv, 2)) return UsageError("compile", args.error());
  if (args.Has("help")) {
    std::cout << kCompileHelp << kSchemaOptionsHelp << kCompileExits;
    return kExitOk;
  }
  if (!args.positionals().empty()) {
    return UsageError("compile", "unexpected argument '" + args.positionals()[0] + "'");
  }
  SchemaInput in;
  if (int rc = LoadSchema("compile", args, sieve::JsonWhitespace::kCompact,
                          sieve::JsonPropertyOrder::kSchema, &in);
      rc >= 0) {
    return rc;
  }
  const bool json = args.Has("json");

  auto t0 = Clock::now();
  auto converted = sieve::JsonSchemaToGrammar(in.text, in.opts);
  if (!converted.ok()) return CompileError(in, converted.status(), json);
  const double convert_ms = MsSince(t0);
  if (args.Has("print")) {
    std::cout << sieve::PrintEbnf(converted->grammar);
    return kExitOk;
  }
  const sieve::JsonSchemaStats schema_stats = converted->stats;
  const sieve::JsonSchemaReport report = converted->report;
  auto compiled = sieve::CompileGrammarIr(std::move(converted->grammar), {});
  if (!compiled.ok()) return CompileError(in, compiled.status(), json);
  const sieve::CompiledGrammar& pda = *compiled->pda;
  const sieve::GrammarStats& gs = pda.stats();

  std::optional<MaskCacheResult> mask;
  if (auto dir = args.Get("tokenizer")) {
    MaskCacheResult m;
    m.tokenizer = *dir;
    // Progress on a terminal only (scripts and --json get clean output): large schemas take
    // seconds.
    const bool progress = isatty(STDERR_FILENO) != 0;
    if (progress) std::cerr << "loading tokenizer " << *dir << " ...\n";
    auto t1 = Clock::now();
    auto tok = sieve::Tokenizer::Load(*dir);
    if (!tok.ok()) {
      std::cerr << "sieve compile: cannot load tokenizer: " << tok.status().ToString() << "\n";
      return kExitFailure;
    }
    auto vocab = std::make_shared<const sieve::Vocabulary>((*tok)->vocabulary());
    auto info = sieve::TokenizerInfo::Build(vocab);
    if (!info.ok()) {
      std::cerr << "sieve compile: " << info.status().ToString() << "\n";
      return kExitFailure;
    }
    m.load_ms = MsSince(t1);
    m.vocab_size = vocab->size();
    if (progress) {
      std::cerr << "building the token-mask cache (" << gs.states << " states x " << m.vocab_size
                << " tokens) ...\n";
    }
    auto cache = sieve::TokenMaskCache::Build(compiled->pda, *info);
    if (!cache.ok()) return CompileError(in, cache.status(), json);
    m.stats = (*cache)->stats();
    m.bytes = (*cache)->MemorySize();
    mask = m;
  }
  const double automaton_ms = gs.compile_ms;
  const double total_ms =
      convert_ms + compiled->simplify_ms + automaton_ms + (mask ? mask->stats.build_ms : 0.0);

  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.SetMaxDecimalPlaces(3);
    w.StartObject();
    w.Key("schema");
    w.String(in.path.c_str());
    w.Key("ok");
    w.Bool(true);
    WriteOptions(w, in.opts);
    w.Key("subschemas");
    w.Int(schema_stats.subschemas);
    w.Key("rules");
    w.Int(schema_stats.rules);
    w.Key("automaton_rules");
    w.Int(gs.live_rules);
    w.Key("counted_rules");
    w.Int(gs.counted_rules);
    w.Key("states");
    w.Int64(gs.states);
    w.Key("grammar_bytes");
    w.Uint64(pda.MemorySize());
    w.Key("mask_cache");
    if (mask) {
      w.StartObject();
      w.Key("tokenizer");
      w.String(mask->tokenizer.c_str());
      w.Key("vocab_size");
      w.Uint64(mask->vocab_size);
      w.Key("bytes");
      w.Uint64(mask->bytes);
      w.Key("states");
      w.Int(mask->stats.states);
      w.Key("cached_states");
      w.Int(mask->stats.cached_states);
      w.Key("uncertain_tokens");
      w.Int64(mask->stats.uncertain_tokens);
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("time_ms");
    w.StartObject();
    w.Key("convert");
    w.Double(convert_ms);
    w.Key("simplify");
    w.Double(compiled->simplify_ms);
    w.Key("automaton");
    w.Double(automaton_ms);
    w.Key("mask_cache");
    if (mask) {
      w.Double(mask->stats.build_ms);
    } else {
      w.Null();
    }
    w.Key("total");
    w.Double(total_ms);
    w.Key("tokenizer_load");
    if (mask) {
      w.Double(mask->load_ms);
    } else {
      w.Null();
    }
    w.EndObject();
    w.Key("loosened");
    w.Bool(report.loosened());
    w.Key("notes");
    w.StartArray();
    for (const sieve::JsonSchemaNote& n : report.notes) {
      w.StartObject();
      w.Key("kind");
      w.String(sieve::JsonSchemaNoteKindName(n.kind));
      w.Key("pointer");
      w.String(n.pointer.c_str());
      w.Key("keyword");
      w.String(n.keyword.c_str());
      w.Key("message");
      w.String(n.message.c_str());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    std::cout << buf.GetString() << "\n";
    return kExitOk;
  }

  std::cout << in.path << ": ok (" << SemanticsName(in.opts) << " semantics, whitespace "
            << WhitespaceName(in.opts) << ", properties in " << OrderName(in.opts)
            << " order, unsupported keywords: " << UnsupportedName(in.opts) << ")\n"
            << "subschemas:     " << schema_stats.subschemas << "\n"
            << "rules:          " << schema_stats.rules << " in the grammar, " << gs.live_rules
            << " in the automaton (" << gs.counted_rules << " counted repetitions)\n"
            << "states:         " << gs.states << " after merging (" << gs.dfa_states << " before, "
            << gs.nfa_states << " NFA)\n"
            << "grammar bytes:  " << pda.MemorySize() << "\n";
  if (mask) {
    std::cout << "mask cache:     " << mask->bytes << " bytes, " << mask->stats.cached_states
              << " of " << mask->stats.states << " states cached, " << mask->stats.uncertain_tokens
              << " uncertain tokens (" << mask->vocab_size << " ids)\n";
  } else {
    std::cout << "mask cache:     not built (give --tokenizer DIR)\n";
  }
  std::cout << std::fixed << std::setprecision(2);
  std::cout << "time:           " << total_ms << " ms (convert " << convert_ms << ", simplify "
            << compiled->simplify_ms << ", automaton " << automaton_ms;
  if (mask) std::cout << ", mask cache " << mask->stats.build_ms;
  std::cout << ")\n";
  if (mask) {
    std::cout << "                tokenizer and token trie: " << mask->load_ms
              << " ms, once per vocabulary (not counted)\n";
  }
  if (report.notes.empty()) {
    std::cout << "notes:          none: every keyword is enforced exactly\n";
  } else {
    std::cout << "notes:          " << report.notes.size()
              << (report.loosened() ? " (the grammar is LOOSER than the schema: see 'ignored' / "
                                      "'loosened')"
                                    : "")
              << "\n";
    for (const sieve::JsonSchemaNote& n : report.notes) {
      std::cout << "  " << sieve::JsonSchemaNoteKindName(n.kind) << " "
                << (n.pointer.empty() ? "\"\"" : n.pointer) << ": " << n.message << "\n";
    }
  }
  return kExitOk;
}

// ---- validate ----

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Prints the verdict line for one document; returns whether it was accepted.
bool ValidateOne(const sieve::JsonSchemaValidator& v, const std::string& label,
                 std::string_view doc) {
  size_t lead = 0;
  while (lead < doc.size() && IsJsonSpace(doc[lead])) ++lead;
  size_t end = doc.size();
  while (end > lead && IsJsonSpace(doc[end - 1])) --end;
  std::string_view value = doc.substr(lead, end - lead);
  sieve::JsonSchemaVerdict r = v.Validate(value);
  if (r.accepted) {
    std::cout << label << ": accepted\n";
    return true;
  }
  std::cout << label << ": rejected at byte " << lead + r.byte << " (schema location "
            << PointerText(r.location) << "): ";
  if (value.empty()) {
    std::cout << "the document is empty\n";
  } else if (r.ended_early) {
    std::cout << "the document ends before the value is complete\n";
  } else if (r.limit_hit) {
    std::cout << "nested deeper than the matcher's stack limit\n";
  } else {
    std::cout << "found '" << EscapeBytes(value.data() + r.byte, 1) << "'\n";
  }
  return false;
}

int ValidateMain(int argc, char** argv) {
  std::vector<std::string> value_flags = {"schema"};
  std::vector<std::string> bool_flags = {"jsonl", "help"};
  value_flags.insert(value_flags.end(), SchemaValueFlags().begin(), SchemaValueFlags().end());
  bool_flags.insert(bool_flags.end(), SchemaBoolFlags().begin(), SchemaBoolFlags().end());
  ArgParser args(value_flags, bool_flags);
  if (!args.Parse(argc, argv, 2)) return UsageError("validate", args.error());
  if (args.Has("help")) {
    std::cout << kValidateHelp << kSchemaOptionsHelp << kValidateExits;
    return kExitOk;
  }
  if (args.positionals().empty()) {
    return UsageError("validate", "give the documents to check (files, or - for stdin)");
  }
  SchemaInput in;
  if (int rc = LoadSchema("validate", args, sieve::JsonWhitespace::kAny,
                          sieve::JsonPropertyOrder::kDefault, &in);
      rc >= 0) {
    return rc;
  }
  auto validator = sieve::JsonSchemaValidator::Create(in.text, in.opts);
  if (!validator.ok()) {
    std::cerr << in.path << ": " << DescribeSchemaError(validator.status(), in.text) << "\n";
    return kExitInvalidSpec;
  }
  for (const sieve::JsonSchemaNote& n : validator->report().notes) {
    if (n.kind != sieve::JsonSchemaNote::Kind::kIgnored &&
        n.kind != sieve::JsonSchemaNote::Kind::kLoosened) {
      continue;
    }
    std::cerr << in.path << ": warning: not enforced: " << sieve::JsonSchemaNoteKindName(n.kind)
              << " " << (n.pointer.empty() ? "\"\"" : n.pointer) << ": " << n.message << "\n";
  }
  bool all_accepted = true, unreadable = false;
  for (const std::string& path : args.positionals()) {
    std::string text, err;
    if (!ReadFile(path, &text, &err)) {
      std::cerr << "sieve validate: " << err << "\n";
      unreadable = true;
      continue;
    }
    const std::string label = path == "-" ? "<stdin>" : path;
    if (!args.Has("jsonl")) {
      all_accepted &= ValidateOne(*validator, label, text);
      continue;
    }
    size_t line_no = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      ++line_no;
      std::string_view line(text.data() + pos, nl - pos);
      pos = nl + 1;
      bool blank = true;
      for (char c : line) blank &= IsJsonSpace(c);
      if (blank) continue;
      all_accepted &= ValidateOne(*validator, label + ":" + std::to_string(line_no), line);
    }
  }
  if (unreadable) return kExitUsage;
  return all_accepted ? kExitOk : kExitRejected;
}

}  // namespace

int RunCompile(int argc, char** argv) { return CompileMain(argc, argv); }
int RunValidate(int argc, char** argv) { return ValidateMain(argc, argv); }

}  // namespace sieve_cli
