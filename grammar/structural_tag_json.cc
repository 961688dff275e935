// ParseStructuralTag (structural_tag.h): the JSON form of a StructuralTagSpec.
//
//   {"reasoning": {"begin": M, "end": M, "required": bool},
//    "response": C,
//    "tags": [{"name": "...", "begin": M, "content": C, "end": M}, ...],
//    "triggers": [P, ...], "tool_choice": "auto" | "required" | "none", "parallel": bool,
//    "section": {"begin": M, "separator": M, "end": M}}
//   P (piece) = "text" | {"token": "text of a vocabulary token"};  M (marker) = P | [P, ...]
//   C (content) = {"json_schema": schema, "strict": bool} | {"ebnf": "..."} | {"regex": "..."} |
//                 {"text": true}
// Unknown members are errors (a typo must not silently drop a constraint).
#include <string>

#include "grammar/structural_tag.h"
#include "grammar/support/json_nesting.h"
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

Status CheckMembers(const Value& v, const std::string& pointer,
                    std::initializer_list<const char*> allowed) {
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || std::string(a) == it->name.GetString();
    if (!ok) {
      return Bad(pointer + "/" + it->name.GetString(),
                 std::string("unknown member \"") + it->name.GetString() + "\"");
    }
  }
  return Status::Ok();
}

Result<TagPiece> Piece(const Value& v, const std::string& pointer) {
  TagPiece p;
  if (v.IsString()) {
    p.text.assign(v.GetString(), v.GetStringLength());
    return p;
  }
  if (v.IsObject() && v.HasMember("token") && v["token"].IsString()) {
    SIEVE_RETURN_IF_ERROR(CheckMembers(v, pointer, {"token"}));
    p.text.assign(v["token"].GetString(), v["token"].GetStringLength());
    p.token = true;
    if (p.text.empty()) return Bad(pointer + "/token", "empty token text");
    return p;
  }
  return Bad(pointer, "expected a string or {\"token\": \"...\"}");
}

Result<TagMarker> Marker(const Value& v, const std::string& pointer) {
  TagMarker m;
  if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      SIEVE_ASSIGN_OR_RETURN(TagPiece p, Piece(v[i], pointer + "/" + std::to_string(i)));
      m.push_back(std::move(p));
    }
    return m;
  }
  SIEVE_ASSIGN_OR_RETURN(TagPiece p, Piece(v, pointer));
  m.push_back(std::move(p));
  return m;
}

std::string ToJson(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Result<TagContent> Content(const Value& v, const std::string& pointer) {
  if (!v.IsObject()) return Bad(pointer, "content must be an object");
  SIEVE_RETURN_IF_ERROR(CheckMembers(v, pointer, {"json_schema", "strict", "ebnf", "regex", "text"}));
  TagContent c;
  int kinds = 0;
  if (v.HasMember("json_schema")) {
    c.kind = TagContent::Kind::kJsonSchema;
    c.source = ToJson(v["json_schema"]);
    ++kinds;
  }
  if (v.HasMember("ebnf")) {
    if (!v["ebnf"].IsString()) return Bad(pointer + "/ebnf", "expected a string");
    c.kind = TagContent::Kind::kEbnf;
    c.source = v["ebnf"].GetString();
    ++kinds;
  }
  if (v.HasMember("regex")) {
    if (!v["regex"].IsString()) return Bad(pointer + "/regex", "expected a string");
    c.kind = TagContent::Kind::kRegex;
    c.source = v["regex"].GetString();
    ++kinds;
  }
  if (v.HasMember("text")) {
    if (!v["text"].IsTrue()) return Bad(pointer + "/text", "expected true");
    c.kind = TagContent::Kind::kText;
    ++kinds;
  }
  if (kinds != 1) {
    return Bad(pointer, "content needs exactly one of json_schema, ebnf, regex, text");
  }
  if (v.HasMember("strict")) {
    if (!v["strict"].IsBool()) return Bad(pointer + "/strict", "expected a boolean");
    if (c.kind != TagContent::Kind::kJsonSchema) return Bad(pointer + "/strict", "only for json_schema");
    c.strict = v["strict"].GetBool();
  }
  return c;
}

Result<bool> Bool(const Value& v, const std::string& pointer) {
  if (!v.IsBool()) return Bad(pointer, "expected a boolean");
  return v.GetBool();
}

}  // namespace

Result<StructuralTagSpec> ParseStructuralTag(std::string_view json) {
  rapidjson::Document d;
  // Bounded nesting, iterative parse: no input reaches the stack (support/json_nesting.h).
  SIEVE_RETURN_IF_ERROR(CheckJsonNesting(json, kMaxJsonNesting, "structural tag JSON"));
  d.Parse<rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag>(json.data(),
                                                                              json.size());
  if (d.HasParseError()) {
    return ParseError(std::string("structural tag JSON: ") + rapidjson::GetParseError_En(d.GetParseError()))
        .WithOffset(static_cast<int64_t>(d.GetErrorOffset()));
  }
  if (!d.IsObject()) return Bad("", "a structural tag is a JSON object");
  SIEVE_RETURN_IF_ERROR(CheckMembers(
      d, "", {"reasoning", "response", "tags", "triggers", "tool_choice", "parallel", "section"}));
  StructuralTagSpec spec;
  if (d.HasMember("reasoning")) {
    const Value& r = d["reasoning"];
    if (!r.IsObject() || !r.HasMember("begin") || !r.HasMember("end")) {
      return Bad("/reasoning", "expected {\"begin\": ..., \"end\": ...}");
    }
    SIEVE_RETURN_IF_ERROR(CheckMembers(r, "/reasoning", {"begin", "end", "required"}));
    StructuralTagSpec::Block b;
    SIEVE_ASSIGN_OR_RETURN(b.begin, Marker(r["begin"], "/reasoning/begin"));
    SIEVE_ASSIGN_OR_RETURN(b.end, Marker(r["end"], "/reasoning/end"));
    if (r.HasMember("required")) {
      SIEVE_ASSIGN_OR_RETURN(spec.reasoning_required, Bool(r["required"], "/reasoning/required"));
    }
    spec.reasoning = std::move(b);
  }
  if (d.HasMember("response")) {
    SIEVE_ASSIGN_OR_RETURN(TagContent c, Content(d["response"], "/response"));
    spec.response = std::move(c);
  }
  if (d.HasMember("tags")) {
    const Value& tags = d["tags"];
    if (!tags.IsArray()) return Bad("/tags", "expected an array");
    for (rapidjson::SizeType i = 0; i < tags.Size(); ++i) {
      const std::string p = "/tags/" + std::to_string(i);
      const Value& t = tags[i];
      if (!t.IsObject() || !t.HasMember("begin") || !t.HasMember("content") || !t.HasMember("end")) {
        return Bad(p, "a tag is {\"begin\": ..., \"content\": ..., \"end\": ...}");
      }
      SIEVE_RETURN_IF_ERROR(CheckMembers(t, p, {"name", "begin", "content", "end"}));
      StructuralTagItem item;
      if (t.HasMember("name")) {
        if (!t["name"].IsString()) return Bad(p + "/name", "expected a string");
        item.name = t["name"].GetString();
      }
      SIEVE_ASSIGN_OR_RETURN(item.begin, Marker(t["begin"], p + "/begin"));
      SIEVE_ASSIGN_OR_RETURN(item.content, Content(t["content"], p + "/content"));
      SIEVE_ASSIGN_OR_RETURN(item.end, Marker(t["end"], p + "/end"));
      spec.tags.push_back(std::move(item));
    }
  }
  if (d.HasMember("triggers")) {
    const Value& tr = d["triggers"];
    if (!tr.IsArray()) return Bad("/triggers", "expected an array");
    for (rapidjson::SizeType i = 0; i < tr.Size(); ++i) {
      SIEVE_ASSIGN_OR_RETURN(TagPiece p, Piece(tr[i], "/triggers/" + std::to_string(i)));
      if (p.text.empty()) return Bad("/triggers/" + std::to_string(i), "empty trigger");
      spec.triggers.push_back(std::move(p));
    }
  }
  if (d.HasMember("tool_choice")) {
    const Value& c = d["tool_choice"];
    const std::string s = c.IsString() ? c.GetString() : "";
    if (s == "auto") {
      spec.tool_choice = ToolChoice::kAuto;
    } else if (s == "required") {
      spec.tool_choice = ToolChoice::kRequired;
    } else if (s == "none") {
      spec.tool_choice = ToolChoice::kNone;
    } else {
      return Bad("/tool_choice", "expected \"auto\", \"required\" or \"none\"");
    }
  }
  if (d.HasMember("parallel")) {
    SIEVE_ASSIGN_OR_RETURN(spec.parallel, Bool(d["parallel"], "/parallel"));
  }
  if (d.HasMember("section")) {
    const Value& s = d["section"];
    if (!s.IsObject() || !s.HasMember("begin") || !s.HasMember("end")) {
      return Bad("/section", "expected {\"begin\": ..., \"separator\": ..., \"end\": ...}");
    }
    SIEVE_RETURN_IF_ERROR(CheckMembers(s, "/section", {"begin", "separator", "end"}));
    StructuralTagSpec::Section sec;
    SIEVE_ASSIGN_OR_RETURN(sec.begin, Marker(s["begin"], "/section/begin"));
    SIEVE_ASSIGN_OR_RETURN(sec.end, Marker(s["end"], "/section/end"));
    if (s.HasMember("separator")) {
      SIEVE_ASSIGN_OR_RETURN(sec.separator, Marker(s["separator"], "/section/separator"));
    }
    spec.section = std::move(sec);
  }
  return spec;
}

}  // namespace sieve
