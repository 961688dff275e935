// `sieve generate`: constrained generation with sieve's own decoder, through the public C API
// (sieve_decoder.h) only.
//
// Without --json-lines, stdout holds exactly the generated text of the single output and nothing
// else; an output that stopped before its structure was complete is never printed as if it were:
// stdout stays empty (or, with --stream, what was streamed is declared incomplete on stderr) and
// the exit code is 1. Everything else (progress, metrics, notes) goes to stderr. The JSON Schema
// flags are parsed by the helper `compile` and `validate` share (cli_schema_options.h; the one
// internal header this command reads) and handed to the C API as sieve_json_schema_options. An
// OpenAI request (--response-format / --tools, cli_request_options.h, the other internal header)
// is converted to its grammar here and handed to the engine as EBNF.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sieve/sieve.h"
#include "sieve/sieve_decoder.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "grammar/grammar_printer.h"
#include "tools/cli_request_options.h"
#include "tools/cli_schema_options.h"

namespace sieve_cli {
namespace {

constexpr const char* kCmd = "generate";

void PrintGenerateHelp() {
  std::cout
      << "Usage: sieve generate [--model DIR] [--schema FILE | --grammar FILE | --regex RE |\n"
         "                      --response-format FILE | --tools FILE [--tool-choice C]]\n"
         "                      --prompt TEXT|- [options]\n\n"
         "Generates text that follows a JSON Schema, an EBNF/GBNF grammar or a regex, with "
         "sieve's\n"
         "DeepSeek-V2 decoder. Without --model it uses a small built-in model with RANDOM weights "
         "on\n"
         "the CPU: outputs follow the structure exactly but mean nothing. Point --model at a real\n"
         "DeepSeek-V2-Lite(-Chat) folder (config.json, *.safetensors, tokenizer.json) for real "
         "text\n"
         "(on the GPU when sieve was built with CUDA and a device is present).\n\n"
         "Structure (at most one; none = free text):\n"
         "  --schema FILE        JSON Schema (drafts 4 to 2020-12)\n"
         "  --grammar FILE       EBNF / GBNF grammar;  --root NAME  its start rule (default root)\n"
         "  --regex RE           regular expression (JSON Schema `pattern` semantics)\n"
      << kRequestOptionsHelp
      << "JSON Schema options (generate defaults to compact whitespace and schema order; with\n"
         "--response-format / --tools all but --strict apply):\n"
      << kSchemaOptionsHelp << "\n"
      << "Prompt:\n"
         "  --prompt TEXT|-      the prompt (- reads stdin)\n"
         "  --chat               render the prompt as a user message in the model's chat format\n"
         "  --system TEXT        a system message (implies --chat)\n"
         "Sampling:\n"
         "  --max-tokens N       default 256\n"
         "  --temperature T      default 1.0; 0 = greedy\n"
         "  --top-p P            default 1 (off)\n"
         "  --top-k K            default 0 (off)\n"
         "  --seed S             default 0; output i of --n uses seed S+i\n"
         "  --stop STR           stop string (output cut before it)\n"
         "  --no-jump-forward    sample every token, even where the grammar forces the text\n"
         "Run:\n"
         "  --n N                outputs, decoded as one batch (needs --json-lines when N > 1)\n"
         "  --json-lines         one JSON object per output on stdout\n"
         "  --stream             print the text as it is generated (single output)\n"
         "  --device D           auto (default) | cpu | gpu\n"
         "  --max-batch N        sequences decoded together (default min(n, 64))\n"
         "  --metrics            print the run's metrics as JSON on stderr\n"
         "  --quiet              no progress on stderr\n\n"
         "Exit codes: 0 every output completed its structure; 1 an output stopped first (max "
         "tokens;\n"
         "said on stderr) or the model failed to load/run; 2 usage; 3 the structure is invalid or\n"
         "unsupported.\n";
}

// JSON string literal; invalid UTF-8 bytes become U+FFFD.
std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    int n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (int k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 3) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
    }
    if (ok && n == 4) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  return out + "\"";
}

const char* FinishName(sieve_finish_reason f) {
  switch (f) {
    case SIEVE_FINISH_STOP:
      return "stop";
    case SIEVE_FINISH_GRAMMAR_END:
      return "grammar_end";
    case SIEVE_FINISH_STOP_STRING:
      return "stop_string";
    case SIEVE_FINISH_MAX_TOKENS:
      return "max_tokens";
    case SIEVE_FINISH_MAX_LENGTH:
      return "max_length";
    case SIEVE_FINISH_ERROR:
      return "error";
  }
  return "?";
}

std::string Bytes(double b) {
  char buf[32];
  if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  } else if (b >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024.0);
  }
  return buf;
}

struct ProgressState {
  bool tty = false;
  bool printed = false;
};

void OnLoadProgress(uint64_t done, uint64_t total, double rate, void* user) {
  auto* st = static_cast<ProgressState*>(user);
  const int width = 30;
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  if (!st->tty && done < total) return;  // a log gets the final line only
  std::string bar(static_cast<size_t>(frac * width + 0.5), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "%sloading weights [%s] %s / %s, %s/s", st->tty ? "\r" : "", bar.c_str(),
               Bytes(static_cast<double>(done)).c_str(), Bytes(static_cast<double>(total)).c_str(),
               Bytes(rate).c_str());
  if (done >= total) std::fprintf(stderr, "\n");
  st->printed = true;
}

struct StreamState {
  bool on = false;
};

void OnToken(int64_t, const char* piece, size_t len, int, void* user) {
  if (static_cast<StreamState*>(user)->on && len > 0) {
    std::fwrite(piece, 1, len, stdout);
    std::fflush(stdout);
  }
}

bool ParseInt(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  try {
    size_t pos = 0;
    const long long v = std::stoll(s, &pos);
    if (pos != s.size() || v < lo || v > hi) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

bool ParseFloat(const std::string& s, double* out) {
  try {
    size_t pos = 0;
    *out = std::stod(s, &pos);
    return pos == s.size();
  } catch (...) {
    return false;
  }
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  std::vector<std::string> value_flags = {
      "model",       "schema", "grammar", "root", "regex", "prompt", "system", "max-tokens",
      "temperature", "top-p",  "top-k",   "seed", "n",     "stop",   "device", "max-batch"};
  std::vector<std::string> bool_flags = {"help",    "json-lines", "chat",           "stream",
                                         "metrics", "quiet",      "no-jump-forward"};
  for (const std::string& f : SchemaValueFlags()) value_flags.push_back(f);
  for (const std::string& f : RequestValueFlags()) value_flags.push_back(f);
  for (const std::string& f : SchemaBoolFlags()) bool_flags.push_back(f);
  ArgParser args(value_flags, bool_flags);
  if (!args.Parse(argc, argv, 2)) return UsageError(kCmd, args.error());
  if (args.Has("help")) {
    PrintGenerateHelp();
    return kExitOk;
  }
  if (!args.positionals().empty()) {
    return UsageError(kCmd, "unexpected argument '" + args.positionals()[0] + "'");
  }
  const int n_structures =
      args.Has("schema") + args.Has("grammar") + args.Has("regex") + CountRequestSources(args);
  if (n_structures > 1) {
    return UsageError(
        kCmd, "give at most one of --schema, --grammar, --regex, --response-format, --tools");
  }
  const bool request_source = CountRequestSources(args) > 0;
  if (args.Has("tool-choice") && !args.Has("tools")) {
    return UsageError(kCmd, "--tool-choice needs --tools");
  }
  if (request_source && args.Has("strict")) {
    return UsageError(kCmd, "--strict is not taken with --response-format / --tools: strict mode "
                            "follows the request (json_schema.strict, function.strict)");
  }
  if (!args.Has("prompt")) return UsageError(kCmd, "--prompt is required (TEXT, or - for stdin)");
  if (args.Has("root") && !args.Has("grammar")) return UsageError(kCmd, "--root needs --grammar");

  int64_t max_tokens = 256, top_k = 0, n = 1, seed = 0, max_batch = 0;
  double temperature = 1.0, top_p = 1.0;
  if (auto v = args.Get("max-tokens"); v && !ParseInt(*v, 1, 1 << 20, &max_tokens)) {
    return UsageError(kCmd, "--max-tokens must be an integer in [1, 1048576], got '" + *v + "'");
  }
  if (auto v = args.Get("top-k"); v && !ParseInt(*v, 0, INT32_MAX, &top_k)) {
    return UsageError(kCmd, "--top-k must be an integer >= 0, got '" + *v + "'");
  }
  if (auto v = args.Get("n"); v && !ParseInt(*v, 1, 4096, &n)) {
    return UsageError(kCmd, "--n must be an integer in [1, 4096], got '" + *v + "'");
  }
  if (auto v = args.Get("seed"); v && !ParseInt(*v, 0, INT64_MAX, &seed)) {
    return UsageError(kCmd, "--seed must be an integer >= 0, got '" + *v + "'");
  }
  if (auto v = args.Get("max-batch"); v && !ParseInt(*v, 1, 4096, &max_batch)) {
    return UsageError(kCmd, "--max-batch must be an integer in [1, 4096], got '" + *v + "'");
  }
  if (auto v = args.Get("temperature");
      v && (!ParseFloat(*v, &temperature) || !(temperature >= 0) || temperature > 1e6)) {
    return UsageError(kCmd, "--temperature must be a number >= 0, got '" + *v + "'");
  }
  if (auto v = args.Get("top-p"); v && (!ParseFloat(*v, &top_p) || !(top_p > 0 && top_p <= 1))) {
    return UsageError(kCmd, "--top-p must be a number in (0, 1], got '" + *v + "'");
  }
  if (n > 1 && !args.Has("json-lines")) {
    return UsageError(kCmd, "--n > 1 needs --json-lines (stdout holds one output otherwise)");
  }
  if (args.Has("stream") && (n > 1 || args.Has("json-lines"))) {
    return UsageError(kCmd,
                      "--stream prints a single output as text; not with --n or --json-lines");
  }
  sieve_device device = SIEVE_DEVICE_AUTO;
  if (auto v = args.Get("device")) {
    if (*v == "cpu")
      device = SIEVE_DEVICE_CPU;
    else if (*v == "gpu")
      device = SIEVE_DEVICE_GPU;
    else if (*v != "auto")
      return UsageError(kCmd, "--device must be auto, cpu or gpu, got '" + *v + "'");
  }
  sieve::JsonSchemaOptions parsed;
  std::string schema_error;
  if (!ParseSchemaOptions(args, sieve::JsonWhitespace::kCompact, sieve::JsonPropertyOrder::kSchema,
                          &parsed, &schema_error)) {
    return UsageError(kCmd, schema_error);
  }
  sieve_json_schema_options json;
  sieve_json_schema_options_init(&json);
  json.strict = parsed.semantics == sieve::JsonSchemaSemantics::kStrict;
  json.max_whitespace_run = parsed.max_whitespace_run;
  json.item_separator = parsed.item_separator.c_str();  // (parsed outlives the engine's use)
  json.key_separator = parsed.key_separator.c_str();
  json.closed_by_default = parsed.closed_by_default;
  json.whitespace = parsed.whitespace == sieve::JsonWhitespace::kCompact  ? SIEVE_JSON_WS_COMPACT
                    : parsed.whitespace == sieve::JsonWhitespace::kIndent ? SIEVE_JSON_WS_INDENT
                                                                          : SIEVE_JSON_WS_ANY;
  json.indent = parsed.indent;
  json.property_order =
      parsed.property_order == sieve::JsonPropertyOrder::kAny      ? SIEVE_JSON_ORDER_ANY
      : parsed.property_order == sieve::JsonPropertyOrder::kSchema ? SIEVE_JSON_ORDER_SCHEMA
                                                                   : SIEVE_JSON_ORDER_DEFAULT;
  json.ignore_unsupported = parsed.unsupported == sieve::UnsupportedPolicy::kIgnore;
  // --ref-dir: the parsed loader behind the C API's load_document callback (the text it returns
  // lives in the bridge until the next call).
  struct RefLoader {
    std::function<std::optional<std::string>(const std::string&)> load;
    std::string text;
  } ref_loader{parsed.load_document, {}};
  if (ref_loader.load) {
    json.load_document = [](void* user, const char* uri, const char** text, size_t* len) {
      auto* l = static_cast<RefLoader*>(user);
      std::optional<std::string> doc = l->load(uri);
      if (!doc) return 1;
      l->text = std::move(*doc);
      *text = l->text.data();
      *len = l->text.size();
      return 0;
    };
    json.load_document_user = &ref_loader;
  }
  if ((args.Has("whitespace") || args.Has("strict") || args.Has("any-order") ||
       args.Has("unsupported")) &&
      !args.Has("schema") && !request_source) {
    return UsageError(kCmd, "--strict, --whitespace, --any-order and --unsupported need --schema "
                            "(or, but for --strict, --response-format / --tools)");
  }

  std::string prompt = *args.Get("prompt"), structure_text, error;
  if (prompt == "-" && !ReadFile("-", &prompt, &error)) {
    std::cerr << "sieve generate: stdin: " << error << "\n";
    return kExitFailure;
  }
  sieve_structure_kind kind = SIEVE_STRUCTURE_NONE;
  if (auto f = args.Get("schema")) {
    kind = SIEVE_STRUCTURE_JSON_SCHEMA;
    if (!ReadFile(*f, &structure_text, &error)) {
      std::cerr << "sieve generate: " << error << "\n";
      return kExitInvalidSpec;
    }
  } else if (auto g = args.Get("grammar")) {
    kind = SIEVE_STRUCTURE_GRAMMAR;
    if (!ReadFile(*g, &structure_text, &error)) {
      std::cerr << "sieve generate: " << error << "\n";
      return kExitInvalidSpec;
    }
  } else if (auto r = args.Get("regex")) {
    kind = SIEVE_STRUCTURE_REGEX;
    structure_text = *r;
    if (structure_text.empty()) return UsageError(kCmd, "--regex needs a non-empty pattern");
  } else if (request_source) {
    // The request's grammar (Hermes tool calls; no token pieces), handed to the engine as EBNF.
    RequestInput request;
    if (int rc = LoadRequest(kCmd, args, &request); rc >= 0) return rc;
    auto converted = ConvertRequest(request, parsed);
    if (!converted.ok()) {
      std::cerr << DescribeRequestError(request, converted.status()) << "\n";
      return kExitInvalidSpec;
    }
    for (const sieve::JsonSchemaNote& note : converted->tag.report.notes) {
      if (note.kind != sieve::JsonSchemaNote::Kind::kIgnored &&
          note.kind != sieve::JsonSchemaNote::Kind::kLoosened) {
        continue;
      }
      std::cerr << "sieve generate: " << request.path << ": warning: not enforced: "
                << sieve::JsonSchemaNoteKindName(note.kind) << " " << note.pointer << ": "
                << note.message << "\n";
    }
    if (!args.Has("quiet")) std::cerr << "structure: " << converted->summary << "\n";
    kind = SIEVE_STRUCTURE_GRAMMAR;
    structure_text = sieve::PrintEbnf(converted->tag.grammar);
  }

  // ---- model ----
  const bool quiet = args.Has("quiet");
  ProgressState progress;
  progress.tty = isatty(STDERR_FILENO) != 0;
  sieve_model_options mo;
  sieve_model_options_init(&mo);
  std::string model_dir = args.Get("model").value_or("");
  mo.path = model_dir.c_str();
  mo.device = device;
  if (!quiet) {
    mo.progress = OnLoadProgress;
    mo.progress_user_data = &progress;
  }
  sieve_model* model = nullptr;
  if (sieve_model_load(&mo, &model) != SIEVE_OK) {
    return ApiError(kCmd, model_dir.empty() ? "built-in model" : model_dir, kExitFailure);
  }
  sieve_model_info info;
  info.struct_size = sizeof info;
  sieve_model_get_info(model, &info);
  if (!quiet) {
    std::cerr << "model: " << info.description << ", " << info.num_layers << " layers, vocab "
              << info.vocab_size
              << (info.builtin ? " (random weights: valid structure, no meaning)" : "") << "\n";
  }
  const bool chat = args.Has("chat") || args.Has("system");
  if (chat && std::strcmp(info.chat_format, "deepseek-v2") != 0 &&
      std::strcmp(info.chat_format, "deepseek-v3") != 0) {
    sieve_model_free(model);
    std::cerr << "sieve generate: --chat: the model's chat template is " << info.chat_format
              << "; sieve renders the DeepSeek-V2 and -V3 formats only (use a plain --prompt)\n";
    return kExitFailure;
  }

  sieve_engine_options eo;
  sieve_engine_options_init(&eo);
  eo.max_batch = static_cast<int32_t>(max_batch > 0 ? max_batch : std::min<int64_t>(n, 64));
  sieve_engine* engine = nullptr;
  if (sieve_engine_create(model, &eo, &engine) != SIEVE_OK) {
    sieve_model_free(model);
    return ApiError(kCmd, "creating the engine", kExitFailure);
  }
  sieve_model_free(model);  // the engine keeps its reference
  StreamState stream{args.Has("stream")};
  sieve_engine_set_token_callback(engine, OnToken, &stream);

  std::vector<sieve_chat_message> messages;
  const std::string system = args.Get("system").value_or("");
  if (chat) {
    if (!system.empty()) messages.push_back({"system", system.c_str()});
    messages.push_back({"user", prompt.c_str()});
  }
  const std::string stop = args.Get("stop").value_or("");
  const char* stops[] = {stop.c_str()};
  std::map<int64_t, int64_t> index_of;  // request id -> output index
  for (int64_t i = 0; i < n; ++i) {
    sieve_request req;
    sieve_request_init(&req);
    req.prompt = prompt.c_str();
    req.messages = messages.empty() ? nullptr : messages.data();
    req.n_messages = messages.size();
    req.structure = kind;
    req.structure_text = structure_text.c_str();
    req.structure_len = structure_text.size();
    std::string root = args.Get("root").value_or("");
    req.grammar_root = root.empty() ? nullptr : root.c_str();
    req.json_options = &json;
    req.temperature = static_cast<float>(temperature);
    req.top_k = static_cast<int32_t>(top_k);
    req.top_p = static_cast<float>(top_p);
    req.seed = static_cast<uint64_t>(seed + i);
    req.max_tokens = static_cast<int32_t>(max_tokens);
    req.stop_strings = stop.empty() ? nullptr : stops;
    req.n_stop_strings = stop.empty() ? 0 : 1;
    req.jump_forward = args.Has("no-jump-forward") ? 0 : 1;
    int64_t id = -1;
    const sieve_status st = sieve_engine_submit(engine, &req, &id);
    if (st != SIEVE_OK) {
      const sieve_error* e = sieve_last_error();
      std::string where = args.Get("schema").value_or(args.Get("grammar").value_or(
          args.Get("tools").value_or(args.Get("response-format").value_or("--regex"))));
      std::cerr << "sieve generate: " << where << ": " << e->message;
      if (e->json_pointer != nullptr && e->json_pointer[0] != '\0') {
        std::cerr << " (at " << e->json_pointer << ")";
      }
      std::cerr << "\n";
      sieve_engine_free(engine);
      const bool structure_error =
          st == SIEVE_ERR_PARSE || st == SIEVE_ERR_UNSUPPORTED ||
          (st == SIEVE_ERR_LIMIT && kind != SIEVE_STRUCTURE_NONE) ||
          (st == SIEVE_ERR_INVALID_ARGUMENT && kind != SIEVE_STRUCTURE_NONE);
      return structure_error ? kExitInvalidSpec : kExitFailure;
    }
    index_of[id] = i;
  }
  if (sieve_engine_run(engine) != SIEVE_OK) {
    ApiError(kCmd, "generation failed", kExitFailure);
    sieve_engine_free(engine);
    return kExitFailure;
  }
  std::vector<std::string> lines(static_cast<size_t>(n));
  int incomplete = 0;
  std::string single_text;
  bool single_complete = false;
  for (;;) {
    sieve_result* r = nullptr;
    sieve_engine_take_result(engine, &r);
    if (r == nullptr) break;
    const int64_t i = index_of[sieve_result_id(r)];
    size_t len = 0;
    const char* text = sieve_result_text(r, &len);
    const std::string t(text, len);
    const bool complete = sieve_result_complete(r) != 0;
    const sieve_finish_reason finish = sieve_result_finish(r);
    sieve_result_stats rs;
    rs.struct_size = sizeof rs;
    sieve_result_get_stats(r, &rs);
    if (!complete) {
      ++incomplete;
      const char* msg = nullptr;
      sieve_result_error(r, &msg);
      std::cerr << "sieve generate: output " << i << " (seed " << seed + i << ") stopped at "
                << FinishName(finish) << " after " << rs.output_tokens
                << " tokens, before its structure was complete"
                << (finish == SIEVE_FINISH_ERROR && msg ? std::string(": ") + msg : std::string())
                << (args.Has("json-lines") ? "" : "; it is not printed") << "\n";
    }
    std::ostringstream js;
    js << "{\"index\":" << i << ",\"seed\":" << seed + i << ",\"text\":" << JsonQuote(t)
       << ",\"complete\":" << (complete ? "true" : "false") << ",\"finish\":\""
       << FinishName(finish) << "\",\"prompt_tokens\":" << rs.prompt_tokens
       << ",\"output_tokens\":" << rs.output_tokens << ",\"forced_tokens\":" << rs.forced_tokens
       << ",\"steps_saved\":" << rs.steps_saved << ",\"ms\":" << rs.total_ms << "}";
    lines[static_cast<size_t>(i)] = js.str();
    single_text = t;
    single_complete = complete;
    sieve_result_free(r);
  }
  if (args.Has("json-lines")) {
    for (const std::string& l : lines) std::cout << l << "\n";
  } else if (stream.on) {
    std::cout << std::flush;
    if (!single_complete) std::cerr << "sieve generate: the streamed output above is INCOMPLETE\n";
  } else if (single_complete) {
    std::cout << single_text << std::flush;
  }
  sieve_engine_metrics m;
  m.struct_size = sizeof m;
  sieve_engine_get_metrics(engine, &m);
  if (args.Has("metrics")) {
    std::fprintf(stderr,
                 "{\"outputs\":%lld,\"steps\":%lld,\"output_tokens\":%lld,\"prompt_tokens\":%lld,"
                 "\"forced_tokens\":%lld,\"steps_saved\":%lld,\"seconds\":%.4f,"
                 "\"tokens_per_second\":%.1f,\"time_per_output_token_ms\":%.3f,"
                 "\"step_ms_p50\":%.3f,\"mask_us_p50\":%.1f,\"mask_us_p99\":%.1f,"
                 "\"mask_hidden_fraction\":%.3f,\"forward_ms_p50\":%.3f,"
                 "\"jump_forward_deferred\":%lld}\n",
                 static_cast<long long>(m.requests), static_cast<long long>(m.steps),
                 static_cast<long long>(m.output_tokens), static_cast<long long>(m.prompt_tokens),
                 static_cast<long long>(m.forced_tokens), static_cast<long long>(m.steps_saved),
                 m.seconds, m.tokens_per_second, m.time_per_output_token_ms, m.step_ms_p50,
                 m.mask_us_p50, m.mask_us_p99, m.mask_hidden_fraction, m.forward_ms_p50,
                 static_cast<long long>(m.jump_forward_deferred));
  } else if (!quiet) {
    std::fprintf(
        stderr,
        "%lld tokens in %.2f s (%.0f tokens/s), %lld forced by the grammar (%lld steps saved)\n",
        static_cast<long long>(m.output_tokens), m.seconds, m.tokens_per_second,
        static_cast<long long>(m.forced_tokens), static_cast<long long>(m.steps_saved));
  }
  sieve_engine_free(engine);
  return incomplete > 0 ? kExitFailure : kExitOk;
}

}  // namespace sieve_cli
