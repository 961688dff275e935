// OpenAI request -> StructuralTagSpec, and OpenAI's strict-mode schema rules (openai_request.h).
#include "grammar/openai_request.h"

#include <cctype>
#include <optional>
#include <set>
#include <string>

#include "grammar/support/json_nesting.h"
#include "grammar/support/json_pointer.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sieve {
namespace {

using Value = rapidjson::Value;

Status Bad(const std::string& pointer, const std::string& what) {
  return InvalidArgument(what).WithPointer(pointer);
}

std::string Escape(std::string_view key) { return PointerToken(key); }

std::string ToJson(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Result<const Value*> Parse(rapidjson::Document* d, std::string_view json, const char* what) {
  // Bounded nesting, iterative parse: no input reaches the stack (support/json_nesting.h).
  SIEVE_RETURN_IF_ERROR(CheckJsonNesting(json, kMaxJsonNesting, what));
  d->Parse<rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag>(json.data(),
                                                                               json.size());
  if (d->HasParseError()) {
    return ParseError(std::string(what) + ": " + rapidjson::GetParseError_En(d->GetParseError()))
        .WithOffset(static_cast<int64_t>(d->GetErrorOffset()));
  }
  return static_cast<const Value*>(d);
}

bool ValidName(const Value& v) {
  if (!v.IsString() || v.GetStringLength() == 0 || v.GetStringLength() > 64) return false;
  for (const char* p = v.GetString(); *p; ++p) {
    const char c = *p;
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

// ---- strict mode ----

struct StrictWalk {
  int properties = 0;
  int enum_values = 0;
  size_t chars = 0;

  bool HasType(const Value& s, const char* t) {
    if (!s.HasMember("type")) return false;
    const Value& ty = s["type"];
    if (ty.IsString()) return std::string(ty.GetString()) == t;
    if (ty.IsArray()) {
      for (const Value& x : ty.GetArray()) {
        if (x.IsString() && std::string(x.GetString()) == t) return true;
      }
    }
    return false;
  }

  Status Walk(const Value& s, const std::string& p, int depth) {
    static const std::set<std::string> kAllowed = {
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
        "$ref", "$defs", "definitions", "description", "title", "$schema", "$id", "$comment",
        "default", "examples", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems"};
    static const std::set<std::string> kFormats = {"date-time", "time", "date", "duration", "email",
                                                   "hostname", "ipv4", "ipv6", "uuid"};
    if (!s.IsObject()) return Bad(p, "strict mode: a schema must be an object");
    for (auto it = s.MemberBegin(); it != s.MemberEnd(); ++it) {
      const std::string k = it->name.GetString();
      if (!kAllowed.count(k)) {
        return Bad(p + "/" + Escape(k), "strict mode: keyword \"" + k + "\" is not supported by "
                                        "OpenAI structured outputs");
      }
    }
    if (s.HasMember("format")) {
      const Value& f = s["format"];
      if (!f.IsString() || !kFormats.count(f.GetString())) {
        return Bad(p + "/format", "strict mode: format must be one of date-time, time, date, "
                                  "duration, email, hostname, ipv4, ipv6, uuid");
      }
    }
    if (s.HasMember("enum") && s["enum"].IsArray()) {
      enum_values += static_cast<int>(s["enum"].Size());
      for (const Value& e : s["enum"].GetArray()) {
        if (e.IsString()) chars += e.GetStringLength();
      }
      if (enum_values > 1000) return Bad(p + "/enum", "strict mode: more than 1000 enum values");
    }
    if (s.HasMember("const") && s["const"].IsString()) chars += s["const"].GetStringLength();
    const bool object = HasType(s, "object") || s.HasMember("properties");
    if (object) {
      if (depth > 10) return Bad(p, "strict mode: more than 10 levels of object nesting");
      if (!s.HasMember("additionalProperties") || !s["additionalProperties"].IsFalse()) {
        return Bad(p, "strict mode: every object must set \"additionalProperties\": false");
      }
      std::set<std::string> required;
      if (s.HasMember("required")) {
        if (!s["required"].IsArray()) return Bad(p + "/required", "expected an array");
        for (const Value& r : s["required"].GetArray()) {
          if (r.IsString()) required.insert(r.GetString());
        }
      }
      if (s.HasMember("properties")) {
        const Value& props = s["properties"];
        if (!props.IsObject()) return Bad(p + "/properties", "expected an object");
        for (auto it = props.MemberBegin(); it != props.MemberEnd(); ++it) {
          const std::string k = it->name.GetString();
          const std::string kp = p + "/properties/" + Escape(k);
          if (!required.count(k)) {
            return Bad(kp, "strict mode: property \"" + k + "\" must be listed in \"required\" "
                           "(make it nullable to keep it optional)");
          }
          chars += k.size();
          if (++properties > 5000) return Bad(kp, "strict mode: more than 5000 object properties");
          SIEVE_RETURN_IF_ERROR(Walk(it->value, kp, depth + 1));
        }
      }
    }
    if (s.HasMember("items")) SIEVE_RETURN_IF_ERROR(Walk(s["items"], p + "/items", depth));
    if (s.HasMember("anyOf")) {
      const Value& a = s["anyOf"];
      if (!a.IsArray()) return Bad(p + "/anyOf", "expected an array");
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        SIEVE_RETURN_IF_ERROR(Walk(a[i], p + "/anyOf/" + std::to_string(i), depth));
      }
    }
    for (const char* defs : {"$defs", "definitions"}) {
      if (!s.HasMember(defs)) continue;
      const Value& d = s[defs];
      if (!d.IsObject()) return Bad(p + "/" + defs, "expected an object");
      for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
        chars += it->name.GetStringLength();
        SIEVE_RETURN_IF_ERROR(
            Walk(it->value, p + "/" + defs + "/" + Escape(it->name.GetString()), depth));
      }
    }
    if (chars > 120000) {
      return Bad(p, "strict mode: more than 120,000 characters of names and enum values");
    }
    return Status::Ok();
  }
};

Result<TagContent> SchemaContent(const Value& schema, bool strict, const std::string& pointer) {
  TagContent c;
  c.kind = TagContent::Kind::kJsonSchema;
  c.source = ToJson(schema);
  c.strict = strict;
  if (strict) SIEVE_RETURN_IF_ERROR(CheckOpenAiStrictSchema(c.source, pointer));
  return c;
}

Result<bool> OptionalBool(const Value& obj, const char* key, bool dflt, const std::string& p) {
  if (!obj.HasMember(key)) return dflt;
  if (!obj[key].IsBool()) return Bad(p + "/" + key, "expected a boolean");
  return obj[key].GetBool();
}

}  // namespace

Status CheckOpenAiStrictSchema(std::string_view schema_json, const std::string& pointer_prefix) {
  rapidjson::Document d;
  SIEVE_ASSIGN_OR_RETURN(const Value* root, Parse(&d, schema_json, "schema JSON"));
  if (!root->IsObject() || root->HasMember("anyOf") || !root->HasMember("type") ||
      !(*root)["type"].IsString() || std::string((*root)["type"].GetString()) != "object") {
    return Bad(pointer_prefix, "strict mode: the root schema must be {\"type\": \"object\", ...}, "
                               "not anyOf");
  }
  StrictWalk w;
  Status s = w.Walk(*root, "", 1);
  if (!s.ok()) s.WithPointer(pointer_prefix + s.json_pointer());
  return s;
}

Result<OpenAiStructure> StructureFromOpenAiRequest(std::string_view request_json,
                                                   const OpenAiRequestOptions& opts) {
  rapidjson::Document d;
  SIEVE_ASSIGN_OR_RETURN(const Value* req, Parse(&d, request_json, "request JSON"));
  if (!req->IsObject()) return Bad("", "the request must be a JSON object");
  OpenAiStructure out;
  StructuralTagSpec response_spec;
  std::string response_summary = "free text";
  std::optional<TagContent> response;
  if (req->HasMember("response_format")) {
    const Value& rf = (*req)["response_format"];
    const std::string p = "/response_format";
    if (!rf.IsObject() || !rf.HasMember("type") || !rf["type"].IsString()) {
      return Bad(p, "expected {\"type\": \"text\" | \"json_object\" | \"json_schema\", ...}");
    }
    const std::string type = rf["type"].GetString();
    if (type == "json_object") {
      TagContent c;
      c.kind = TagContent::Kind::kJsonSchema;
      c.source = "{\"type\": \"object\"}";
      response = c;
      response_summary = "any JSON object";
      out.response_schema_pointer = p;
    } else if (type == "json_schema") {
      if (!rf.HasMember("json_schema") || !rf["json_schema"].IsObject()) {
        return Bad(p + "/json_schema", "expected {\"name\": ..., \"schema\": {...}, \"strict\": bool}");
      }
      const Value& js = rf["json_schema"];
      if (!js.HasMember("name") || !ValidName(js["name"])) {
        return Bad(p + "/json_schema/name", "name must match ^[a-zA-Z0-9_-]{1,64}$");
      }
      SIEVE_ASSIGN_OR_RETURN(bool strict, OptionalBool(js, "strict", false, p + "/json_schema"));
      const Value empty(rapidjson::kObjectType);
      const Value& schema = js.HasMember("schema") ? js["schema"] : empty;
      SIEVE_ASSIGN_OR_RETURN(TagContent c,
                             SchemaContent(schema, strict, p + "/json_schema/schema"));
      response = c;
      out.response_schema_pointer = p + "/json_schema/schema";
      response_summary = std::string("json_schema '") + js["name"].GetString() + "'" +
                         (strict ? " (strict)" : "");
    } else if (type != "text") {
      return Bad(p + "/type", "unknown response_format type \"" + type + "\"");
    }
  }
  std::vector<ToolDef> tools;
  std::vector<std::string> tool_pointers;  // of each tool's parameters schema
  if (req->HasMember("tools")) {
    const Value& ts = (*req)["tools"];
    if (!ts.IsArray()) return Bad("/tools", "expected an array");
    std::set<std::string> names;
    for (rapidjson::SizeType i = 0; i < ts.Size(); ++i) {
      const std::string p = "/tools/" + std::to_string(i);
      const Value& t = ts[i];
      if (!t.IsObject() || !t.HasMember("type") || !t["type"].IsString() ||
          std::string(t["type"].GetString()) != "function") {
        return Bad(p + "/type", "only {\"type\": \"function\"} tools are supported");
      }
      if (!t.HasMember("function") || !t["function"].IsObject()) {
        return Bad(p + "/function", "expected an object");
      }
      const Value& f = t["function"];
      if (!f.HasMember("name") || !ValidName(f["name"])) {
        return Bad(p + "/function/name", "name must match ^[a-zA-Z0-9_-]{1,64}$");
      }
      ToolDef def;
      def.name = f["name"].GetString();
      if (!names.insert(def.name).second) {
        return Bad(p + "/function/name", "duplicate tool name \"" + def.name + "\"");
      }
      SIEVE_ASSIGN_OR_RETURN(def.strict, OptionalBool(f, "strict", false, p + "/function"));
      if (f.HasMember("parameters")) {
        SIEVE_ASSIGN_OR_RETURN(TagContent c,
                               SchemaContent(f["parameters"], def.strict, p + "/function/parameters"));
        def.parameters_schema = c.source;
      } else {
        def.parameters_schema = def.strict
                                    ? "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}"
                                    : "{\"type\":\"object\",\"properties\":{}}";
      }
      out.tool_names.push_back(def.name);
      tools.push_back(std::move(def));
      tool_pointers.push_back(p +
                              (f.HasMember("parameters") ? "/function/parameters" : "/function"));
    }
  }
  ToolChoice choice = tools.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  std::string choice_name = tools.empty() ? "none" : "auto";
  if (req->HasMember("tool_choice")) {
    const Value& tc = (*req)["tool_choice"];
    if (tc.IsString()) {
      choice_name = tc.GetString();
      if (choice_name == "none") {
        choice = ToolChoice::kNone;
      } else if (choice_name == "auto") {
        choice = ToolChoice::kAuto;
      } else if (choice_name == "required") {
        choice = ToolChoice::kRequired;
      } else {
        return Bad("/tool_choice", "expected \"none\", \"auto\", \"required\" or a function");
      }
    } else if (tc.IsObject() && tc.HasMember("function") && tc["function"].IsObject() &&
               tc["function"].HasMember("name") && tc["function"]["name"].IsString()) {
      const std::string name = tc["function"]["name"].GetString();
      std::vector<ToolDef> one;
      for (size_t k = 0; k < tools.size(); ++k) {
        if (tools[k].name != name) continue;
        one.push_back(tools[k]);
        tool_pointers = {tool_pointers[k]};
        break;
      }
      if (one.empty()) {
        return Bad("/tool_choice/function/name", "tool_choice names \"" + name +
                                                     "\", which is not in tools");
      }
      tools = std::move(one);
      out.tool_names = {name};
      choice = ToolChoice::kRequired;
      choice_name = "function " + name;
    } else {
      return Bad("/tool_choice", "expected \"none\", \"auto\", \"required\" or "
                                 "{\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    if (choice != ToolChoice::kNone && tools.empty()) {
      return Bad("/tool_choice", "tool_choice \"" + choice_name + "\" needs tools");
    }
  }
  SIEVE_ASSIGN_OR_RETURN(bool parallel, OptionalBool(*req, "parallel_tool_calls", true, ""));
  if (choice == ToolChoice::kNone) {
    out.spec.tool_choice = ToolChoice::kNone;
    out.summary = response_summary;
  } else {
    out.spec = ToolCallSpec(opts.format, tools, choice, parallel);
    out.tag_schema_pointers = tool_pointers;  // one tag per tool, in order
    out.summary = std::to_string(tools.size()) + " tool" + (tools.size() == 1 ? "" : "s") + " (" +
                  ToolCallFormatName(opts.format) + "), tool_choice " + choice_name +
                  (parallel ? ", parallel" : ", one call") +
                  (response ? ", or " + response_summary : "");
  }
  out.spec.response = response;
  if (opts.think) {
    AddThinkBlock(&out.spec);
    out.summary = "<think> block, then " + out.summary;
  }
  return out;
}

Result<StructuralTagGrammar> OpenAiRequestToGrammar(std::string_view request_json,
                                                    const OpenAiRequestOptions& request_opts,
                                                    const StructuralTagOptions& opts) {
  SIEVE_ASSIGN_OR_RETURN(OpenAiStructure s, StructureFromOpenAiRequest(request_json, request_opts));
  // "/tags/i/content/json_schema/..." and "/response/json_schema/..." -> pointers into the request.
  auto remap = [&s](const std::string& p) -> std::string {
    const std::string tags = "/tags/", content = "/content/json_schema";
    const std::string response = "/response/json_schema";
    if (p.rfind(tags, 0) == 0) {
      const size_t slash = p.find('/', tags.size());
      const std::string rest = slash == std::string::npos ? "" : p.substr(slash);
      size_t i = 0;
      for (size_t k = tags.size(); k < p.size() && k < slash; ++k) {
        if (p[k] < '0' || p[k] > '9') return p;
        i = i * 10 + static_cast<size_t>(p[k] - '0');
      }
      if (i < s.tag_schema_pointers.size() && rest.rfind(content, 0) == 0) {
        return s.tag_schema_pointers[i] + rest.substr(content.size());
      }
    } else if (p.rfind(response, 0) == 0 && !s.response_schema_pointer.empty()) {
      return s.response_schema_pointer + p.substr(response.size());
    }
    return p;
  };
  auto g = StructuralTagToGrammar(s.spec, opts);
  if (!g.ok()) {
    Status st = g.status();
    return st.WithPointer(remap(st.json_pointer()));
  }
  for (JsonSchemaNote& n : g->report.notes) n.pointer = remap(n.pointer);
  return g;
}

}  // namespace sieve
