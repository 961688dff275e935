// `sieve compile` and `sieve validate`: JSON Schemas from the command line.
//
// compile converts a schema to a grammar, compiles the automaton and (with --tokenizer) the
// token-mask cache, and reports sizes, times and every keyword the grammar does not enforce
// exactly, each with its JSON pointer; --json prints the same as one JSON object with stable keys.
// validate checks documents against the schema through the grammar (json_schema_locate.h) and names
// the schema location of each rejection.
//
// Both also take an OpenAI request (--response-format / --tools, cli_request_options.h) instead of
// a schema: compile reports its grammar the same way (notes point into the request and name the
// file's line:column), validate checks documents against its response_format schema.
//
// These commands use the engine's C++ API directly (like sieve-make-model): the C API has no JSON
// Schema entry point yet, and the schema location of a rejection needs the converter's rule map.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/grammar_printer.h"
#include "grammar/json_schema.h"
#include "grammar/json_schema_locate.h"
#include "grammar/mask_cache.h"
#include "grammar/support/utf8.h"
#include "grammar/thread_pool.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/tokenizer.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "tools/cli_request_options.h"
#include "tools/cli_schema_options.h"

namespace sieve_cli {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

constexpr const char kCompileHelp[] =
    R"(Usage: sieve compile --schema FILE [--tokenizer DIR] [--json] [SCHEMA OPTIONS]
       sieve compile (--response-format FILE | --tools FILE [--tool-choice C]) [--tokenizer DIR]
                     [--json] [SCHEMA OPTIONS except --strict]

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
  --threads N          threads building the mask cache (default: every core; same result)
  --json               print one JSON object (stable keys) instead of the text report
  --print              print the generated grammar (EBNF, before simplification) and stop
OpenAI requests (instead of --schema):
)";

constexpr const char kCompileExits[] =
    R"(
Defaults here are what a model should generate: compact whitespace, properties in schema order.
Exit codes: 0 ok, 1 failure (tokenizer cannot be loaded), 2 usage error (no source or two sources,
an unreadable file), 3 the schema or request is invalid or unsupported (the message names the JSON
pointer, and for requests the file's line:column).
)";

constexpr const char kValidateHelp[] =
    R"(Usage: sieve validate --schema FILE [--jsonl] [SCHEMA OPTIONS] DOC... | -
       sieve validate --response-format FILE [--jsonl] [SCHEMA OPTIONS except --strict] DOC... | -

Checks JSON documents against a schema through its grammar (what a constrained model could emit)
and prints one line per document:
  DOC: accepted
  DOC: rejected at byte N (schema location /json/pointer): what was found
N is the offset of the first byte no valid document can have there (the document's length when it
ends too early); the schema location is the innermost subschema being matched at that byte (where
anyOf/oneOf branches all fail, the subschema holding them). Where the grammar there accepts fewer
documents than the schema (a narrowing of the compile report, e.g. a large object's properties in
schema order), the line ends with (narrowed at POINTER: why), as the document may still be valid.
Whitespace before and after the top-level value is allowed. Numbers follow JSON Schema's data
model: 1.0 and -3.00 are integers (generated integers are plain digits; exponent forms such as 1e1
are not taken as integers).

  --schema FILE        the schema
  --response-format FILE
                       instead of --schema: an OpenAI response_format (json_schema or json_object)
                       or a request holding one; its `strict` flag decides strict semantics (and
                       OpenAI's strict rules are checked); locations are pointers into the request
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
  if (o.semantics == sieve::JsonSchemaSemantics::kStrict) return "strict";
  return o.closed_by_default ? "standard closed" : "standard";
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
  bool is_request = false;  // --response-format / --tools: `request` holds it
  RequestInput request;
};

// Parses the shared flags and reads the one source (--schema, --response-format or --tools);
// returns an exit code, or -1 to go on.
int LoadSchema(const std::string& command, const ArgParser& args,
               sieve::JsonWhitespace default_whitespace, sieve::JsonPropertyOrder default_order,
               SchemaInput* in) {
  const int sources = args.Has("schema") + CountRequestSources(args);
  if (sources == 0) {
    return UsageError(command, command == "compile"
                                   ? "--schema FILE is required (or --response-format FILE or "
                                     "--tools FILE)"
                                   : "--schema FILE is required (or --response-format FILE)");
  }
  if (sources > 1) {
    return UsageError(command, command == "compile"
                                   ? "give exactly one of --schema, --response-format or --tools"
                                   : "give exactly one of --schema or --response-format");
  }
  std::string err;
  if (!ParseSchemaOptions(args, default_whitespace, default_order, &in->opts, &err)) {
    return UsageError(command, err);
  }
  if (!args.Has("schema")) {
    if (args.Has("strict")) {
      const std::string flag = args.Has("tools") ? "--tools" : "--response-format";
      return UsageError(command, "--strict is not taken with " + flag +
                                     ": strict mode follows the request (json_schema.strict, "
                                     "function.strict)");
    }
    in->is_request = true;
    if (int rc = LoadRequest(command, args, &in->request); rc >= 0) return rc;
    in->path = in->request.path;
    in->text = in->request.request;
    return -1;
  }
  if (args.Has("tool-choice")) return UsageError(command, "--tool-choice needs --tools");
  auto path = args.Get("schema");
  in->path = *path;
  if (!ReadFile(*path, &in->text, &err)) {
    std::cerr << "sieve " << command << ": " << err << "\n";
    return kExitUsage;
  }
  return -1;
}

void WriteOptions(rapidjson::Writer<rapidjson::StringBuffer>& w, const sieve::JsonSchemaOptions& o,
                  bool request = false) {
  w.Key("options");
  w.StartObject();
  w.Key("semantics");
  w.String(request ? "request" : SemanticsName(o));  // a request sets strict per schema
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
    if (in.is_request) {
      std::cerr << DescribeRequestError(in.request, st) << "\n";
    } else {
      std::cerr << in.path << ": " << DescribeSchemaError(st, in.text) << "\n";
    }
    return kExitInvalidSpec;
  }
  sieve::Status s = st;
  if (in.is_request) {  // positions in the file, found from the pointer
    const FileLocation loc = LocateRequestPointer(in.request, s.json_pointer());
    s = sieve::Status(s.code(), s.message()).WithPointer(s.json_pointer());
    if (loc.offset >= 0) s.WithOffset(loc.offset).WithLineColumn(loc.line, loc.column);
  } else if (s.offset() >= 0 && s.line() == 0) {
    s = sieve::WithLineColumnFromOffset(s, in.text);
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key(in.is_request ? "request" : "schema");
  w.String(in.path.c_str());
  w.Key("ok");
  w.Bool(false);
  WriteOptions(w, in.opts, in.is_request);
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
  int threads = 1;
};

int CompileMain(int argc, char** argv) {
  std::vector<std::string> value_flags = {"schema", "tokenizer", "threads"};
  std::vector<std::string> bool_flags = {"json", "print", "help"};
  value_flags.insert(value_flags.end(), SchemaValueFlags().begin(), SchemaValueFlags().end());
  value_flags.insert(value_flags.end(), RequestValueFlags().begin(), RequestValueFlags().end());
  bool_flags.insert(bool_flags.end(), SchemaBoolFlags().begin(), SchemaBoolFlags().end());
  ArgParser args(value_flags, bool_flags);
  if (!args.Parse(argc, argv, 2)) return UsageError("compile", args.error());
  if (args.Has("help")) {
    std::cout << kCompileHelp << kRequestOptionsHelp << kSchemaOptionsHelp << kCompileExits;
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
  // Threads for the mask cache: all cores unless told (the result does not depend on the count).
  int threads = 0, rc = 0;
  if (!ParseCountFlag(args, "compile", "threads",
                      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 64u)),
                      1024, &threads, &rc)) {
    return rc;
  }

  auto t0 = Clock::now();
  sieve::Grammar grammar;
  sieve::JsonSchemaStats schema_stats;
  sieve::JsonSchemaReport report;
  std::string summary;  // of a request: "2 tools (hermes), tool_choice required, one call"
  if (in.is_request) {
    auto r = ConvertRequest(in.request, in.opts);
    if (!r.ok()) return CompileError(in, r.status(), json);
    grammar = std::move(r->tag.grammar);
    report = std::move(r->tag.report);
    summary = r->summary;
    schema_stats.rules = static_cast<int32_t>(grammar.num_rules());
  } else {
    auto converted = sieve::JsonSchemaToGrammar(in.text, in.opts);
    if (!converted.ok()) return CompileError(in, converted.status(), json);
    grammar = std::move(converted->grammar);
    schema_stats = converted->stats;
    report = converted->report;
  }
  const double convert_ms = MsSince(t0);
  if (args.Has("print")) {
    std::cout << sieve::PrintEbnf(grammar);
    return kExitOk;
  }
  auto compiled = sieve::CompileGrammarIr(std::move(grammar), {});
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
    sieve::TokenMaskCache::PrepareTokenizerInfo(**info);
    m.load_ms = MsSince(t1);
    m.vocab_size = vocab->size();
    if (progress) {
      std::cerr << "building the token-mask cache (" << gs.states << " states x " << m.vocab_size
                << " tokens) ...\n";
    }
    std::unique_ptr<sieve::ThreadPool> pool =
        threads > 1 ? std::make_unique<sieve::ThreadPool>(threads) : nullptr;
    auto cache = sieve::TokenMaskCache::Build(compiled->pda, *info, sieve::MaskCacheOptions(),
                                              pool.get());
    m.threads = threads;
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
    w.Key(in.is_request ? "request" : "schema");
    w.String(in.path.c_str());
    if (in.is_request) {
      w.Key("summary");
      w.String(summary.c_str());
    }
    w.Key("ok");
    w.Bool(true);
    WriteOptions(w, in.opts, in.is_request);
    w.Key("subschemas");
    if (in.is_request) {
      w.Null();
    } else {
      w.Int(schema_stats.subschemas);
    }
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
      w.Key("shared_states");
      w.Int(mask->stats.shared_states);
      w.Key("threads");
      w.Int(mask->threads);
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
      if (in.is_request) {  // where the pointer lies in the file
        const FileLocation loc = LocateRequestPointer(in.request, n.pointer);
        w.Key("line");
        w.Int(loc.line);
        w.Key("column");
        w.Int(loc.column);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    std::cout << buf.GetString() << "\n";
    return kExitOk;
  }

  if (in.is_request) {
    std::cout << in.path << ": ok (" << summary << "; strictness per schema as the request says, "
              << "whitespace " << WhitespaceName(in.opts) << ", properties in "
              << OrderName(in.opts) << " order, unsupported keywords: " << UnsupportedName(in.opts)
              << ")\n";
  } else {
    std::cout << in.path << ": ok (" << SemanticsName(in.opts) << " semantics, whitespace "
              << WhitespaceName(in.opts) << ", properties in " << OrderName(in.opts)
              << " order, unsupported keywords: " << UnsupportedName(in.opts) << ")\n"
              << "subschemas:     " << schema_stats.subschemas << "\n";
  }
  std::cout
            << "rules:          " << schema_stats.rules << " in the grammar, " << gs.live_rules
            << " in the automaton (" << gs.counted_rules << " counted repetitions)\n"
            << "states:         " << gs.states << " after merging (" << gs.dfa_states << " before, "
            << gs.nfa_states << " NFA)\n"
            << "grammar bytes:  " << pda.MemorySize() << "\n";
  if (mask) {
    std::cout << "mask cache:     " << mask->bytes << " bytes, " << mask->stats.cached_states
              << " of " << mask->stats.states << " states cached, " << mask->stats.uncertain_tokens
              << " uncertain tokens (" << mask->vocab_size << " ids); " << mask->stats.shared_states
              << " states shared short-token answers; built on " << mask->threads << " thread"
              << (mask->threads == 1 ? "" : "s") << "\n";
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
                << (n.pointer.empty() ? "\"\"" : n.pointer);
      if (in.is_request) {
        const FileLocation loc = LocateRequestPointer(in.request, n.pointer);
        if (loc.line > 0) {
          std::cout << " (" << in.path << ":" << loc.line << ":" << loc.column << ")";
        }
      }
      std::cout << ": " << n.message << "\n";
    }
  }
  return kExitOk;
}

// ---- validate ----

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Prints the verdict line for one document; returns whether it was accepted.
bool ValidateOne(const sieve::JsonSchemaValidator& v, const std::string& label,
                 std::string_view doc, const std::string& prefix) {
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
            << PointerText(prefix + r.location) << "): ";
  if (value.empty()) {
    std::cout << "the document is empty\n";
  } else if (r.ended_early) {
    std::cout << "the document ends before the value is complete\n";
  } else if (r.limit_hit) {
    std::cout << "nested deeper than the matcher's stack limit\n";
  } else if (r.repeated_item) {
    std::cout << "found '" << sieve::EscapeBytes(value.substr(r.byte, 1))
              << "', which ends an item equal to an earlier one\n";
  } else if (r.repeated_key) {
    std::cout << "found '" << sieve::EscapeBytes(value.substr(r.byte, 1))
              << "', which ends a key the object already has\n";
  } else {
    std::cout << "found '" << sieve::EscapeBytes(value.substr(r.byte, 1)) << "'";
    // Where the grammar accepts fewer documents than the schema (a reported narrowing, such as
    // schema order for a large object in any order), say so: the document may be valid.
    for (const sieve::JsonSchemaNote& n : v.report().notes) {
      if (n.kind != sieve::JsonSchemaNote::Kind::kNarrowed) continue;
      // The note names a keyword (".../properties") or a subschema; the rejection a subschema:
      // the one holding the keyword, or one inside the note's.
      const size_t slash = n.pointer.rfind('/');
      const bool inside =
          r.location == n.pointer ||
          (slash != std::string::npos && r.location == n.pointer.substr(0, slash)) ||
          (r.location.size() > n.pointer.size() &&
           r.location.compare(0, n.pointer.size(), n.pointer) == 0 &&
           r.location[n.pointer.size()] == '/');
      if (inside) {
        std::cout << " (narrowed at " << PointerText(prefix + n.pointer) << ": " << n.message
                  << ")";
        break;
      }
    }
    std::cout << "\n";
  }
  return false;
}

int ValidateMain(int argc, char** argv) {
  std::vector<std::string> value_flags = {"schema", "response-format"};
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
  // A validator follows JSON Schema's data model, where 1.0 is an integer.
  in.opts.integer_allows_zero_fraction = true;
  std::string prefix;  // a request: locations are pointers into it
  if (in.is_request) {
    auto rs = ResponseSchemaOf(in.request);
    if (!rs.ok()) {
      std::cerr << DescribeRequestError(in.request, rs.status()) << "\n";
      return kExitInvalidSpec;
    }
    prefix = rs->pointer;
    in.text = rs->schema;
    if (rs->strict) {
      in.opts.semantics = sieve::JsonSchemaSemantics::kStrict;
      if (!args.Has("any-order")) in.opts.property_order = sieve::JsonPropertyOrder::kSchema;
    }
  }
  auto validator = sieve::JsonSchemaValidator::Create(in.text, in.opts);
  if (!validator.ok()) {
    if (in.is_request) {
      sieve::Status st = validator.status();
      st = sieve::Status(st.code(), st.message()).WithPointer(prefix + st.json_pointer());
      std::cerr << DescribeRequestError(in.request, st) << "\n";
    } else {
      std::cerr << in.path << ": " << DescribeSchemaError(validator.status(), in.text) << "\n";
    }
    return kExitInvalidSpec;
  }
  for (const sieve::JsonSchemaNote& n : validator->report().notes) {
    if (n.kind != sieve::JsonSchemaNote::Kind::kIgnored &&
        n.kind != sieve::JsonSchemaNote::Kind::kLoosened) {
      continue;
    }
    std::cerr << in.path << ": warning: not enforced: " << sieve::JsonSchemaNoteKindName(n.kind)
              << " " << ((prefix + n.pointer).empty() ? "\"\"" : prefix + n.pointer) << ": "
              << n.message << "\n";
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
      all_accepted &= ValidateOne(*validator, label, text, prefix);
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
      all_accepted &= ValidateOne(*validator, label + ":" + std::to_string(line_no), line, prefix);
    }
  }
  if (unreadable) return kExitUsage;
  return all_accepted ? kExitOk : kExitRejected;
}

}  // namespace

int RunCompile(int argc, char** argv) { return CompileMain(argc, argv); }
int RunValidate(int argc, char** argv) { return ValidateMain(argc, argv); }

}  // namespace sieve_cli
