// Structural tags (structural_tag.h): spec -> Grammar IR.
//
// The grammar, for a spec with tags and tool_choice auto (no section, parallel):
//   root ::= [reasoning-begin reasoning-text reasoning-end ws] text (call text)*
//   call ::= tag_0 | tag_1 | ...        tag_i ::= begin_i content_i end_i
// where `text` excludes every trigger (free_text below) and content_i is the imported grammar of
// the tag's schema / EBNF / regex. Required: call (ws call)*; a section wraps the calls:
// sec-begin call (sep call)* sec-end. Token pieces become sentinel code points (TokenBinding).
#include "grammar/structural_tag.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "grammar/ebnf_parser.h"
#include "grammar/openai_request.h"
#include "grammar/regex_parser.h"
#include "grammar/structural_tag_tokens.h"
#include "grammar/support/utf8.h"

namespace sieve {
namespace {

constexpr char32_t kSentinelBase = 0x10FF00;
constexpr int kMaxTokenBindings = 256;
constexpr int32_t kMaxWhitespace = 16;

Result<RuleId> Copy(const Grammar& src, const std::string& prefix, bool drop_sentinels,
                    Grammar* dst);

std::vector<char32_t> CodePoints(std::string_view s) {
  std::vector<char32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(s.data()) + i, s.size() - i, &cp);
    if (n <= 0) break;  // callers validate UTF-8 first
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

std::string Utf8(const std::vector<char32_t>& cps, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) AppendUtf8(&s, cps[i]);
  return s;
}

ExprId NotIn(Grammar* g, const std::set<char32_t>& cps) {
  std::vector<CodepointRange> r;
  for (char32_t c : cps) r.push_back({c, c});
  return g->AddCharClass(std::move(r), /*negate=*/true);
}

class Builder {
 public:
  Builder(const StructuralTagSpec& spec, const StructuralTagOptions& opts)
      : spec_(spec), opts_(opts) {}

  Result<StructuralTagGrammar> Build();

 private:
  // Text without any of `triggers` as a substring (see the file comment of structural_tag.h).
  Result<ExprId> FreeText(const std::vector<std::string>& triggers, const std::string& pointer);
  Result<ExprId> Marker(const TagMarker& m, const std::string& pointer);
  Result<std::string> Sentinel(const TagPiece& p, const std::string& pointer);
  Result<ExprId> Content(const TagContent& c, const TagMarker& end, const std::string& prefix,
                         const std::string& pointer);
  Result<ExprId> Calls(bool required);
  ExprId Whitespace() {
    ExprId cls = g_.AddCharClass({{' ', ' '}, {'\t', '\t'}, {'\n', '\n'}, {'\r', '\r'}}, false);
    return g_.AddRepeat(cls, 0, kMaxWhitespace);
  }
  ExprId Rule(const std::string& name, ExprId body) {
    RuleId r = g_.AddRule(name);
    g_.SetRuleBody(r, body);
    return g_.AddRuleRef(r);
  }
  ExprId Seq(std::initializer_list<ExprId> items) {
    std::vector<ExprId> v(items);
    return g_.AddSequence(v);
  }

  const StructuralTagSpec& spec_;
  const StructuralTagOptions& opts_;
  Grammar g_;
  StructuralTagGrammar out_;
  std::map<std::string, size_t> binding_index_;  // token text -> out_.tokens index
};

Result<std::string> Builder::Sentinel(const TagPiece& p, const std::string& pointer) {
  auto it = binding_index_.find(p.text);
  if (it != binding_index_.end()) return out_.tokens[it->second].sentinel;
  if (opts_.vocab == nullptr) {
    return InvalidArgument("the token piece \"" + p.text +
                           "\" needs a vocabulary: compile the structural tag for a model")
        .WithPointer(pointer);
  }
  const Vocabulary& v = *opts_.vocab;
  const int32_t id = FindNamedToken(v, p.text);
  if (id < 0) {
    return InvalidArgument("the vocabulary has no special or added token \"" + p.text + "\"")
        .WithPointer(pointer);
  }
  if (out_.tokens.size() >= kMaxTokenBindings) {
    return LimitError("more than 256 distinct token pieces").WithPointer(pointer);
  }
  TokenBinding b;
  b.id = id;
  b.text = p.text;
  AppendUtf8(&b.sentinel, kSentinelBase + static_cast<char32_t>(out_.tokens.size()));
  binding_index_[p.text] = out_.tokens.size();
  out_.tokens.push_back(b);
  return b.sentinel;
}

Result<ExprId> Builder::Marker(const TagMarker& m, const std::string& pointer) {
  std::vector<ExprId> items;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string ptr = pointer + "/" + std::to_string(i);
    if (m[i].token) {
      SIEVE_ASSIGN_OR_RETURN(std::string s, Sentinel(m[i], ptr));
      items.push_back(g_.AddBytes(s));
    } else if (!m[i].text.empty()) {
      if (!IsValidUtf8(m[i].text)) return InvalidArgument("marker text is not UTF-8").WithPointer(ptr);
      items.push_back(g_.AddBytes(m[i].text));
    }
  }
  if (items.empty()) return g_.AddEmpty();
  if (items.size() == 1) return items[0];
  return g_.AddSequence(items);
}

Result<ExprId> Builder::FreeText(const std::vector<std::string>& triggers,
                                 const std::string& pointer) {
  std::vector<std::vector<char32_t>> ts;
  std::set<char32_t> first;
  for (const std::string& t : triggers) {
    if (t.empty()) continue;
    ts.push_back(CodePoints(t));
    first.insert(ts.back()[0]);
  }
  for (size_t i = 0; i < ts.size(); ++i) {
    for (size_t k = 1; k < ts[i].size(); ++k) {
      if (first.count(ts[i][k])) {
        return Unsupported("trigger \"" + Utf8(ts[i], ts[i].size()) +
                           "\": a trigger's first character may not appear later in any trigger")
            .WithPointer(pointer);
      }
    }
  }
  const ExprId any_but_first = NotIn(&g_, first);
  // Proper prefixes that contain no trigger, and the characters that extend each.
  std::map<std::vector<char32_t>, std::set<char32_t>> prefixes;
  std::set<std::vector<char32_t>> full;
  for (const auto& t : ts) full.insert(t);
  for (const auto& t : ts) {
    for (size_t n = 1; n < t.size(); ++n) {
      std::vector<char32_t> p(t.begin(), t.begin() + static_cast<long>(n));
      bool has_trigger = false;
      for (size_t k = 1; k <= n && !has_trigger; ++k) {
        has_trigger = full.count(std::vector<char32_t>(p.begin(), p.begin() + static_cast<long>(k)));
      }
      if (has_trigger) break;
      prefixes[p].insert(t[n]);
    }
  }
  if (prefixes.empty()) return g_.AddRepeat(any_but_first, 0, kUnbounded);
  std::vector<std::string> texts;
  std::vector<ExprId> broken;
  for (const auto& [p, ext] : prefixes) {
    texts.push_back(Utf8(p, p.size()));
    std::set<char32_t> stop = first;
    stop.insert(ext.begin(), ext.end());
    broken.push_back(Seq({g_.AddBytes(texts.back()), NotIn(&g_, stop)}));
  }
  // (Pieces of the IR are trees: each use gets fresh expressions.)
  auto star = [&]() {
    std::vector<ExprId> plain;
    for (const std::string& t : texts) plain.push_back(g_.AddBytes(t));
    return g_.AddRepeat(plain.size() == 1 ? plain[0] : g_.AddChoice(plain), 0, kUnbounded);
  };
  const ExprId chunk =
      g_.AddChoice(std::vector<ExprId>{any_but_first, Seq({star(), g_.AddChoice(broken)})});
  return Seq({g_.AddRepeat(chunk, 0, kUnbounded), star()});
}

Result<ExprId> Builder::Content(const TagContent& c, const TagMarker& end, const std::string& prefix,
                                const std::string& pointer) {
  Result<Grammar> sub = InternalError("unset");
  switch (c.kind) {
    case TagContent::Kind::kText: {
      std::vector<std::string> stop;
      if (!end.empty() && !end[0].token) stop.push_back(end[0].text);
      return FreeText(stop, pointer);
    }
    case TagContent::Kind::kJsonSchema: {
      JsonSchemaOptions o = opts_.json;
      if (c.strict) {
        SIEVE_RETURN_IF_ERROR(CheckOpenAiStrictSchema(c.source, pointer + "/json_schema"));
        o.semantics = JsonSchemaSemantics::kStrict;
      }
      auto js = JsonSchemaToGrammar(c.source, o);
      if (!js.ok()) {
        Status s = js.status();
        return s.WithPointer(pointer + "/json_schema" + s.json_pointer());
      }
      for (JsonSchemaNote n : js->report.notes) {
        n.pointer = pointer + "/json_schema" + n.pointer;
        out_.report.notes.push_back(std::move(n));
      }
      sub = std::move(js->grammar);
      break;
    }
    case TagContent::Kind::kEbnf:
      sub = ParseEbnf(c.source);
      break;
    case TagContent::Kind::kRegex: {
      RegexOptions ro;
      ro.search_semantics = false;  // the content is the whole match, as if written ^...$
      sub = RegexToGrammar(c.source, ro);
      break;
    }
  }
  if (!sub.ok()) {
    Status s = sub.status();
    return s.WithPointer(pointer + (c.kind == TagContent::Kind::kEbnf ? "/ebnf" : "/regex"));
  }
  SIEVE_ASSIGN_OR_RETURN(RuleId root, ImportGrammar(*sub, prefix, &g_));
  return g_.AddRuleRef(root);
}

Result<ExprId> Builder::Calls(bool required) {
  std::vector<ExprId> tags;
  for (size_t i = 0; i < spec_.tags.size(); ++i) {
    const StructuralTagItem& t = spec_.tags[i];
    const std::string ptr = "/tags/" + std::to_string(i);
    SIEVE_ASSIGN_OR_RETURN(ExprId begin, Marker(t.begin, ptr + "/begin"));
    SIEVE_ASSIGN_OR_RETURN(ExprId content,
                           Content(t.content, t.end, "tag" + std::to_string(i) + "_", ptr + "/content"));
    SIEVE_ASSIGN_OR_RETURN(ExprId end, Marker(t.end, ptr + "/end"));
    tags.push_back(Seq({begin, content, end}));
  }
  const ExprId call = Rule("call", tags.size() == 1 ? tags[0] : g_.AddChoice(tags));
  auto call_ref = [&] { return g_.AddRuleRef(g_.expr(call).rule); };
  if (spec_.section) {
    const auto& s = *spec_.section;
    SIEVE_ASSIGN_OR_RETURN(ExprId b, Marker(s.begin, "/section/begin"));
    SIEVE_ASSIGN_OR_RETURN(ExprId e, Marker(s.end, "/section/end"));
    ExprId inner = call;
    if (spec_.parallel) {
      SIEVE_ASSIGN_OR_RETURN(ExprId sep, Marker(s.separator, "/section/separator"));
      inner = Seq({call, g_.AddRepeat(Seq({sep, call_ref()}), 0, kUnbounded)});
    }
    return Rule("calls", Seq({b, inner, e}));
  }
  if (!required) return call;  // the caller interleaves text
  if (!spec_.parallel) return call;
  return Rule("calls", Seq({call, g_.AddRepeat(Seq({Whitespace(), call_ref()}), 0, kUnbounded)}));
}

Result<StructuralTagGrammar> Builder::Build() {
  const RuleId root = g_.AddRule("root");
  g_.set_root(root);
  std::vector<ExprId> parts;
  if (spec_.reasoning) {
    SIEVE_ASSIGN_OR_RETURN(ExprId b, Marker(spec_.reasoning->begin, "/reasoning/begin"));
    TagContent text;
    SIEVE_ASSIGN_OR_RETURN(ExprId t, Content(text, spec_.reasoning->end, "", "/reasoning"));
    SIEVE_ASSIGN_OR_RETURN(ExprId e, Marker(spec_.reasoning->end, "/reasoning/end"));
    ExprId block = Rule("reasoning", Seq({b, t, e, Whitespace()}));
    if (!spec_.reasoning_required) block = g_.AddRepeat(block, 0, 1);
    parts.push_back(block);
  }
  const bool calls = !spec_.tags.empty() && spec_.tool_choice != ToolChoice::kNone;
  if (spec_.tool_choice == ToolChoice::kRequired && spec_.tags.empty()) {
    return InvalidArgument("tool_choice is required but there are no tags").WithPointer("/tags");
  }
  std::optional<ExprId> response;
  if (spec_.response) {
    SIEVE_ASSIGN_OR_RETURN(ExprId r, Content(*spec_.response, {}, "response_", "/response"));
    response = Rule("response", r);
  }
  if (!calls) {
    if (response) {
      parts.push_back(*response);
    } else {
      SIEVE_ASSIGN_OR_RETURN(ExprId t, FreeText({}, "/triggers"));
      parts.push_back(Rule("text", t));
    }
  } else if (spec_.tool_choice == ToolChoice::kRequired || response) {
    SIEVE_ASSIGN_OR_RETURN(ExprId c, Calls(true));
    parts.push_back(response ? g_.AddChoice(std::vector<ExprId>{*response, c}) : c);
  } else {
    // Triggers: given, or the section's begin, or each tag's first piece.
    std::vector<TagPiece> triggers = spec_.triggers;
    std::vector<std::string> where;  // JSON pointer of each trigger
    for (size_t i = 0; i < triggers.size(); ++i) where.push_back("/triggers/" + std::to_string(i));
    if (triggers.empty()) {
      if (spec_.section) {
        if (spec_.section->begin.empty()) {
          return InvalidArgument("the section needs a begin marker").WithPointer("/section/begin");
        }
        triggers.push_back(spec_.section->begin[0]);
        where.push_back("/section/begin/0");
      } else {
        for (size_t i = 0; i < spec_.tags.size(); ++i) {
          const TagMarker& b = spec_.tags[i].begin;
          if (!b.empty() && std::find(triggers.begin(), triggers.end(), b[0]) == triggers.end()) {
            triggers.push_back(b[0]);
            where.push_back("/tags/" + std::to_string(i) + "/begin/0");
          }
        }
      }
    }
    // Every call must start with a trigger, or free text could run into it unannounced.
    auto starts = [&](const TagMarker& m) {
      for (const TagPiece& tr : triggers) {
        if (m.empty() || tr.text.empty()) continue;
        if (tr.token ? (m[0].token && m[0].text == tr.text)
                     : (!m[0].token && m[0].text.compare(0, tr.text.size(), tr.text) == 0)) {
          return true;
        }
      }
      return false;
    };
    if (spec_.section) {
      if (!starts(spec_.section->begin)) {
        return InvalidArgument("the section's begin does not start with a trigger")
            .WithPointer("/section/begin");
      }
    } else {
      for (size_t i = 0; i < spec_.tags.size(); ++i) {
        if (!starts(spec_.tags[i].begin)) {
          return InvalidArgument("tag \"" + spec_.tags[i].name +
                                 "\": its begin does not start with a trigger")
              .WithPointer("/tags/" + std::to_string(i) + "/begin");
        }
      }
    }
    std::vector<std::string> string_triggers;
    for (size_t i = 0; i < triggers.size(); ++i) {
      if (triggers[i].token) {
        SIEVE_RETURN_IF_ERROR(Sentinel(triggers[i], where[i]).status());
      } else {
        string_triggers.push_back(triggers[i].text);
      }
    }
    SIEVE_ASSIGN_OR_RETURN(ExprId text, FreeText(string_triggers, "/triggers"));
    const ExprId text_ref = Rule("text", text);
    const RuleId text_rule = g_.expr(text_ref).rule;
    SIEVE_ASSIGN_OR_RETURN(ExprId c, Calls(false));
    ExprId more = Seq({c, g_.AddRuleRef(text_rule)});
    more = spec_.parallel && !spec_.section ? g_.AddRepeat(more, 0, kUnbounded)
                                            : g_.AddRepeat(more, 0, 1);
    parts.push_back(Seq({text_ref, more}));
  }
  g_.SetRuleBody(root, parts.size() == 1 ? parts[0] : g_.AddSequence(parts));
  SIEVE_RETURN_IF_ERROR(g_.Validate());
  if (!out_.tokens.empty()) {
    // Sentinels must be reachable only through their literals, never through free text or a
    // string's character class (structural_tag_tokens.h).
    Grammar clean;
    SIEVE_ASSIGN_OR_RETURN(RuleId r, Copy(g_, "", true, &clean));
    clean.set_root(r);
    SIEVE_RETURN_IF_ERROR(clean.Validate());
    g_ = std::move(clean);
  }
  out_.grammar = std::move(g_);
  return std::move(out_);
}

}  // namespace

namespace {

// ImportGrammar; with `drop_sentinels`, character classes lose U+10FF00..U+10FFFF so that only the
// sentinel literals can read those code points.
Result<RuleId> Copy(const Grammar& src, const std::string& prefix, bool drop_sentinels,
                    Grammar* dst) {
  if (src.root() < 0) return InvalidArgument("imported grammar has no root");
  std::vector<RuleId> map(src.num_rules());
  for (size_t r = 0; r < src.num_rules(); ++r) {
    const std::string name = prefix + src.rule(static_cast<RuleId>(r)).name;
    if (dst->FindRule(name) >= 0) return InternalError("rule name clash on import: " + name);
    map[r] = dst->AddRule(name);
    dst->SetRuleUniqueItems(map[r], src.rule(static_cast<RuleId>(r)).unique_items);
  }
  std::function<ExprId(ExprId)> copy = [&](ExprId id) -> ExprId {
    const Expr& e = src.expr(id);
    switch (e.kind) {
      case ExprKind::kEmpty:
        return dst->AddEmpty();
      case ExprKind::kBytes:
        return dst->AddBytes(src.bytes(e));
      case ExprKind::kCharClass: {
        std::span<const CodepointRange> r = src.ranges(e);
        std::vector<CodepointRange> ranges;
        for (CodepointRange x : r) {
          if (drop_sentinels) {
            if (x.lo >= kSentinelBase) continue;
            x.hi = std::min<char32_t>(x.hi, kSentinelBase - 1);
          }
          ranges.push_back(x);
        }
        // A class of sentinels only: U+10FEFF instead, which no token can produce either (0xF4 lead).
        if (ranges.empty()) ranges.push_back({0x10FEFF, 0x10FEFF});
        return dst->AddCharClass(std::move(ranges), false);
      }
      case ExprKind::kRuleRef:
        return dst->AddRuleRef(map[e.rule]);
      case ExprKind::kRepeat:
        return dst->AddRepeat(copy(src.children(e)[0]), e.min, e.max);
      case ExprKind::kSequence:
      case ExprKind::kChoice: {
        std::vector<ExprId> kids;
        for (ExprId k : src.children(e)) kids.push_back(copy(k));
        return e.kind == ExprKind::kSequence ? dst->AddSequence(kids) : dst->AddChoice(kids);
      }
    }
    return dst->AddEmpty();
  };
  for (size_t r = 0; r < src.num_rules(); ++r) {
    const Rule& rule = src.rule(static_cast<RuleId>(r));
    if (rule.body != kNoExpr) dst->SetRuleBody(map[r], copy(rule.body));
    if (rule.lookahead != kNoExpr) dst->SetRuleLookahead(map[r], copy(rule.lookahead));
  }
  return map[src.root()];
}

}  // namespace

Result<RuleId> ImportGrammar(const Grammar& src, const std::string& prefix, Grammar* dst) {
  return Copy(src, prefix, false, dst);
}

Result<StructuralTagGrammar> StructuralTagToGrammar(const StructuralTagSpec& spec,
                                                    const StructuralTagOptions& opts) {
  Builder b(spec, opts);
  return b.Build();
}

}  // namespace sieve
