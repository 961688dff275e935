// OpenAI request inputs of the CLI (cli_request_options.h).
#include "tools/cli_request_options.h"

#include <iostream>
#include <string_view>

#include "grammar/compiler.h"
#include "grammar/support/json_nesting.h"
#include "grammar/support/json_pointer.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sieve_cli {

const std::vector<std::string>& RequestValueFlags() {
  static const std::vector<std::string> flags = {"response-format", "tools", "tool-choice"};
  return flags;
}

const char kRequestOptionsHelp[] =
    R"(  --response-format FILE
                       an OpenAI response_format object ({"type": "json_schema", "json_schema":
                       {"name", "schema", "strict"}} or {"type": "json_object"}), or a whole Chat
                       Completions request holding one
  --tools FILE         an OpenAI tools array ([{"type": "function", "function": {"name",
                       "parameters", "strict"}}, ...]), or a whole request holding `tools` (its
                       tool_choice, parallel_tool_calls and response_format apply too); calls are
                       written in Hermes format: <tool_call>\n{"name": ..., "arguments": {...}}\n
                       </tool_call>
  --tool-choice C      with --tools: auto (text and calls), required (calls only), none, or a
                       function NAME (that call only); default: the request's, else auto
                       Strict mode follows the request (json_schema.strict, function.strict:
                       OpenAI's strict rules are checked, every property required), so --strict
                       is not taken with these. Errors and notes name JSON pointers into the
                       request (/tools/0/function/parameters/...) and the file's line:column.
)";

namespace {

using Value = rapidjson::Value;

std::string ToJson(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string EscapeToken(std::string_view key) { return sieve::PointerToken(key); }

// SAX walk that finds where the value at `target` (or its deepest existing ancestor) starts.
class PointerFinder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, PointerFinder> {
 public:
  PointerFinder(const std::string& text, const std::string& target,
                const rapidjson::StringStream* ss)
      : text_(text), target_(target), ss_(ss) {}

  // Where the stream is when a handler runs: strings and numbers are parsed on a local copy of the
  // stream, so Tell() is still their first byte; literals are consumed in place, so Tell() is just
  // past them; brackets are taken after the handler. Each start is checked against the text's
  // first byte (an unexpected position falls back to the enclosing container's start).
  bool Null() { return Scalar(ss_->Tell() - 4, 'n'); }
  bool Bool(bool b) { return Scalar(ss_->Tell() - (b ? 4 : 5), b ? 't' : 'f'); }
  bool Int(int) { return Number(); }
  bool Uint(unsigned) { return Number(); }
  bool Int64(int64_t) { return Number(); }
  bool Uint64(uint64_t) { return Number(); }
  bool Double(double) { return Number(); }
  bool String(const char*, rapidjson::SizeType, bool) { return Scalar(ss_->Tell(), '"'); }
  bool StartObject() { return Start(true); }
  bool StartArray() { return Start(false); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    frames_.back().key = EscapeToken(std::string_view(s, n));
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return End(); }
  bool EndArray(rapidjson::SizeType) { return End(); }

  int64_t best() const { return best_; }

 private:
  struct Frame {
    std::string pointer;
    bool object;
    size_t index = 0;
    std::string key;
    int64_t start = 0;
  };
  // The pointer of the value starting at byte `at` (-1: unknown, the container's start is used).
  bool Visit(int64_t at, std::string* pointer) {
    if (at < 0) at = frames_.empty() ? 0 : frames_.back().start;
    if (frames_.empty()) {
      *pointer = "";
    } else if (frames_.back().object) {
      *pointer = frames_.back().pointer + "/" + frames_.back().key;
    } else {
      *pointer = frames_.back().pointer + "/" + std::to_string(frames_.back().index++);
    }
    if (*pointer == target_) {
      best_ = at;
      return false;  // found: stop the walk
    }
    if (target_.size() > pointer->size() && target_.compare(0, pointer->size(), *pointer) == 0 &&
        target_[pointer->size()] == '/') {
      best_ = at;
    }
    return true;
  }
  int64_t Checked(size_t at, char first) const {
    return at < text_.size() && text_[at] == first ? static_cast<int64_t>(at) : -1;
  }
  bool Scalar(size_t at, char first) {
    std::string p;
    return Visit(Checked(at, first), &p);
  }
  bool Number() {
    const size_t at = ss_->Tell();
    const bool ok =
        at < text_.size() && (text_[at] == '-' || (text_[at] >= '0' && text_[at] <= '9'));
    std::string p;
    return Visit(ok ? static_cast<int64_t>(at) : -1, &p);
  }
  bool Start(bool object) {
    // The iterative parser (used here) calls the handler before taking the bracket.
    const char bracket = object ? '{' : '[';
    int64_t at = Checked(ss_->Tell(), bracket);
    if (at < 0 && ss_->Tell() > 0) at = Checked(ss_->Tell() - 1, bracket);
    std::string p;
    if (!Visit(at, &p)) return false;
    frames_.push_back(
        {p, object, 0, "", at < 0 ? (frames_.empty() ? 0 : frames_.back().start) : at});
    return true;
  }
  bool End() {
    frames_.pop_back();
    return true;
  }

  const std::string& text_;
  const std::string& target_;
  const rapidjson::StringStream* ss_;
  std::vector<Frame> frames_;
  int64_t best_ = -1;
};

FileLocation Locate(const std::string& text, int64_t offset) {
  FileLocation loc;
  if (offset < 0) return loc;
  sieve::Status s =
      sieve::WithLineColumnFromOffset(sieve::InvalidArgument("x").WithOffset(offset), text);
  loc.offset = offset;
  loc.line = s.line();
  loc.column = s.column();
  return loc;
}

std::string Describe(const RequestInput& in, const sieve::Status& st, const FileLocation& loc) {
  std::string out = in.path == "-" ? "<stdin>" : in.path;
  if (loc.line > 0) out += ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
  out += std::string(": ") + sieve::StatusCodeName(st.code());
  if (!st.json_pointer().empty() || st.code() != sieve::StatusCode::kParse) {
    out += " (request location " +
           (st.json_pointer().empty() ? std::string("\"\" (the root)") : st.json_pointer());
    if (in.tool_choice_flag && st.json_pointer().rfind("/tool_choice", 0) == 0) {
      out += ", from --tool-choice";
    }
    out += ")";
  }
  return out + ": " + st.message();
}

// An error in the file itself, before the request exists: offsets are into the file (exit 3).
int FileError(const RequestInput& in, const sieve::Status& st) {
  const FileLocation loc = st.offset() >= 0 ? Locate(in.file_text, st.offset())
                                            : LocateRequestPointer(in, st.json_pointer());
  std::cerr << Describe(in, st, loc) << "\n";
  return kExitInvalidSpec;
}

}  // namespace

int CountRequestSources(const ArgParser& args) {
  return args.Has("response-format") + args.Has("tools");
}

int LoadRequest(const std::string& command, const ArgParser& args, RequestInput* in) {
  const bool tools = args.Has("tools");
  in->flag = tools ? "--tools" : "--response-format";
  in->path = *args.Get(tools ? "tools" : "response-format");
  auto choice = args.Get("tool-choice");
  if (choice && !tools) return UsageError(command, "--tool-choice needs --tools");
  if (choice && choice->empty()) {
    return UsageError(command, "--tool-choice must be auto, required, none or a function name");
  }
  std::string err;
  if (!ReadFile(in->path, &in->file_text, &err)) {
    std::cerr << "sieve " << command << ": " << in->flag << ": " << err << "\n";
    return kExitUsage;
  }
  in->wrapper.clear();
  const std::string& text = in->file_text;
  if (sieve::Status nest = sieve::CheckJsonNesting(text, sieve::kMaxJsonNesting, "request JSON");
      !nest.ok()) {
    return FileError(*in, nest);
  }
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (d.HasParseError()) {
    return FileError(*in, sieve::ParseError(std::string("not JSON: ") +
                                            rapidjson::GetParseError_En(d.GetParseError()))
                              .WithOffset(static_cast<int64_t>(d.GetErrorOffset())));
  }
  const char* member = tools ? "tools" : "response_format";
  if (d.IsObject() && d.HasMember(member)) {
    // A whole request: used as it is.
  } else if (tools && d.IsArray()) {
    in->wrapper = "/tools";
  } else if (!tools && d.IsObject() && d.HasMember("type")) {
    in->wrapper = "/response_format";
  } else {
    return FileError(*in, sieve::InvalidArgument(
                              tools ? "expected a tools array or a request object with \"tools\""
                                    : "expected a response_format object ({\"type\": ...}) or a "
                                      "request object with \"response_format\"")
                              .WithPointer(""));
  }
  if (!in->wrapper.empty()) {
    rapidjson::Document req(rapidjson::kObjectType);
    Value copy(d, req.GetAllocator());
    req.AddMember(Value(member, req.GetAllocator()), copy, req.GetAllocator());
    d.Swap(req);
  }
  in->tool_choice_flag = choice.has_value();
  if (choice) {
    auto& a = d.GetAllocator();
    Value c;
    if (*choice == "auto" || *choice == "required" || *choice == "none") {
      c.SetString(choice->c_str(), a);
    } else {
      c.SetObject();
      Value fn(rapidjson::kObjectType);
      fn.AddMember("name", Value(choice->c_str(), a), a);
      c.AddMember("type", "function", a);
      c.AddMember("function", fn, a);
    }
    if (d.HasMember("tool_choice")) {
      d["tool_choice"] = c;
    } else {
      d.AddMember("tool_choice", c, a);
    }
  }
  in->request = in->wrapper.empty() && !choice ? text : ToJson(d);
  return -1;
}

FileLocation LocateRequestPointer(const RequestInput& in, const std::string& pointer) {
  if (in.tool_choice_flag && pointer.rfind("/tool_choice", 0) == 0) return FileLocation();
  std::string target = pointer;
  if (!in.wrapper.empty()) {
    if (target.rfind(in.wrapper, 0) != 0 ||
        (target.size() > in.wrapper.size() && target[in.wrapper.size()] != '/')) {
      return FileLocation();
    }
    target = target.substr(in.wrapper.size());
  }
  rapidjson::StringStream ss(in.file_text.c_str());
  PointerFinder finder(in.file_text, target, &ss);
  rapidjson::Reader reader;
  reader.Parse<rapidjson::kParseIterativeFlag>(ss, finder);
  return Locate(in.file_text, finder.best());
}

std::string DescribeRequestError(const RequestInput& in, const sieve::Status& st) {
  FileLocation loc;
  if (!st.json_pointer().empty() || st.offset() < 0) {
    loc = LocateRequestPointer(in, st.json_pointer());
  } else if (in.request == in.file_text) {
    loc = Locate(in.file_text, st.offset());  // offsets into the request are into the file
  }
  return Describe(in, st, loc);
}

sieve::Result<RequestGrammar> ConvertRequest(const RequestInput& in,
                                             const sieve::JsonSchemaOptions& json) {
  sieve::OpenAiRequestOptions ro;  // Hermes calls, no reasoning block
  SIEVE_ASSIGN_OR_RETURN(sieve::OpenAiStructure s,
                         sieve::StructureFromOpenAiRequest(in.request, ro));
  sieve::StructuralTagOptions so;
  so.json = json;
  SIEVE_ASSIGN_OR_RETURN(sieve::StructuralTagGrammar g,
                         sieve::OpenAiRequestToGrammar(in.request, ro, so));
  RequestGrammar out;
  out.tag = std::move(g);
  out.summary = s.summary;
  out.tools = static_cast<int>(s.tool_names.size());
  return out;
}

sieve::Result<ResponseSchema> ResponseSchemaOf(const RequestInput& in) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(in.request.data(), in.request.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("response_format") ||
      !d["response_format"].IsObject()) {
    return sieve::InvalidArgument("the request has no response_format object")
        .WithPointer(d.IsObject() && d.HasMember("response_format") ? "/response_format" : "");
  }
  const Value& rf = d["response_format"];
  const std::string type =
      rf.HasMember("type") && rf["type"].IsString() ? rf["type"].GetString() : "";
  ResponseSchema out;
  if (type == "json_object") {
    out.schema = "{\"type\": \"object\"}";
    out.pointer = "/response_format";
    return out;
  }
  if (type != "json_schema") {
    return sieve::InvalidArgument("response_format type \"" + type +
                                  "\" has no schema to validate against (json_schema or "
                                  "json_object)")
        .WithPointer("/response_format/type");
  }
  // The same checks the converter makes (name, strict flag, strict rules), with its pointers.
  SIEVE_ASSIGN_OR_RETURN(sieve::OpenAiStructure s, sieve::StructureFromOpenAiRequest(
                                                       in.request, sieve::OpenAiRequestOptions()));
  (void)s;
  const Value& js = rf["json_schema"];
  out.pointer = "/response_format/json_schema/schema";
  out.schema = js.HasMember("schema") ? ToJson(js["schema"]) : "{}";
  out.strict = js.HasMember("strict") && js["strict"].IsBool() && js["strict"].GetBool();
  return out;
}

}  // namespace sieve_cli
