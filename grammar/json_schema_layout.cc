// Layouts beyond JsonWhitespace's: compact JSON with json.dumps-style separators
// (JsonSchemaOptions::item_separator / key_separator), and llguidance's top-level "x-guidance"
// object, read as llguidance documents it
// (docs/json_schema.md there): the JSON layout (whitespace_flexible, whitespace_pattern,
// item_separator, key_separator, container_whitespace; the patterns are regexes matched whole,
// a whitespace pattern at most once per place) and the conversion switches coerce_one_of and
// lenient. Any other field, or json_allowed_escapes other than the default set, is not enforced
// and goes through Unenforceable (an error naming /x-guidance/FIELD by default).
#include <algorithm>
#include <string>

#include "grammar/json_schema_internal.h"
#include "grammar/regex_parser.h"

namespace sieve::jsonschema {

namespace {

bool IsBool(const JNode& n) { return n.kind == JNode::kTrue || n.kind == JNode::kFalse; }

bool IsJsonWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `sep` is `punct` with JSON whitespace around it.
bool IsSeparator(const std::string& sep, char punct) {
  const size_t at = sep.find(punct);
  if (at == std::string::npos) return false;
  for (size_t i = 0; i < sep.size(); ++i) {
    if (i != at && !IsJsonWs(sep[i])) return false;
  }
  return true;
}

}  // namespace

Status Converter::ReadSeparators() {
  const std::string& item = opts_.item_separator;
  const std::string& key = opts_.key_separator;
  if (xg_.layout) return Status::Ok();  // the schema's x-guidance layout (reported) wins
  if (opts_.whitespace != JsonWhitespace::kCompact) {
    if (item == "," && key == ":") return Status::Ok();
    return InvalidArgument("item_separator / key_separator apply to compact whitespace only");
  }
  if (!IsSeparator(item, ',') || !IsSeparator(key, ':')) {
    return InvalidArgument("item_separator must be ',' and key_separator ':', each with optional "
                           "spaces, tabs or newlines around it (got '" + item + "' and '" +
                           key + "')");
  }
  if (item == "," && key == ":") return Status::Ok();
  xg_.layout = true;
  xg_.flexible = false;
  xg_.item = NewSharedRule("item_separator");
  g_.SetRuleBody(xg_.item, Lit(item));
  xg_.key = NewSharedRule("key_separator");
  g_.SetRuleBody(xg_.key, Lit(key));
  return Status::Ok();
}

Status Converter::ReadXGuidance() {
  const int32_t root = doc_.root();
  if (doc_.at(root).kind != JNode::kObject) return Status::Ok();
  const int32_t xg = doc_.Member(root, "x-guidance");
  if (xg < 0) return Status::Ok();
  if (doc_.at(xg).kind != JNode::kObject) {
    return ErrorAt(InvalidArgument("x-guidance must be an object"), root, "x-guidance");
  }
  std::string layout;  // for the note
  auto pattern_rule = [&](int32_t v, const std::string& field, RuleId* out) -> Status {
    if (doc_.at(v).kind != JNode::kString) {
      return ErrorAt(InvalidArgument("x-guidance " + field + " must be a string (a regex)"), xg,
                     field);
    }
    const std::string& text = doc_.at(v).text;
    RegexOptions ro;
    ro.search_semantics = false;  // the whole separator / whitespace, not a search
    auto e = RegexToExpr(text, &g_, ro);
    if (!e.ok()) {
      Status s = e.status().code() == StatusCode::kUnsupported
                     ? Unsupported("x-guidance " + field + " '" + text + "': " +
                                   e.status().message())
                     : ParseError("x-guidance " + field + " '" + text + "': " +
                                  e.status().message());
      return ErrorAt(std::move(s), xg, field);
    }
    *out = NewSharedRule("xg_" + field);
    g_.SetRuleBody(*out, *e);
    layout += (layout.empty() ? "" : ", ") + field + " /" + text + "/";
    xg_.layout = true;
    return Status::Ok();
  };
  for (int32_t v : doc_.at(xg).kids) {
    const std::string& k = doc_.at(v).key;
    if (k == "whitespace_flexible" || k == "coerce_one_of" || k == "lenient") {
      if (!IsBool(doc_.at(v))) {
        return ErrorAt(InvalidArgument("x-guidance " + k + " must be true or false"), xg, k);
      }
      const bool on = doc_.at(v).kind == JNode::kTrue;
      if (k == "whitespace_flexible") {
        xg_.flexible = on;
        xg_.layout = true;
        layout += (layout.empty() ? "" : ", ") + std::string(on ? "" : "no ") +
                  "flexible whitespace";
      } else if (on) {
        xg_.coerce_one_of = true;  // lenient implies it
        if (k == "lenient") opts_.unsupported = UnsupportedPolicy::kIgnore;
      }
    } else if (k == "whitespace_pattern") {
      if (doc_.at(v).kind == JNode::kNull) continue;  // documented as optional
      SIEVE_RETURN_IF_ERROR(pattern_rule(v, k, &xg_.ws));
    } else if (k == "item_separator") {
      SIEVE_RETURN_IF_ERROR(pattern_rule(v, k, &xg_.item));
    } else if (k == "key_separator") {
      SIEVE_RETURN_IF_ERROR(pattern_rule(v, k, &xg_.key));
    } else if (k == "container_whitespace") {
      if (doc_.at(v).kind == JNode::kNull) continue;
      SIEVE_RETURN_IF_ERROR(pattern_rule(v, k, &xg_.container));
    } else if (k == "json_allowed_escapes") {
      std::string set = doc_.at(v).kind == JNode::kString ? doc_.at(v).text : "";
      std::sort(set.begin(), set.end());
      set.erase(std::unique(set.begin(), set.end()), set.end());
      std::string all = "nrbtf\\\"u";
      std::sort(all.begin(), all.end());
      if (doc_.at(v).kind != JNode::kString || set != all) {
        SIEVE_RETURN_IF_ERROR(Unenforceable(
            xg, k, "a restricted set of string escapes is not enforced (every JSON escape stays "
                   "allowed)"));
      }
    } else {
      SIEVE_RETURN_IF_ERROR(Unenforceable(xg, k, "unknown x-guidance field, not enforced"));
    }
  }
  if (xg_.layout) {
    Note(JsonSchemaNote::Kind::kInfo, root, "x-guidance",
         "the layout is x-guidance's (" + layout + "), not the whitespace option's");
  }
  if (xg_.coerce_one_of) {
    Note(JsonSchemaNote::Kind::kInfo, root, "x-guidance",
         "x-guidance coerce_one_of (or lenient): every oneOf is read as anyOf");
  }
  return Status::Ok();
}

}  // namespace sieve::jsonschema
