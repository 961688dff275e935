// tokenizer.json / tokenizer_config.json -> TokenizerSpec (see tokenizer_json.h).
//
// Every accessor validates the type of what it reads and reports the JSON pointer of a bad value;
// string values additionally report their byte offset (in-situ parsing leaves each decoded string
// where its text started, just after the opening quote). Optional members that are absent or
// null take the library's defaults.
#include "grammar/tokenizer/tokenizer_json.h"

#include <limits>
#include <utility>

#include "grammar/support/json_nesting.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace sieve::tokenizer_internal {
namespace {

using rapidjson::Value;

std::string_view Sv(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

const Value* Member(const Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Error context: the file name and, for in-situ documents, the buffer (for string offsets).
struct Ctx {
  const std::string& name;
  const char* base = nullptr;
  size_t base_size = 0;

  Status Error(StatusCode code, const std::string& pointer, const std::string& message,
               const Value* at = nullptr) const {
    Status s(code, name + ": " + (pointer.empty() ? "" : pointer + ": ") + message);
    if (!pointer.empty()) s.WithPointer(pointer);
    if (at != nullptr && at->IsString() && base != nullptr) {
      const char* p = at->GetString();
      if (p >= base && p < base + base_size) s.WithOffset(p - base);
    }
    return s;
  }
  Status Format(const std::string& pointer, const std::string& message,
                const Value* at = nullptr) const {
    return Error(StatusCode::kFormat, pointer, message, at);
  }
  Status Unsupported(const std::string& pointer, const std::string& message,
                     const Value* at = nullptr) const {
    return Error(StatusCode::kUnsupported, pointer, message, at);
  }
};

std::string Ptr(const std::string& base, const char* key) { return base + "/" + key; }
std::string Ptr(const std::string& base, size_t index) {
  return base + "/" + std::to_string(index);
}

Status GetBool(const Ctx& ctx, const Value& obj, const char* key, const std::string& ptr,
               bool default_value, bool* out) {
  const Value* v = Member(obj, key);
  if (v == nullptr || v->IsNull()) {
    *out = default_value;
    return Status::Ok();
  }
  if (!v->IsBool()) return ctx.Format(Ptr(ptr, key), "expected true or false");
  *out = v->GetBool();
  return Status::Ok();
}

// Optional string member: absent or null -> nullopt.
Status GetOptString(const Ctx& ctx, const Value& obj, const char* key, const std::string& ptr,
                    std::optional<std::string>* out) {
  const Value* v = Member(obj, key);
  if (v == nullptr || v->IsNull()) {
    out->reset();
    return Status::Ok();
  }
  if (!v->IsString()) return ctx.Format(Ptr(ptr, key), "expected a string");
  *out = std::string(Sv(*v));
  return Status::Ok();
}

Status GetString(const Ctx& ctx, const Value& obj, const char* key, const std::string& ptr,
                 const Value** out) {
  const Value* v = Member(obj, key);
  if (v == nullptr) return ctx.Format(ptr, std::string("missing \"") + key + "\"");
  if (!v->IsString()) return ctx.Format(Ptr(ptr, key), "expected a string");
  *out = v;
  return Status::Ok();
}

Status GetType(const Ctx& ctx, const Value& obj, const std::string& ptr, std::string_view* type) {
  if (!obj.IsObject()) return ctx.Format(ptr, "expected an object");
  const Value* t = nullptr;
  SIEVE_RETURN_IF_ERROR(GetString(ctx, obj, "type", ptr, &t));
  *type = Sv(*t);
  return Status::Ok();
}

Status GetArray(const Ctx& ctx, const Value& obj, const char* key, const std::string& ptr,
                const Value** out) {
  const Value* v = Member(obj, key);
  if (v == nullptr) return ctx.Format(ptr, std::string("missing \"") + key + "\"");
  if (!v->IsArray()) return ctx.Format(Ptr(ptr, key), "expected an array");
  *out = v;
  return Status::Ok();
}

// {"String": s} or {"Regex": r}.
Status GetPattern(const Ctx& ctx, const Value& obj, const std::string& ptr, bool* is_regex,
                  const Value** text) {
  const Value* p = Member(obj, "pattern");
  const std::string pp = Ptr(ptr, "pattern");
  if (p == nullptr || !p->IsObject())
    return ctx.Format(pp, "expected {\"String\": ..} or {\"Regex\": ..}");
  if (const Value* s = Member(*p, "String"); s != nullptr && s->IsString()) {
    *is_regex = false;
    *text = s;
    return Status::Ok();
  }
  if (const Value* r = Member(*p, "Regex"); r != nullptr && r->IsString()) {
    *is_regex = true;
    *text = r;
    return Status::Ok();
  }
  return ctx.Format(pp, "expected {\"String\": ..} or {\"Regex\": ..}");
}

// ---- normalizer ---------------------------------------------------------------------------------

Status ParseNormalizer(const Ctx& ctx, const Value& v, const std::string& ptr,
                       TokenizerSpec* spec) {
  if (v.IsNull()) return Status::Ok();
  std::string_view type;
  SIEVE_RETURN_IF_ERROR(GetType(ctx, v, ptr, &type));
  auto describe = [&](const std::string& d) {
    if (!spec->normalizer_description.empty()) spec->normalizer_description += " > ";
    spec->normalizer_description += d;
  };
  if (type == "Sequence") {
    const Value* list = nullptr;
    SIEVE_RETURN_IF_ERROR(GetArray(ctx, v, "normalizers", ptr, &list));
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      SIEVE_RETURN_IF_ERROR(
          ParseNormalizer(ctx, (*list)[i], Ptr(Ptr(ptr, "normalizers"), i), spec));
    }
    return Status::Ok();
  }
  NormalizerStep step;
  if (type == "NFC") {
    step.kind = NormalizerStep::Kind::kNfc;
    describe("NFC");
  } else if (type == "Prepend") {
    const Value* s = nullptr;
    SIEVE_RETURN_IF_ERROR(GetString(ctx, v, "prepend", ptr, &s));
    step.kind = NormalizerStep::Kind::kPrepend;
    step.content = std::string(Sv(*s));
    describe("Prepend(" + Quote(step.content) + ")");
  } else if (type == "Replace") {
    bool is_regex = false;
    const Value* pattern = nullptr;
    SIEVE_RETURN_IF_ERROR(GetPattern(ctx, v, ptr, &is_regex, &pattern));
    if (is_regex) {
      return ctx.Unsupported(
          ptr,
          "Replace normalizer with a regex pattern " + Quote(Sv(*pattern)) + " is not supported",
          pattern);
    }
    const Value* content = nullptr;
    SIEVE_RETURN_IF_ERROR(GetString(ctx, v, "content", ptr, &content));
    step.kind = NormalizerStep::Kind::kReplace;
    step.pattern = std::string(Sv(*pattern));
    step.content = std::string(Sv(*content));
    describe("Replace(" + Quote(step.pattern) + " -> " + Quote(step.content) + ")");
  } else {
    return ctx.Unsupported(Ptr(ptr, "type"),
                           "normalizer type '" + std::string(type) + "' is not supported");
  }
  spec->normalizer.push_back(std::move(step));
  return Status::Ok();
}

// ---- pre-tokenizer ------------------------------------------------------------------------------

struct SurfaceHints {
  bool byte_level = false;
  bool sentencepiece = false;
};

Status ParsePrependScheme(const Ctx& ctx, const Value& v, const std::string& ptr,
                          PrependScheme* out) {
  if (const Value* s = Member(v, "prepend_scheme"); s != nullptr && !s->IsNull()) {
    if (!s->IsString()) return ctx.Format(Ptr(ptr, "prepend_scheme"), "expected a string");
    const std::string_view scheme = Sv(*s);
    if (scheme == "always") {
      *out = PrependScheme::kAlways;
    } else if (scheme == "first") {
      *out = PrependScheme::kFirst;
    } else if (scheme == "never") {
      *out = PrependScheme::kNever;
    } else {
      return ctx.Format(Ptr(ptr, "prepend_scheme"),
                        "expected \"always\", \"first\" or \"never\", got " + Quote(scheme), s);
    }
    return Status::Ok();
  }
  bool add_prefix_space = true;
  SIEVE_RETURN_IF_ERROR(GetBool(ctx, v, "add_prefix_space", ptr, true, &add_prefix_space));
  *out = add_prefix_space ? PrependScheme::kAlways : PrependScheme::kNever;
  return Status::Ok();
}

Status ParseMetaspace(const Ctx& ctx, const Value& v, const std::string& ptr,
                      PreTokenizerStep* step) {
  step->kind = PreTokenizerStep::Kind::kMetaspace;
  std::optional<std::string> rep;
  SIEVE_RETURN_IF_ERROR(GetOptString(ctx, v, "replacement", ptr, &rep));
  step->replacement = rep.value_or("\xE2\x96\x81");
  if (step->replacement.empty()) return ctx.Format(Ptr(ptr, "replacement"), "must not be empty");
  SIEVE_RETURN_IF_ERROR(ParsePrependScheme(ctx, v, ptr, &step->prepend_scheme));
  return GetBool(ctx, v, "split", ptr, true, &step->split);
}

Status ParsePreTokenizer(const Ctx& ctx, const Value& v, const std::string& ptr,
                         TokenizerSpec* spec, SurfaceHints* hints) {
  if (v.IsNull()) return Status::Ok();
  std::string_view type;
  SIEVE_RETURN_IF_ERROR(GetType(ctx, v, ptr, &type));
  if (type == "Sequence") {
    const Value* list = nullptr;
    SIEVE_RETURN_IF_ERROR(GetArray(ctx, v, "pretokenizers", ptr, &list));
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      SIEVE_RETURN_IF_ERROR(
          ParsePreTokenizer(ctx, (*list)[i], Ptr(Ptr(ptr, "pretokenizers"), i), spec, hints));
    }
    return Status::Ok();
  }
  if (type == "Split") {
    bool is_regex = false;
    const Value* pattern = nullptr;
    SIEVE_RETURN_IF_ERROR(GetPattern(ctx, v, ptr, &is_regex, &pattern));
    const Value* behavior = nullptr;
    SIEVE_RETURN_IF_ERROR(GetString(ctx, v, "behavior", ptr, &behavior));
    if (Sv(*behavior) != "Isolated") {
      return ctx.Unsupported(
          Ptr(ptr, "behavior"),
          "Split behavior '" + std::string(Sv(*behavior)) + "' is not supported (only Isolated)",
          behavior);
    }
    bool invert = false;
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, v, "invert", ptr, false, &invert));
    if (invert) return ctx.Unsupported(Ptr(ptr, "invert"), "inverted Split is not supported");
    if (!is_regex) {
      return ctx.Unsupported(
          ptr, "Split on the string " + Quote(Sv(*pattern)) + " is not supported", pattern);
    }
    std::optional<SplitPattern> known = RecognizeSplitPattern(Sv(*pattern));
    if (!known) {
      return ctx.Unsupported(Ptr(Ptr(ptr, "pattern"), "Regex"),
                             "unsupported Split regex " + Quote(Sv(*pattern)) +
                                 ": sieve runs only the pre-tokenizer regexes of known models",
                             pattern);
    }
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::kSplit;
    step.pattern = *known;
    spec->pre_tokenizer.push_back(step);
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    hints->byte_level = true;
    bool add_prefix_space = true;
    bool use_regex = true;
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, v, "add_prefix_space", ptr, true, &add_prefix_space));
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, v, "use_regex", ptr, true, &use_regex));
    if (add_prefix_space) {
      PreTokenizerStep step;
      step.kind = PreTokenizerStep::Kind::kPrefixSpace;
      spec->pre_tokenizer.push_back(step);
    }
    if (use_regex) {
      PreTokenizerStep step;
      step.kind = PreTokenizerStep::Kind::kSplit;
      step.pattern = SplitPattern::kGpt2;
      spec->pre_tokenizer.push_back(step);
    }
    return Status::Ok();
  }
  if (type == "Metaspace") {
    hints->sentencepiece = true;
    PreTokenizerStep step;
    SIEVE_RETURN_IF_ERROR(ParseMetaspace(ctx, v, ptr, &step));
    spec->pre_tokenizer.push_back(std::move(step));
    return Status::Ok();
  }
  return ctx.Unsupported(Ptr(ptr, "type"),
                         "pre-tokenizer type '" + std::string(type) + "' is not supported");
}

// ---- decoder ------------------------------------------------------------------------------------

Status ParseDecoder(const Ctx& ctx, const Value& v, const std::string& ptr, TokenizerSpec* spec,
                    SurfaceHints* hints) {
  if (v.IsNull()) return Status::Ok();
  std::string_view type;
  SIEVE_RETURN_IF_ERROR(GetType(ctx, v, ptr, &type));
  auto describe = [&](std::string_view d) {
    if (!spec->decoder_description.empty()) spec->decoder_description += " > ";
    spec->decoder_description += d;
  };
  if (type == "Sequence") {
    const Value* list = nullptr;
    SIEVE_RETURN_IF_ERROR(GetArray(ctx, v, "decoders", ptr, &list));
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      SIEVE_RETURN_IF_ERROR(
          ParseDecoder(ctx, (*list)[i], Ptr(Ptr(ptr, "decoders"), i), spec, hints));
    }
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    hints->byte_level = true;
    describe("ByteLevel");
  } else if (type == "Metaspace") {
    hints->sentencepiece = true;
    PreTokenizerStep step;
    SIEVE_RETURN_IF_ERROR(ParseMetaspace(ctx, v, ptr, &step));
    if (step.prepend_scheme != PrependScheme::kNever) spec->decoder_strip_spaces = -1;
    describe("Metaspace");
  } else if (type == "Replace") {
    bool is_regex = false;
    const Value* pattern = nullptr;
    SIEVE_RETURN_IF_ERROR(GetPattern(ctx, v, ptr, &is_regex, &pattern));
    const Value* content = nullptr;
    SIEVE_RETURN_IF_ERROR(GetString(ctx, v, "content", ptr, &content));
    if (is_regex || Sv(*pattern) != "\xE2\x96\x81" || Sv(*content) != " ") {
      return ctx.Unsupported(ptr, "Replace decoder other than U+2581 -> ' ' is not supported",
                             pattern);
    }
    hints->sentencepiece = true;
    describe("Replace");
  } else if (type == "ByteFallback" || type == "Fuse") {
    describe(type);
  } else if (type == "Strip") {
    std::optional<std::string> content;
    SIEVE_RETURN_IF_ERROR(GetOptString(ctx, v, "content", ptr, &content));
    const Value* start = Member(v, "start");
    const Value* stop = Member(v, "stop");
    if (content.value_or(" ") != " " || start == nullptr || !start->IsUint() ||
        (stop != nullptr && !(stop->IsUint() && stop->GetUint() == 0))) {
      return ctx.Unsupported(ptr, "Strip decoder other than leading spaces is not supported");
    }
    spec->decoder_strip_spaces = static_cast<int>(std::min(start->GetUint(), 1024u));
    describe("Strip");
  } else {
    return ctx.Unsupported(Ptr(ptr, "type"),
                           "decoder type '" + std::string(type) + "' is not supported");
  }
  return Status::Ok();
}

// ---- model --------------------------------------------------------------------------------------

// What CaptureHandler took out of the event stream.
struct Captured {
  bool vocab = false;   // /model/vocab was an object and is in spec->vocab
  bool merges = false;  // /model/merges was an array and is in spec->merges
};

// SAX handler between the reader and a Document: forwards every event to the Document except the
// contents of /model/vocab and /model/merges, which go straight into the spec (the Document gets
// a null in their place). A bad entry stops the parse with `error` set.
class CaptureHandler {
 public:
  CaptureHandler(rapidjson::Document* doc, TokenizerSpec* spec, const Ctx& ctx, Captured* captured)
      : doc_(doc), spec_(spec), ctx_(ctx), captured_(captured), base_(spec->json.data()) {}

  Status error;

  bool Null() { return mode_ == Mode::kForward ? Forwarded(doc_->Null()) : BadEntry(); }
  bool Bool(bool b) { return mode_ == Mode::kForward ? Forwarded(doc_->Bool(b)) : BadEntry(); }
  bool Int(int i) {
    if (mode_ == Mode::kVocab && i >= 0) return VocabId(static_cast<unsigned>(i));
    return mode_ == Mode::kForward ? Forwarded(doc_->Int(i)) : BadEntry();
  }
  bool Uint(unsigned u) {
    if (mode_ == Mode::kVocab) return VocabId(u);
    return mode_ == Mode::kForward ? Forwarded(doc_->Uint(u)) : BadEntry();
  }
  bool Int64(int64_t i) { return mode_ == Mode::kForward ? Forwarded(doc_->Int64(i)) : BadEntry(); }
  bool Uint64(uint64_t u) {
    return mode_ == Mode::kForward ? Forwarded(doc_->Uint64(u)) : BadEntry();
  }
  bool Double(double d) {
    return mode_ == Mode::kForward ? Forwarded(doc_->Double(d)) : BadEntry();
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool copy) {
    return mode_ == Mode::kForward ? Forwarded(doc_->RawNumber(str, len, copy)) : BadEntry();
  }
  bool String(const char* str, rapidjson::SizeType len, bool copy) {
    if (mode_ == Mode::kForward) return Forwarded(doc_->String(str, len, copy));
    if (mode_ != Mode::kMerges) return BadEntry();
    const TextSpan span{static_cast<uint32_t>(str - base_), len};
    if (pair_depth_) {
      if (pair_size_ >= 2) return BadEntry();
      pair_[pair_size_++] = span;
      return true;
    }
    const std::string_view text(str, len);
    size_t space = len;
    int spaces = 0;
    for (size_t k = 0; k < len; ++k) {  // merge strings are short: a loop beats two memchr calls
      if (str[k] == ' ') {
        space = k;
        ++spaces;
      }
    }
    if (spaces != 1) {
      error =
          ctx_.Format(MergePointer(),
                      "merge " + Quote(text) + " is not two tokens separated by one space", nullptr)
              .WithOffset(span.offset);
      return false;
    }
    spec_->merges.push_back(MergeSpec{
        {span.offset, static_cast<uint32_t>(space)},
        {static_cast<uint32_t>(span.offset + space + 1), static_cast<uint32_t>(len - space - 1)}});
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType len, bool copy) {
    if (mode_ == Mode::kVocab) {
      key_ = TextSpan{static_cast<uint32_t>(str - base_), len};
      return true;
    }
    if (mode_ != Mode::kForward) return BadEntry();
    if (!frames_.empty()) frames_.back().key = std::string_view(str, len);
    return doc_->Key(str, len, copy);
  }
  bool StartObject() {
    if (mode_ != Mode::kForward) return BadEntry();
    if (AtModelMember("vocab")) {
      mode_ = Mode::kVocab;
      spec_->vocab.clear();  // keeps the reservation
      return true;
    }
    frames_.push_back({true, {}});
    return doc_->StartObject();
  }
  bool EndObject(rapidjson::SizeType members) {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kForward;
      captured_->vocab = true;
      return doc_->Null();
    }
    if (mode_ != Mode::kForward) return BadEntry();
    frames_.pop_back();
    return doc_->EndObject(members);
  }
  bool StartArray() {
    if (mode_ == Mode::kMerges) {
      if (pair_depth_) return BadEntry();
      pair_depth_ = true;
      pair_size_ = 0;
      return true;
    }
    if (mode_ != Mode::kForward) return BadEntry();
    if (AtModelMember("merges")) {
      mode_ = Mode::kMerges;
      spec_->merges.clear();
      return true;
    }
    frames_.push_back({false, {}});
    return doc_->StartArray();
  }
  bool EndArray(rapidjson::SizeType elements) {
    if (mode_ == Mode::kMerges) {
      if (!pair_depth_) {
        mode_ = Mode::kForward;
        captured_->merges = true;
        return doc_->Null();
      }
      if (pair_size_ != 2) return BadEntry();
      pair_depth_ = false;
      spec_->merges.push_back(MergeSpec{pair_[0], pair_[1]});
      return true;
    }
    if (mode_ != Mode::kForward) return BadEntry();
    frames_.pop_back();
    return doc_->EndArray(elements);
  }

 private:
  enum class Mode { kForward, kVocab, kMerges };
  struct Frame {
    bool object;
    std::string_view key;  // the last key seen in this object
  };

  // A value that starts or ends nothing: forwarded as is.
  static bool Forwarded(bool ok) { return ok; }

  // Whether a container starting now is the value of /model/<member>.
  bool AtModelMember(std::string_view member) const {
    return frames_.size() == 2 && frames_[0].object && frames_[0].key == "model" &&
           frames_[1].object && frames_[1].key == member;
  }

  bool VocabId(unsigned id) {
    if (id > static_cast<unsigned>(std::numeric_limits<int32_t>::max())) return BadEntry();
    spec_->vocab.push_back(VocabEntry{key_, static_cast<int32_t>(id)});
    return true;
  }

  std::string MergePointer() const {
    return "/model/merges/" + std::to_string(spec_->merges.size());
  }

  bool BadEntry() {
    if (mode_ == Mode::kVocab) {
      error = ctx_.Format("/model/vocab",
                          "token " + Quote(std::string_view(base_ + key_.offset, key_.length)) +
                              " has an id that is not a non-negative 32-bit integer")
                  .WithOffset(key_.offset);
    } else {
      error = ctx_.Format(MergePointer(), "expected \"a b\" or [\"a\", \"b\"]");
    }
    return false;
  }

  rapidjson::Document* doc_;
  TokenizerSpec* spec_;
  const Ctx& ctx_;
  Captured* captured_;
  const char* base_;
  Mode mode_ = Mode::kForward;
  std::vector<Frame> frames_;
  TextSpan key_{0, 0};
  bool pair_depth_ = false;
  int pair_size_ = 0;
  TextSpan pair_[2] = {};
};

Status ParseModel(const Ctx& ctx, const Value& model, const Captured& captured,
                  TokenizerSpec* spec) {
  const std::string ptr = "/model";
  if (!model.IsObject()) return ctx.Format(ptr, "expected an object");
  if (const Value* t = Member(model, "type"); t != nullptr) {
    if (!t->IsString()) return ctx.Format(Ptr(ptr, "type"), "expected a string");
    if (Sv(*t) != "BPE") {
      return ctx.Unsupported(
          Ptr(ptr, "type"),
          "model type '" + std::string(Sv(*t)) + "' is not supported (sieve runs BPE models)", t);
    }
  }
  // /model/vocab and /model/merges were captured by CaptureHandler, which left null in the DOM.
  const Value* vocab = Member(model, "vocab");
  if (vocab == nullptr || !vocab->IsNull() || !captured.vocab) {
    return ctx.Format(Ptr(ptr, "vocab"), "expected an object mapping tokens to ids");
  }
  if (const Value* merges = Member(model, "merges"); merges != nullptr && !merges->IsNull()) {
    return ctx.Format(Ptr(ptr, "merges"), "expected an array");
  }
  SIEVE_RETURN_IF_ERROR(GetOptString(ctx, model, "unk_token", ptr, &spec->unk_token));
  SIEVE_RETURN_IF_ERROR(GetBool(ctx, model, "byte_fallback", ptr, false, &spec->byte_fallback));
  SIEVE_RETURN_IF_ERROR(GetBool(ctx, model, "fuse_unk", ptr, false, &spec->fuse_unk));
  SIEVE_RETURN_IF_ERROR(GetBool(ctx, model, "ignore_merges", ptr, false, &spec->ignore_merges));
  if (const Value* d = Member(model, "dropout"); d != nullptr && !d->IsNull()) {
    if (!d->IsNumber()) return ctx.Format(Ptr(ptr, "dropout"), "expected a number or null");
    if (d->GetDouble() > 0) {
      return ctx.Unsupported(Ptr(ptr, "dropout"), "BPE dropout is not supported");
    }
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::optional<std::string> affix;
    SIEVE_RETURN_IF_ERROR(GetOptString(ctx, model, key, ptr, &affix));
    if (affix && !affix->empty()) {
      return ctx.Unsupported(Ptr(ptr, key),
                             std::string("a non-empty ") + key + " is not supported");
    }
  }
  return Status::Ok();
}

Status ParseAddedTokens(const Ctx& ctx, const Value& root, TokenizerSpec* spec) {
  const Value* list = Member(root, "added_tokens");
  if (list == nullptr || list->IsNull()) return Status::Ok();
  if (!list->IsArray()) return ctx.Format("/added_tokens", "expected an array");
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const Value& t = (*list)[i];
    const std::string ptr = Ptr("/added_tokens", i);
    if (!t.IsObject()) return ctx.Format(ptr, "expected an object");
    AddedTokenSpec a;
    const Value* id = Member(t, "id");
    if (id == nullptr || !id->IsUint() ||
        id->GetUint() > static_cast<unsigned>(std::numeric_limits<int32_t>::max())) {
      return ctx.Format(Ptr(ptr, "id"), "expected a non-negative integer id");
    }
    a.id = static_cast<int32_t>(id->GetUint());
    const Value* content = nullptr;
    SIEVE_RETURN_IF_ERROR(GetString(ctx, t, "content", ptr, &content));
    if (content->GetStringLength() == 0) return ctx.Format(Ptr(ptr, "content"), "is empty");
    a.content = std::string(Sv(*content));
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, t, "special", ptr, false, &a.special));
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, t, "lstrip", ptr, false, &a.lstrip));
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, t, "rstrip", ptr, false, &a.rstrip));
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, t, "single_word", ptr, false, &a.single_word));
    SIEVE_RETURN_IF_ERROR(GetBool(ctx, t, "normalized", ptr, !a.special, &a.normalized));
    spec->added_tokens.push_back(std::move(a));
  }
  return Status::Ok();
}

// bos_token / eos_token: "text", {"content": "text", ...} or null.
Status ParseConfigToken(const Ctx& ctx, const Value& root, const char* key,
                        std::optional<std::string>* out) {
  const Value* v = Member(root, key);
  if (v == nullptr || v->IsNull()) return Status::Ok();
  if (v->IsString()) {
    *out = std::string(Sv(*v));
    return Status::Ok();
  }
  if (v->IsObject()) {
    const Value* c = Member(*v, "content");
    if (c != nullptr && c->IsString()) {
      *out = std::string(Sv(*c));
      return Status::Ok();
    }
  }
  return ctx.Format(Ptr("", key), "expected a string, {\"content\": ...} or null");
}

Status ParseConfig(std::string_view config_json, const std::string& config_name,
                   TokenizerSpec* spec) {
  rapidjson::Document doc;
  // Bounded nesting, iterative parse: no file reaches the stack (support/json_nesting.h).
  SIEVE_RETURN_IF_ERROR(CheckJsonNesting(config_json, kMaxJsonNesting, config_name));
  doc.Parse<rapidjson::kParseIterativeFlag>(config_json.data(), config_json.size());
  const Ctx ctx{config_name};
  if (doc.HasParseError()) {
    Status s(StatusCode::kFormat, config_name + ": invalid JSON at offset " +
                                      std::to_string(doc.GetErrorOffset()) + ": " +
                                      rapidjson::GetParseError_En(doc.GetParseError()));
    s.WithOffset(static_cast<int64_t>(doc.GetErrorOffset()));
    return s;
  }
  if (!doc.IsObject()) return ctx.Format("", "expected a JSON object");
  SIEVE_RETURN_IF_ERROR(ParseConfigToken(ctx, doc, "bos_token", &spec->bos_token));
  return ParseConfigToken(ctx, doc, "eos_token", &spec->eos_token);
}

}  // namespace

Result<std::unique_ptr<TokenizerSpec>> ParseTokenizerSpec(std::string json,
                                                          std::string_view config_json,
                                                          const std::string& name,
                                                          const std::string& config_name) {
  auto spec = std::make_unique<TokenizerSpec>();
  spec->json = std::move(json);
  SIEVE_RETURN_IF_ERROR(CheckJsonNesting(spec->json, kMaxJsonNesting, name));  // see ParseConfig
  const size_t size = spec->json.size();
  spec->json.push_back('\0');  // in-situ parsing needs a terminated, writable buffer
  const Ctx ctx{name, spec->json.data(), size};
  // Generous reservations (untouched pages cost nothing) spare the regrowth copies: a vocab
  // entry takes at least ~6 bytes of JSON, a merge at least ~6.
  spec->vocab.reserve(size / 24);
  spec->merges.reserve(size / 12);
  rapidjson::Document doc;
  Captured captured;
  CaptureHandler handler(&doc, spec.get(), ctx, &captured);
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& d) {
    (void)d;
    rapidjson::InsituStringStream stream(spec->json.data());
    rapidjson::Reader reader;
    result = reader.Parse<rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag>(stream,
                                                                                        handler);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (result.IsError()) {
    if (!handler.error.ok()) return handler.error;
    const size_t off = result.Offset();
    Status s(StatusCode::kFormat, name + ": invalid JSON at offset " + std::to_string(off) + ": " +
                                      rapidjson::GetParseError_En(result.Code()));
    s.WithOffset(static_cast<int64_t>(off));
    return s;
  }
  if (!doc.IsObject()) return ctx.Format("", "expected a JSON object");
  const Value* model = Member(doc, "model");
  if (model == nullptr) return ctx.Format("", "missing \"model\"");
  SIEVE_RETURN_IF_ERROR(ParseModel(ctx, *model, captured, spec.get()));
  SurfaceHints hints;
  if (const Value* n = Member(doc, "normalizer"); n != nullptr) {
    SIEVE_RETURN_IF_ERROR(ParseNormalizer(ctx, *n, "/normalizer", spec.get()));
  }
  if (const Value* p = Member(doc, "pre_tokenizer"); p != nullptr) {
    SIEVE_RETURN_IF_ERROR(ParsePreTokenizer(ctx, *p, "/pre_tokenizer", spec.get(), &hints));
  }
  if (const Value* d = Member(doc, "decoder"); d != nullptr) {
    SIEVE_RETURN_IF_ERROR(ParseDecoder(ctx, *d, "/decoder", spec.get(), &hints));
  }
  SIEVE_RETURN_IF_ERROR(ParseAddedTokens(ctx, doc, spec.get()));
  for (const NormalizerStep& step : spec->normalizer) {
    if (step.kind == NormalizerStep::Kind::kReplace && step.content == "\xE2\x96\x81") {
      hints.sentencepiece = true;
    }
  }
  if (spec->byte_fallback) hints.sentencepiece = true;
  if (hints.byte_level) {
    spec->kind = VocabKind::kByteLevel;
  } else if (hints.sentencepiece) {
    spec->kind = VocabKind::kSentencePiece;
  } else {
    return ctx.Unsupported("",
                           "cannot tell how tokens spell bytes: neither a ByteLevel nor a "
                           "Metaspace/U+2581 (SentencePiece) pre-tokenizer or decoder");
  }
  if (!config_json.empty()) {
    SIEVE_RETURN_IF_ERROR(ParseConfig(config_json, config_name, spec.get()));
  }
  return spec;
}

}  // namespace sieve::tokenizer_internal
