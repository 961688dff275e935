// The schema document and its references: a JSON tree that keeps number lexemes (RapidJSON's SAX
// reader with numbers as strings, iterative, so depth is bounded by our limit and not by the C++
// stack), JSON pointers, JSON equality, RFC 3986 reference resolution, and the index of schema
// resources ($id) and anchors ($anchor, draft-6/7 "#name" ids) that `$ref` resolves against.
//
// Only schema positions are indexed (the values of applicator keywords), so an `$id` inside an
// `enum` value or under an unknown keyword is not an identifier. Each node records the base URI and
// the draft in effect; nodes outside schema positions inherit their parent's. A `$ref` whose
// target document is not this one is kUnsupported ("remote $ref"): sieve never fetches anything.
#include <cctype>
#include <cstdlib>
#include <utility>

#include "grammar/json_schema_internal.h"
#include "grammar/support/json_pointer.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"

namespace sieve::jsonschema {

class JDocBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, JDocBuilder> {
 public:
  JDocBuilder(JDoc* doc, int32_t max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return Leaf(JNode::kNull, {}); }
  bool Bool(bool b) { return Leaf(b ? JNode::kTrue : JNode::kFalse, {}); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return Leaf(JNode::kNumber, std::string_view(s, n));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return Leaf(JNode::kString, std::string_view(s, n));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    key_.assign(s, n);
    return true;
  }
  bool StartObject() { return Open(JNode::kObject); }
  bool StartArray() { return Open(JNode::kArray); }
  bool EndObject(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }
  bool too_deep() const { return too_deep_; }

 private:
  int32_t NewNode(JNode::Kind kind) {
    int32_t id = static_cast<int32_t>(doc_->nodes_.size());
    JNode n;
    n.kind = kind;
    if (!stack_.empty()) {
      int32_t p = stack_.back();
      n.parent = p;
      JNode& parent = doc_->nodes_[p];
      n.key = parent.kind == JNode::kObject ? key_ : std::to_string(parent.kids.size());
      parent.kids.push_back(id);
    }
    doc_->nodes_.push_back(std::move(n));
    return id;
  }
  bool Leaf(JNode::Kind kind, std::string_view text) {
    int32_t id = NewNode(kind);
    doc_->nodes_[id].text.assign(text);
    return true;
  }
  bool Open(JNode::Kind kind) {
    if (static_cast<int32_t>(stack_.size()) >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    stack_.push_back(NewNode(kind));
    return true;
  }

  JDoc* doc_;
  int32_t max_depth_;
  std::vector<int32_t> stack_;
  std::string key_;
  bool too_deep_ = false;
};

Status JDoc::Parse(std::string_view text, int32_t max_depth) {
  nodes_.clear();
  Result<int32_t> root = ParseMore(text, max_depth);
  return root.ok() ? Status::Ok() : root.status();
}

Result<int32_t> JDoc::ParseMore(std::string_view text, int32_t max_depth) {
  const int32_t root = static_cast<int32_t>(nodes_.size());
  JDocBuilder builder(this, max_depth);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag;
  rapidjson::ParseResult r = reader.Parse<kFlags>(ms, builder);
  if (builder.too_deep() || !r) {
    nodes_.resize(root);  // drop the partial tree
    if (builder.too_deep()) {
      return LimitError("schema nests deeper than max_schema_depth (" +
                        std::to_string(max_depth) + ")")
          .WithOffset(static_cast<int64_t>(r.Offset()));
    }
    return ParseError(std::string("invalid JSON: ") + rapidjson::GetParseError_En(r.Code()))
        .WithOffset(static_cast<int64_t>(r.Offset()));
  }
  return root;
}

int32_t JDoc::Member(int32_t obj, std::string_view name) const {
  const JNode& n = nodes_[obj];
  if (n.kind != JNode::kObject) return -1;
  for (size_t i = n.kids.size(); i-- > 0;) {
    if (nodes_[n.kids[i]].key == name) return n.kids[i];
  }
  return -1;
}

std::string JDoc::Pointer(int32_t id) const {
  std::vector<int32_t> chain;
  for (int32_t n = id; n >= 0 && nodes_[n].parent >= 0; n = nodes_[n].parent) chain.push_back(n);
  std::string out;
  for (size_t i = chain.size(); i-- > 0;) {
    out += '/';
    AppendPointerToken(nodes_[chain[i]].key, &out);
  }
  return out;
}

int32_t JDoc::AddValue(JNode::Kind kind, std::string text) {
  JNode n;
  n.kind = kind;
  n.text = std::move(text);
  nodes_.push_back(std::move(n));
  return static_cast<int32_t>(nodes_.size() - 1);
}

bool JDoc::Equal(int32_t a, int32_t b) const {
  const JNode& x = nodes_[a];
  const JNode& y = nodes_[b];
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case JNode::kNull:
    case JNode::kFalse:
    case JNode::kTrue:
      return true;
    case JNode::kNumber: {
      auto dx = Decimal::Parse(x.text), dy = Decimal::Parse(y.text);
      return dx && dy && Compare(*dx, *dy) == 0;
    }
    case JNode::kString:
      return x.text == y.text;
    case JNode::kArray:
      if (x.kids.size() != y.kids.size()) return false;
      for (size_t i = 0; i < x.kids.size(); ++i) {
        if (!Equal(x.kids[i], y.kids[i])) return false;
      }
      return true;
    case JNode::kObject:
      if (x.kids.size() != y.kids.size()) return false;
      for (int32_t k : x.kids) {
        int32_t other = Member(b, nodes_[k].key);
        if (other < 0 || !Equal(k, other)) return false;
      }
      return true;
  }
  return false;
}

namespace {

void AppendJsonString(std::string* out, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string JDoc::Dump(int32_t id) const {
  const JNode& n = nodes_[id];
  std::string out;
  switch (n.kind) {
    case JNode::kNull:
      return "null";
    case JNode::kFalse:
      return "false";
    case JNode::kTrue:
      return "true";
    case JNode::kNumber:
      return n.text;
    case JNode::kString:
      AppendJsonString(&out, n.text);
      return out;
    case JNode::kArray:
      out = "[";
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) out += ',';
        out += Dump(n.kids[i]);
      }
      return out + "]";
    case JNode::kObject:
      out = "{";
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(&out, nodes_[n.kids[i]].key);
        out += ':';
        out += Dump(n.kids[i]);
      }
      return out + "}";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 3986 references.

namespace {

struct Uri {
  std::string scheme, authority, path, query, fragment;
  bool has_scheme = false, has_authority = false, has_query = false, has_fragment = false;
};

Uri ParseUri(std::string_view s) {
  Uri u;
  size_t i = 0;
  // scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
  size_t colon = s.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      s.substr(0, colon).find_first_of("/?#") == std::string_view::npos) {
    u.has_scheme = true;
    u.scheme = std::string(s.substr(0, colon));
    i = colon + 1;
  }
  if (s.substr(i, 2) == "//") {
    size_t end = s.find_first_of("/?#", i + 2);
    if (end == std::string_view::npos) end = s.size();
    u.has_authority = true;
    u.authority = std::string(s.substr(i + 2, end - i - 2));
    i = end;
  }
  size_t end = s.find_first_of("?#", i);
  if (end == std::string_view::npos) end = s.size();
  u.path = std::string(s.substr(i, end - i));
  i = end;
  if (i < s.size() && s[i] == '?') {
    end = s.find('#', i);
    if (end == std::string_view::npos) end = s.size();
    u.has_query = true;
    u.query = std::string(s.substr(i + 1, end - i - 1));
    i = end;
  }
  if (i < s.size() && s[i] == '#') {
    u.has_fragment = true;
    u.fragment = std::string(s.substr(i + 1));
  }
  return u;
}

std::string RemoveDotSegments(std::string in) {
  std::string out;
  while (!in.empty()) {
    if (in.rfind("../", 0) == 0) {
      in.erase(0, 3);
    } else if (in.rfind("./", 0) == 0) {
      in.erase(0, 2);
    } else if (in.rfind("/./", 0) == 0) {
      in.replace(0, 3, "/");
    } else if (in == "/.") {
      in = "/";
    } else if (in.rfind("/../", 0) == 0 || in == "/..") {
      in = in.size() == 3 ? "/" : in.substr(3);
      size_t cut = out.rfind('/');
      out.erase(cut == std::string::npos ? 0 : cut);
    } else if (in == "." || in == "..") {
      in.clear();
    } else {
      size_t next = in.find('/', in[0] == '/' ? 1 : 0);
      if (next == std::string::npos) next = in.size();
      out += in.substr(0, next);
      in.erase(0, next);
    }
  }
  return out;
}

std::string Recompose(const Uri& u, bool with_fragment) {
  std::string out;
  if (u.has_scheme) out += u.scheme + ":";
  if (u.has_authority) out += "//" + u.authority;
  out += u.path;
  if (u.has_query) out += "?" + u.query;
  if (with_fragment && u.has_fragment) out += "#" + u.fragment;
  return out;
}

// RFC 3986 section 5.2.2.
std::string ResolveUri(const std::string& base_text, const std::string& ref_text) {
  Uri base = ParseUri(base_text), r = ParseUri(ref_text), t;
  if (r.has_scheme) {
    t = r;
    t.path = RemoveDotSegments(r.path);
  } else {
    t.has_scheme = base.has_scheme;
    t.scheme = base.scheme;
    if (r.has_authority) {
      t.has_authority = true;
      t.authority = r.authority;
      t.path = RemoveDotSegments(r.path);
      t.has_query = r.has_query;
      t.query = r.query;
    } else {
      t.has_authority = base.has_authority;
      t.authority = base.authority;
      if (r.path.empty()) {
        t.path = base.path;
        t.has_query = r.has_query || base.has_query;
        t.query = r.has_query ? r.query : base.query;
      } else {
        if (r.path[0] == '/') {
          t.path = RemoveDotSegments(r.path);
        } else {
          std::string merged;
          if (base.has_authority && base.path.empty()) {
            merged = "/" + r.path;
          } else {
            size_t cut = base.path.rfind('/');
            merged = (cut == std::string::npos ? "" : base.path.substr(0, cut + 1)) + r.path;
          }
          // A relative merge against a base without a hierarchical path (urn:) keeps the text.
          t.path = base.has_authority || (!base.path.empty() && base.path[0] == '/')
                       ? RemoveDotSegments(merged)
                       : merged;
        }
        t.has_query = r.has_query;
        t.query = r.query;
      }
    }
  }
  t.has_fragment = r.has_fragment;
  t.fragment = r.fragment;
  return Recompose(t, true);
}

void SplitFragment(const std::string& uri, std::string* doc, std::string* fragment,
                   bool* has_fragment) {
  size_t hash = uri.find('#');
  *has_fragment = hash != std::string::npos;
  *doc = *has_fragment ? uri.substr(0, hash) : uri;
  *fragment = *has_fragment ? uri.substr(hash + 1) : "";
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

JsonSchemaDraft DraftFromUri(const std::string& uri, JsonSchemaDraft fallback) {
  if (uri.find("draft-04") != std::string::npos) return JsonSchemaDraft::kDraft4;
  if (uri.find("draft-06") != std::string::npos) return JsonSchemaDraft::kDraft6;
  if (uri.find("draft-07") != std::string::npos) return JsonSchemaDraft::kDraft7;
  if (uri.find("2019-09") != std::string::npos) return JsonSchemaDraft::kDraft2019_09;
  if (uri.find("2020-12") != std::string::npos) return JsonSchemaDraft::kDraft2020_12;
  return fallback;
}

bool IsLegacy(JsonSchemaDraft d) {
  return d == JsonSchemaDraft::kDraft4 || d == JsonSchemaDraft::kDraft6 ||
         d == JsonSchemaDraft::kDraft7;
}

}  // namespace

JsonSchemaDraft Converter::DraftOf(int32_t node) const { return draft_of_[node]; }

Status Converter::IndexDocument() {
  base_of_.clear();
  draft_of_.clear();
  bases_.assign(1, "");
  IndexTree(doc_.root(), 0);
  resources_.emplace(bases_[base_of_[doc_.root()]], doc_.root());
  resources_.emplace("", doc_.root());
  return Status::Ok();
}

void Converter::IndexTree(int32_t root, int32_t base0) {
  const int32_t n = doc_.size();
  base_of_.resize(n, -1);
  draft_of_.resize(n, opts_.default_draft);
  std::vector<uint8_t> drafted(n - root, 0);  // by node - root
  // Explicit stack of (node, base index, draft).
  struct Item {
    int32_t node, base;
    JsonSchemaDraft draft;
  };
  std::vector<Item> stack{{root, base0, opts_.default_draft}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    const JNode& node = doc_.at(it.node);
    if (node.kind != JNode::kObject) {
      base_of_[it.node] = it.base;
      draft_of_[it.node] = it.draft;
      drafted[it.node - root] = 1;
      continue;
    }
    JsonSchemaDraft draft = it.draft;
    int32_t schema_kw = doc_.Member(it.node, "$schema");
    if (schema_kw >= 0 && doc_.at(schema_kw).kind == JNode::kString) {
      draft = DraftFromUri(doc_.at(schema_kw).text, draft);
    }
    int32_t base = it.base;
    bool legacy = IsLegacy(draft);
    int32_t id_kw = doc_.Member(it.node, draft == JsonSchemaDraft::kDraft4 ? "id" : "$id");
    if (id_kw >= 0 && doc_.at(id_kw).kind == JNode::kString &&
        !(legacy && doc_.Member(it.node, "$ref") >= 0)) {
      std::string resolved = ResolveUri(bases_[base], doc_.at(id_kw).text);
      std::string docu, frag;
      bool has_frag;
      SplitFragment(resolved, &docu, &frag, &has_frag);
      const std::string& id_text = doc_.at(id_kw).text;
      if (!id_text.empty() && id_text[0] == '#') {
        anchors_[docu + "#" + frag] = it.node;  // draft 6/7 plain-name id
      } else {
        bases_.push_back(docu);
        base = static_cast<int32_t>(bases_.size() - 1);
        resources_[docu] = it.node;
        if (has_frag && !frag.empty()) anchors_[docu + "#" + frag] = it.node;
      }
    }
    for (const char* kw : {"$anchor", "$dynamicAnchor"}) {
      int32_t a = doc_.Member(it.node, kw);
      if (a >= 0 && doc_.at(a).kind == JNode::kString) {
        anchors_[bases_[base] + "#" + doc_.at(a).text] = it.node;
      }
    }
    base_of_[it.node] = base;
    draft_of_[it.node] = draft;
    drafted[it.node - root] = 1;
    for (int32_t kid : node.kids) {
      const std::string& k = doc_.at(kid).key;
      const JNode& v = doc_.at(kid);
      static const char* kMaps[] = {"properties",  "patternProperties", "$defs",
                                    "definitions", "dependentSchemas",  "dependencies"};
      static const char* kSingles[] = {"additionalProperties",
                                       "additionalItems",
                                       "items",
                                       "contains",
                                       "propertyNames",
                                       "not",
                                       "if",
                                       "then",
                                       "else",
                                       "unevaluatedItems",
                                       "unevaluatedProperties",
                                       "contentSchema"};
      static const char* kArrays[] = {"items", "prefixItems", "allOf", "anyOf", "oneOf"};
      bool is_map = false, is_single = false, is_array = false;
      for (const char* m : kMaps) is_map |= k == m;
      for (const char* m : kSingles) is_single |= k == m;
      for (const char* m : kArrays) is_array |= k == m;
      if (is_map && v.kind == JNode::kObject) {
        base_of_[kid] = base;
        drafted[kid - root] = 1;
        draft_of_[kid] = draft;
        for (int32_t s : v.kids) stack.push_back({s, base, draft});
      } else if (is_array && v.kind == JNode::kArray) {
        base_of_[kid] = base;
        drafted[kid - root] = 1;
        draft_of_[kid] = draft;
        for (int32_t s : v.kids) stack.push_back({s, base, draft});
      } else if (is_single &&
                 (v.kind == JNode::kObject || v.kind == JNode::kTrue || v.kind == JNode::kFalse)) {
        stack.push_back({kid, base, draft});
      }
    }
  }
  // Nodes outside schema positions inherit their parent's base and draft (parents come first).
  for (int32_t i = root; i < n; ++i) {
    if (base_of_[i] < 0) {
      base_of_[i] = doc_.at(i).parent >= 0 ? base_of_[doc_.at(i).parent] : base0;
    }
    if (!drafted[i - root] && doc_.at(i).parent >= 0) draft_of_[i] = draft_of_[doc_.at(i).parent];
  }
}

Status Converter::LoadReferencedDocuments() {
  if (!opts_.load_document) return Status::Ok();
  int32_t scanned = 0, loaded = 0;
  size_t bytes = 0;
  while (scanned < doc_.size()) {
    const int32_t end = doc_.size();
    for (int32_t i = scanned; i < end; ++i) {
      const JNode& ref = doc_.at(i);
      if (ref.kind != JNode::kString || ref.parent < 0 || ref.key != "$ref") continue;
      std::string docu, frag;
      bool has_frag;
      SplitFragment(ResolveUri(bases_[base_of_[ref.parent]], ref.text), &docu, &frag, &has_frag);
      if (resources_.count(docu) > 0 || document_errors_.count(docu) > 0) continue;
      if (loaded >= opts_.max_documents) {
        document_errors_[docu] = LimitError("$ref to '" + docu + "': more than max_documents (" +
                                            std::to_string(opts_.max_documents) +
                                            ") documents");
        continue;
      }
      std::optional<std::string> text = opts_.load_document(docu);
      if (!text) {
        document_errors_[docu] = Status::Ok();  // unknown: a remote $ref
        continue;
      }
      ++loaded;
      bytes += text->size();
      if (bytes > opts_.max_schema_bytes) {
        document_errors_[docu] = LimitError("document '" + docu +
                                            "': the schema documents together are larger than "
                                            "max_schema_bytes (" +
                                            std::to_string(opts_.max_schema_bytes) + ")");
        continue;
      }
      Result<int32_t> root = doc_.ParseMore(*text, opts_.max_schema_depth);
      if (!root.ok()) {
        Status e(root.status().code(), "document '" + docu + "': " + root.status().message());
        if (root.status().offset() >= 0) e.WithOffset(root.status().offset());
        document_errors_[docu] = e;
        continue;
      }
      bases_.push_back(docu);
      IndexTree(*root, static_cast<int32_t>(bases_.size() - 1));
      resources_.emplace(docu, *root);
      document_roots_[*root] = docu;
    }
    scanned = end;
  }
  return Status::Ok();
}

Result<int32_t> Converter::ResolveRef(int32_t schema_node, const std::string& ref) {
  std::string full = ResolveUri(bases_[base_of_[schema_node]], ref);
  std::string docu, frag;
  bool has_frag;
  SplitFragment(full, &docu, &frag, &has_frag);
  auto res = resources_.find(docu);
  if (res == resources_.end()) {
    auto failed = document_errors_.find(docu);
    if (failed != document_errors_.end() && !failed->second.ok()) return failed->second;
    return Unsupported("remote $ref '" + ref + "' (resolves to '" + docu +
                       "'): only references within the schema document" +
                       (opts_.load_document ? " and the documents loaded" : "") +
                       " are supported");
  }
  int32_t node = res->second;
  frag = PercentDecode(frag);
  if (frag.empty()) return node;
  if (frag[0] != '/') {
    auto a = anchors_.find(docu + "#" + frag);
    if (a == anchors_.end()) {
      return InvalidArgument("$ref '" + ref + "': no anchor named '" + frag + "'");
    }
    return a->second;
  }
  // Walks the pointer from `at`: the node, or -1 with the missing key and where.
  auto walk = [&](int32_t at, std::string* missing, std::string* missing_at) -> int32_t {
    size_t i = 1;
    while (true) {
      size_t end = frag.find('/', i);
      std::string token = frag.substr(i, end == std::string::npos ? std::string::npos : end - i);
      std::string key;
      for (size_t j = 0; j < token.size(); ++j) {
        if (token[j] == '~' && j + 1 < token.size() &&
            (token[j + 1] == '0' || token[j + 1] == '1')) {
          key.push_back(token[j + 1] == '0' ? '~' : '/');
          ++j;
        } else {
          key.push_back(token[j]);
        }
      }
      const JNode& cur = doc_.at(at);
      int32_t next = -1;
      if (cur.kind == JNode::kObject) {
        next = doc_.Member(at, key);
      } else if (cur.kind == JNode::kArray && !key.empty() &&
                 key.find_first_not_of("0123456789") == std::string::npos && key.size() < 10) {
        size_t idx = std::stoul(key);
        if (idx < cur.kids.size()) next = cur.kids[idx];
      }
      if (next < 0) {
        *missing = key;
        *missing_at = doc_.Pointer(at);
        return -1;
      }
      at = next;
      if (end == std::string::npos) return at;
      i = end + 1;
    }
  };
  std::string missing, missing_at;
  const int32_t found = walk(node, &missing, &missing_at);
  if (found >= 0) return found;
  // A fragment-only pointer under an embedded `id` / `$id` that names a resource of its own
  // resolves within that resource, where draft-4 era schemas often meant their whole document
  // ("#/definitions/resource/definitions/x" inside "definitions/resource", whose id is
  // "schema/resource"). When the pointer fails there but resolves from the enclosing document's
  // root, that is taken, as common validators do, and noted.
  if (!ref.empty() && ref[0] == '#') {
    int32_t top = node;
    while (doc_.at(top).parent >= 0 && document_roots_.count(top) == 0) top = doc_.at(top).parent;
    std::string unused, unused_at;
    const int32_t from_root = top != node ? walk(top, &unused, &unused_at) : -1;
    if (from_root >= 0) {
      Note(JsonSchemaNote::Kind::kInfo, schema_node, "$ref",
           "'" + ref + "' does not resolve in the resource '" + docu +
               "' (an embedded id); resolved from the document's root instead");
      return from_root;
    }
  }
  return InvalidArgument("$ref '" + ref + "' does not resolve: no '" + missing + "' at '" +
                         missing_at + "'");
}

}  // namespace sieve::jsonschema
