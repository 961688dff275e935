#include "tools/cli_schema_options.h"

#include <charconv>
#include <filesystem>
#include <optional>
#include <string_view>

namespace sieve_cli {

const std::vector<std::string>& SchemaValueFlags() {
  static const std::vector<std::string> flags = {"whitespace", "unsupported", "ref-dir"};
  return flags;
}

const std::vector<std::string>& SchemaBoolFlags() {
  static const std::vector<std::string> flags = {"strict", "any-order", "closed"};
  return flags;
}

const char kSchemaOptionsHelp[] =
    R"(  --strict             OpenAI strict semantics: every property required, additionalProperties
                       false unless stated, properties in schema order (default: standard JSON
                       Schema semantics)
  --whitespace W       compact (no whitespace), dumps (json.dumps' default layout: ", " and
                       ": ", XGrammar's any_whitespace=False), any[=N] (runs of at most N
                       bytes of [ \t\n\r] between tokens, default N=64) or indent=N (the
                       layout of json.dumps(indent=N)); a schema's llguidance "x-guidance"
                       layout overrides it
  --closed             additionalProperties and items after prefixItems are false unless the
                       schema states them (XGrammar's strict_mode), in standard semantics too
  --any-order          properties in any order, each at most once (compile: default is schema
                       order, the order a model should write them in; validate: any order is
                       the default unless --strict)
  --unsupported P      error (default): a keyword sieve cannot enforce is an error naming its JSON
                       pointer; ignore: drop it and list it in the report (the grammar is then
                       looser than the schema there)
  --ref-dir DIR        documents a $ref names outside the schema are read from DIR (nothing is
                       fetched): a relative reference by its path under DIR (common.json,
                       defs/a.json), an absolute URI by its last path segment
                       (https://json.schemastore.org/base.json -> DIR/base.json; a segment
                       without an extension also as NAME.json)
)";

namespace {

// A decimal integer in [lo, hi].
bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// The file under `dir` that --ref-dir maps a document URI to, or nullopt (see the help text):
// no "..", no absolute path, no empty name.
std::optional<std::filesystem::path> RefDirFile(const std::filesystem::path& dir,
                                                std::string uri) {
  uri = uri.substr(0, uri.find_first_of("?#"));
  const size_t scheme = uri.find("://");
  std::string rel = uri;
  if (scheme != std::string::npos) {
    const size_t slash = uri.find_last_of('/');
    rel = slash == std::string::npos || slash < scheme + 3 ? "" : uri.substr(slash + 1);
  }
  if (rel.empty() || rel[0] == '/') return std::nullopt;
  const std::filesystem::path p(rel);
  for (const auto& part : p) {
    if (part == ".." || part.string().find(':') != std::string::npos) return std::nullopt;
  }
  return dir / p;
}

}  // namespace

bool ParseSchemaOptions(const ArgParser& args, sieve::JsonWhitespace default_whitespace,
                        sieve::JsonPropertyOrder default_order, sieve::JsonSchemaOptions* out,
                        std::string* error) {
  sieve::JsonSchemaOptions o;
  o.whitespace = default_whitespace;
  o.property_order = default_order;
  if (args.Has("strict")) o.semantics = sieve::JsonSchemaSemantics::kStrict;
  if (args.Has("any-order")) o.property_order = sieve::JsonPropertyOrder::kAny;
  if (args.Has("closed")) o.closed_by_default = true;
  if (auto w = args.Get("whitespace")) {
    std::string_view v = *w;
    int n = 0;
    if (v == "compact") {
      o.whitespace = sieve::JsonWhitespace::kCompact;
    } else if (v == "dumps") {
      o.whitespace = sieve::JsonWhitespace::kCompact;
      o.item_separator = ", ";
      o.key_separator = ": ";
    } else if (v == "any") {
      o.whitespace = sieve::JsonWhitespace::kAny;
    } else if (v.rfind("any=", 0) == 0 && ParseInt(v.substr(4), 1, 1 << 20, &n)) {
      o.whitespace = sieve::JsonWhitespace::kAny;
      o.max_whitespace_run = n;
    } else if (v.rfind("indent=", 0) == 0 && ParseInt(v.substr(7), 0, 16, &n)) {
      o.whitespace = sieve::JsonWhitespace::kIndent;
      o.indent = n;
    } else {
      *error =
          "--whitespace must be compact, dumps, any, any=N (N >= 1) or indent=N (0 <= N <= 16), "
          "not '" +
          std::string(v) + "'";
      return false;
    }
  }
  if (auto u = args.Get("unsupported")) {
    if (*u == "error") {
      o.unsupported = sieve::UnsupportedPolicy::kError;
    } else if (*u == "ignore") {
      o.unsupported = sieve::UnsupportedPolicy::kIgnore;
    } else {
      *error = "--unsupported must be error or ignore, not '" + *u + "'";
      return false;
    }
  }
  if (auto d = args.Get("ref-dir")) {
    std::error_code ec;
    const std::filesystem::path dir(*d);
    if (!std::filesystem::is_directory(dir, ec)) {
      *error = "--ref-dir: '" + *d + "' is not a directory";
      return false;
    }
    const size_t max_bytes = o.max_schema_bytes;
    o.load_document = [dir, max_bytes](const std::string& uri) -> std::optional<std::string> {
      std::optional<std::filesystem::path> file = RefDirFile(dir, uri);
      std::error_code fec;
      if (file && !file->has_extension() && !std::filesystem::exists(*file, fec)) {
        *file += ".json";  // https://json.schemastore.org/name -> DIR/name.json
      }
      std::string text, read_error;
      if (!file || !std::filesystem::is_regular_file(*file, fec) ||
          std::filesystem::file_size(*file, fec) > max_bytes ||
          !ReadFile(file->string(), &text, &read_error)) {
        return std::nullopt;
      }
      return text;
    };
  }
  *out = std::move(o);
  return true;
}

bool ParseSchemaOptions(const ArgParser& args, sieve::JsonWhitespace default_whitespace,
                        sieve::JsonSchemaOptions* out, std::string* error) {
  return ParseSchemaOptions(args, default_whitespace, sieve::JsonPropertyOrder::kDefault, out,
                            error);
}

std::string WhitespaceName(const sieve::JsonSchemaOptions& opts) {
  switch (opts.whitespace) {
    case sieve::JsonWhitespace::kCompact:
      if (opts.item_separator == ", " && opts.key_separator == ": ") return "dumps";
      if (opts.item_separator != "," || opts.key_separator != ":") {
        return "compact with separators '" + opts.item_separator + "' '" + opts.key_separator +
               "'";
      }
      return "compact";
    case sieve::JsonWhitespace::kAny:
      return "any=" + std::to_string(opts.max_whitespace_run);
    case sieve::JsonWhitespace::kIndent:
      return "indent=" + std::to_string(opts.indent);
  }
  return "?";
}

}  // namespace sieve_cli
