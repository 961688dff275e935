// The JSON Schema converter's driver: the public entry points, term hash-consing and evaluation,
// the emission of terms as grammar rules, the whitespace layouts, the any-JSON-value grammar, and
// the report.
//
// Evaluation (Eval) is memoised per term and guarded against a term that needs itself to be
// evaluated (`{"allOf": [{"$ref": "#"}]}` defines nothing): such a schema is kUnsupported. Emission
// (EmitTerm) declares a term's rule before building its body, so recursive schemas become recursive
// rules; a rule per (term, indentation depth) in kIndent mode. A formula's clauses that came
// unchanged from another term (anyOf branches, $ref targets) are emitted as a reference to that
// term's rule, so a definition used in fifty places is one rule.
//
// Automata from json_schema_automaton.h become rules here (EmitDfaRules): one rule per state, a
// self-loop as a `*` repetition inside its rule (so `[a-z]+` costs no recursion), other edges as
// `unit next_state` alternatives; the simplifier inlines the rules used once.
#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

#include "grammar/json_schema_internal.h"
#include "grammar/support/json_pointer.h"

namespace sieve {

bool JsonSchemaReport::loosened() const {
  for (const JsonSchemaNote& n : notes) {
    if (n.kind == JsonSchemaNote::Kind::kIgnored || n.kind == JsonSchemaNote::Kind::kLoosened) {
      return true;
    }
  }
  return false;
}

const char* JsonSchemaNoteKindName(JsonSchemaNote::Kind kind) {
  switch (kind) {
    case JsonSchemaNote::Kind::kIgnored:
      return "ignored";
    case JsonSchemaNote::Kind::kLoosened:
      return "loosened";
    case JsonSchemaNote::Kind::kNarrowed:
      return "narrowed";
    case JsonSchemaNote::Kind::kInfo:
      return "info";
  }
  return "?";
}

std::string JsonSchemaReport::ToString() const {
  std::string out;
  for (const JsonSchemaNote& n : notes) {
    out += JsonSchemaNoteKindName(n.kind);
    out += " ";
    out += n.pointer.empty() ? "/" : n.pointer;
    out += ": ";
    out += n.message;
    out += "\n";
  }
  return out;
}

Result<JsonSchemaGrammar> JsonSchemaToGrammar(std::string_view schema_json,
                                              const JsonSchemaOptions& opts) {
  jsonschema::Converter conv(opts);
  return conv.Run(schema_json);
}

Grammar BuiltinJsonGrammar(const JsonSchemaOptions& opts) {
  jsonschema::Converter conv(opts);
  return conv.BuildAnyValueGrammar();
}

namespace jsonschema {

namespace {

// Evaluation and emission recurse once per subschema level (a $ref chain deepens them without
// deepening the document), ~3 KiB of stack per level in a release build. Both stop at
// max_schema_depth x this, which keeps the default's worst case within the 1 MiB stack bound
// (SECURITY.md; tests/grammar/stack_bound_test.cc).
constexpr int32_t kSubschemaDepthFactor = 2;

std::string Sanitize(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (ok) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

}  // namespace

bool IsAnnotationKeyword(std::string_view k) {
  static const char* kAnnotations[] = {"title",
                                       "description",
                                       "default",
                                       "examples",
                                       "example",
                                       "deprecated",
                                       "readOnly",
                                       "writeOnly",
                                       "$comment",
                                       "contentEncoding",
                                       "contentMediaType",
                                       "contentSchema",
                                       "discriminator",
                                       "externalDocs",
                                       "xml",
                                       "$schema",
                                       "$id",
                                       "id",
                                       "$anchor",
                                       "$vocabulary",
                                       "$dynamicAnchor",
                                       "$recursiveAnchor",
                                       "$defs",
                                       "definitions",
                                       "propertyOrder",
                                       "strict"};
  for (const char* a : kAnnotations) {
    if (k == a) return true;
  }
  return k.rfind("x-", 0) == 0;
}

Converter::Converter(const JsonSchemaOptions& opts) : opts_(opts) {
  start_ = std::chrono::steady_clock::now();
  terms_.push_back({Term::kTrue, -1, {}});
  terms_.push_back({Term::kFalse, -1, {}});
  formulas_.resize(2);
  evaluating_.resize(2, 0);
}

bool Converter::any_order() const {
  if (opts_.property_order == JsonPropertyOrder::kAny) return true;
  if (opts_.property_order == JsonPropertyOrder::kSchema) return false;
  return !strict();
}

Result<JsonSchemaGrammar> Converter::Run(std::string_view text) {
  if (text.size() > opts_.max_schema_bytes) {
    return LimitError("schema is larger than max_schema_bytes (" +
                      std::to_string(opts_.max_schema_bytes) + ")");
  }
  SIEVE_RETURN_IF_ERROR(doc_.Parse(text, opts_.max_schema_depth));
  SIEVE_RETURN_IF_ERROR(IndexDocument());
  SIEVE_RETURN_IF_ERROR(LoadReferencedDocuments());
  SIEVE_RETURN_IF_ERROR(ReadXGuidance());
  SIEVE_RETURN_IF_ERROR(ReadSeparators());
  TermId root = Src(doc_.root());
  auto f = Eval(root);
  if (!f.ok()) return f.status();
  if ((*f)->clauses.empty() || !TermSatisfiable(root, 2)) {
    return InvalidArgument(std::string(kUnsatisfiableSchemaMessage)).WithPointer("");
  }
  Ctx ctx;
  ctx.depth = opts_.whitespace == JsonWhitespace::kIndent && !xg_.layout ? 0 : -1;
  RuleId root_rule = g_.AddRule(opts_.root_rule_name.empty() ? "root" : opts_.root_rule_name);
  rule_name_counts_[g_.rule(root_rule).name] = 1;
  rule_names_.insert(g_.rule(root_rule).name);
  if (rule_loc_.size() <= static_cast<size_t>(root_rule)) rule_loc_.resize(root_rule + 1, -1);
  rule_loc_[root_rule] = doc_.root();
  auto body = EmitTerm(root, ctx);
  if (!body.ok()) return body.status();
  g_.SetRuleBody(root_rule, Ref(*body));
  g_.set_root(root_rule);
  SIEVE_RETURN_IF_ERROR(CheckBudget());
  Status valid = g_.Validate();
  if (!valid.ok())
    return InternalError("JSON Schema produced an invalid grammar: " + valid.message());
  JsonSchemaGrammar out;
  out.stats.subschemas = static_cast<int32_t>(terms_.size());
  out.stats.rules = static_cast<int32_t>(g_.num_rules());
  out.stats.exprs = g_.num_exprs();
  out.stats.convert_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  for (size_t r = 0; r < rule_loc_.size(); ++r) {
    if (rule_loc_[r] >= 0) out.rule_locations[g_.rule(r).name] = PointerOf(rule_loc_[r]);
  }
  out.grammar = std::move(g_);
  out.report = std::move(report_);
  return out;
}

Grammar Converter::BuildAnyValueGrammar() {
  Ctx ctx;
  ctx.depth = opts_.whitespace == JsonWhitespace::kIndent ? 0 : -1;
  RuleId root = g_.AddRule(opts_.root_rule_name.empty() ? "root" : opts_.root_rule_name);
  rule_name_counts_[g_.rule(root).name] = 1;
  rule_names_.insert(g_.rule(root).name);
  g_.SetRuleBody(root, Ref(AnyValueRule(ctx)));
  g_.set_root(root);
  return std::move(g_);
}

// ---------------------------------------------------------------------------------------------
// Terms

TermId Converter::MakeTerm(Term t) {
  auto key = std::make_pair(std::make_pair(static_cast<int>(t.op), t.node), t.args);
  auto it = term_ids_.find(key);
  if (it != term_ids_.end()) return it->second;
  TermId id = static_cast<TermId>(terms_.size());
  terms_.push_back(std::move(t));
  formulas_.emplace_back();
  evaluating_.push_back(0);
  term_ids_.emplace(std::move(key), id);
  return id;
}

TermId Converter::Src(int32_t node) {
  const JNode& n = doc_.at(node);
  if (n.kind == JNode::kTrue) return kTrueTerm;
  if (n.kind == JNode::kFalse) return kFalseTerm;
  if (n.kind == JNode::kObject && n.kids.empty()) return kTrueTerm;
  return MakeTerm({Term::kSrc, node, {}});
}

// And/Or share their normal form: the absorbing element wins, the neutral one is dropped, nested
// terms of the same operator are flattened, arguments are sorted and unique, one argument is
// itself.
TermId Converter::Junction(Term::Op op, std::vector<TermId> args) {
  const bool is_and = op == Term::kAnd;
  const TermId absorbing = is_and ? kFalseTerm : kTrueTerm;
  const TermId neutral = is_and ? kTrueTerm : kFalseTerm;
  std::vector<TermId> flat;
  for (TermId a : args) {
    if (a == absorbing) return absorbing;
    if (a == neutral) continue;
    if (terms_[a].op == op) {
      flat.insert(flat.end(), terms_[a].args.begin(), terms_[a].args.end());
    } else {
      flat.push_back(a);
    }
  }
  std::sort(flat.begin(), flat.end());
  flat.erase(std::unique(flat.begin(), flat.end()), flat.end());
  if (flat.empty()) return neutral;
  if (flat.size() == 1) return flat[0];
  return MakeTerm({op, -1, std::move(flat)});
}

TermId Converter::Not(TermId t) {
  if (t == kTrueTerm) return kFalseTerm;
  if (t == kFalseTerm) return kTrueTerm;
  if (terms_[t].op == Term::kNot) return terms_[t].args[0];
  return MakeTerm({Term::kNot, -1, {t}});
}

namespace {

// The clause of one literal value (const/enum member).
Clause LiteralClause(const JDoc& doc, int32_t v) {
  Clause c;
  const JNode& n = doc.at(v);
  switch (n.kind) {
    case JNode::kNull:
      c.types = kTNull;
      break;
    case JNode::kFalse:
      c.types = kTBool;
      c.bools = 1;
      break;
    case JNode::kTrue:
      c.types = kTBool;
      c.bools = 2;
      break;
    case JNode::kNumber: {
      c.types = kTNumber;
      auto d = Decimal::Parse(n.text);
      c.num.allowed.emplace();
      if (d) c.num.allowed->push_back(*d);
      break;
    }
    case JNode::kString:
      c.types = kTString;
      c.str.allowed = std::vector<std::string>{n.text};
      break;
    case JNode::kArray:
      c.types = kTArray;
      c.arr.allowed = std::vector<int32_t>{v};
      break;
    case JNode::kObject:
      c.types = kTObject;
      c.obj.allowed = std::vector<int32_t>{v};
      break;
  }
  return c;
}

}  // namespace

Result<const Formula*> Converter::Eval(TermId t) {
  if (formulas_[t]) return formulas_[t].get();
  const Term& term = terms_[t];
  int32_t node = term.node;
  if (evaluating_[t]) {
    return ErrorAt(Unsupported("the schema is defined in terms of itself without structure "
                               "(a $ref cycle through allOf/anyOf/oneOf/not)"),
                   node >= 0 ? node : doc_.root());
  }
  if (eval_depth_ > opts_.max_schema_depth * kSubschemaDepthFactor) {
    return ErrorAt(LimitError("subschemas nest deeper than max_schema_depth"),
                   node >= 0 ? node : doc_.root());
  }
  SIEVE_RETURN_IF_ERROR(CheckBudget());
  evaluating_[t] = 1;
  ++eval_depth_;
  Formula f;
  Status st;
  switch (term.op) {
    case Term::kTrue:
      f.clauses.emplace_back();
      break;
    case Term::kFalse:
      break;
    case Term::kConst:
      f.clauses.push_back(LiteralClause(doc_, node));
      break;
    case Term::kSrc: {
      auto r = EvalSchema(node);
      if (r.ok()) {
        f = std::move(r).value();
      } else {
        st = r.status();
      }
      break;
    }
    case Term::kAnd: {
      f.clauses.emplace_back();
      std::vector<TermId> args = terms_[t].args;
      // A `not` whose negation needs additionalProperties / patternProperties negated is taken
      // last, within the keys the other conjuncts leave (MinusWithinKeys: exact where each of
      // their clauses is closed by additionalProperties false).
      std::vector<std::pair<TermId, Status>> later;  // with the negation's own failure
      for (TermId a : args) {
        auto fa = Eval(a);
        if (!fa.ok() && fa.status().code() == StatusCode::kUnsupported &&
            terms_[a].op == Term::kNot) {
          later.emplace_back(a, fa.status());
          continue;
        }
        if (!fa.ok()) {
          if (LeftOutOverLimit(fa.status(), terms_[a].node, "", "")) continue;
          st = fa.status();
          break;
        }
        auto m = Merge(f, **fa, terms_[a].node);
        if (!m.ok()) {
          if (LeftOutOverLimit(m.status(), terms_[a].node, "", "")) continue;
          st = m.status();
          break;
        }
        f = std::move(m).value();
      }
      for (const auto& [a, failure] : later) {
        if (!st.ok()) break;
        const TermId inner = terms_[a].args[0];
        auto fi = Eval(inner);
        auto m = fi.ok() ? MinusWithinKeys(f, **fi, terms_[inner].node) : fi.status();
        if (m.ok()) {
          f = std::move(m).value();
        } else if (m.status().code() == StatusCode::kUnsupported) {
          st = failure;  // the negation's own reason
        } else if (!LeftOutOverLimit(m.status(), terms_[a].node, "", "")) {
          st = m.status();
        }
      }
      break;
    }
    case Term::kOr: {
      std::vector<TermId> args = terms_[t].args;
      for (TermId a : args) {
        auto fa = Eval(a);
        if (!fa.ok()) {
          st = fa.status();
          break;
        }
        for (Clause c : (*fa)->clauses) {
          if (c.origin < 0) c.origin = a;
          f.clauses.push_back(std::move(c));
        }
      }
      break;
    }
    case Term::kNot: {
      TermId a = terms_[t].args[0];
      auto fa = Eval(a);
      if (!fa.ok()) {
        st = fa.status();
        break;
      }
      auto n = Negate(**fa, terms_[a].node);
      if (!n.ok() && LeftOutOverLimit(n.status(), terms_[a].node, "", "its negation: ")) {
        f.clauses.emplace_back();  // left out: any value
      } else if (!n.ok()) {
        st = n.status();
      } else {
        f = std::move(n).value();
        for (Clause& c : f.clauses) c.origin = -1;
      }
      break;
    }
  }
  --eval_depth_;
  evaluating_[t] = 0;
  if (!st.ok()) return st;
  if (static_cast<int32_t>(f.clauses.size()) > opts_.max_alternatives) {
    return ErrorAt(LimitError("the subschema expands to " + std::to_string(f.clauses.size()) +
                              " alternatives, more than max_alternatives (" +
                              std::to_string(opts_.max_alternatives) + ")"),
                   node >= 0 ? node : doc_.root());
  }
  for (Clause& c : f.clauses) {
    if (c.origin < 0) c.origin = t;
  }
  formulas_[t] = std::make_unique<Formula>(std::move(f));
  return formulas_[t].get();
}

// ---------------------------------------------------------------------------------------------
// Notes and errors

std::string Converter::PointerOf(int32_t node, const std::string& keyword) const {
  std::string p = node >= 0 ? doc_.Pointer(node) : "";
  if (node >= 0 && !document_roots_.empty()) {  // a loaded document's node: "uri#/pointer"
    int32_t top = node;
    while (doc_.at(top).parent >= 0) top = doc_.at(top).parent;
    auto d = document_roots_.find(top);
    if (d != document_roots_.end()) p = d->second + "#" + p;
  }
  if (!keyword.empty()) {
    p += "/";
    AppendPointerToken(keyword, &p);
  }
  return p;
}

void Converter::Note(JsonSchemaNote::Kind kind, int32_t node, const std::string& keyword,
                     const std::string& message) {
  JsonSchemaNote n{kind, PointerOf(node, keyword), keyword, message};
  std::string key = std::to_string(static_cast<int>(kind)) + '\n' + n.pointer + '\n' + message;
  if (!note_keys_.insert(std::move(key)).second) return;
  report_.notes.push_back(std::move(n));
}

Status Converter::Unenforceable(int32_t node, const std::string& keyword,
                                const std::string& message, JsonSchemaNote::Kind kind) {
  if (opts_.unsupported == UnsupportedPolicy::kError) {
    return ErrorAt(Unsupported(keyword.empty() ? message : keyword + ": " + message), node,
                   keyword);
  }
  Note(kind, node, keyword, message);
  return Status::Ok();
}

bool Converter::LeftOutOverLimit(const Status& s, int32_t node, const std::string& keyword,
                                 const std::string& what) {
  if (!IsAlternativesLimit(s) || opts_.unsupported != UnsupportedPolicy::kIgnore) return false;
  Note(JsonSchemaNote::Kind::kLoosened, node, keyword,
       what + "combining it with the rest of the schema yields more than max_alternatives (" +
           std::to_string(opts_.max_alternatives) + ") alternatives; not enforced");
  return true;
}

Status Converter::ErrorAt(Status s, int32_t node, const std::string& keyword) {
  if (s.json_pointer().empty()) s.WithPointer(PointerOf(node, keyword));
  return s;
}

Status Converter::CheckBudget() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start_)
                .count();
  if (ms > opts_.max_convert_ms) {
    return LimitError("JSON Schema conversion took longer than max_convert_ms (" +
                      std::to_string(opts_.max_convert_ms) + " ms)");
  }
  if (g_.num_exprs() > opts_.max_grammar_exprs) {
    return LimitError("the grammar has more than max_grammar_exprs (" +
                      std::to_string(opts_.max_grammar_exprs) + ") expressions");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Layout

RuleId Converter::NewRule(const std::string& base) {
  std::string name = Sanitize(base);
  if (name.empty()) name = "r";
  int32_t& count = rule_name_counts_[name];
  std::string unique = count == 0 ? name : name + "_" + std::to_string(count);
  ++count;
  while (rule_names_.count(unique)) unique = name + "_" + std::to_string(count++);
  rule_names_.insert(unique);
  RuleId r = g_.AddRule(unique);
  if (rule_loc_.size() <= static_cast<size_t>(r)) rule_loc_.resize(r + 1, -1);
  rule_loc_[r] = loc_node_;
  return r;
}

RuleId Converter::NewSharedRule(const std::string& base) {
  RuleId r = NewRule(base);
  rule_loc_[r] = -1;
  return r;
}

Ctx Converter::Child(Ctx ctx) const {
  if (ctx.depth < 0) return ctx;
  if (ctx.depth + 1 > opts_.max_indent_depth) return Ctx{-2};
  return Ctx{ctx.depth + 1};
}

ExprId Converter::Ws(Ctx ctx) {
  bool any = ctx.depth == -2 || (ctx.depth == -1 && opts_.whitespace == JsonWhitespace::kAny);
  if (xg_.layout && ctx.depth == -1) {  // x-guidance: its pattern at most once, or flexible
    if (xg_.ws >= 0) return g_.AddRepeat(Ref(xg_.ws), 0, 1);
    any = xg_.flexible;
  }
  if (!any || opts_.max_whitespace_run <= 0) return kNoExpr;
  auto it = shared_rules_.find("ws");
  RuleId r;
  if (it == shared_rules_.end()) {
    r = NewSharedRule("ws");
    shared_rules_["ws"] = r;
    ExprId cls = g_.AddCharClass({{' ', ' '}, {'\t', '\t'}, {'\n', '\n'}, {'\r', '\r'}}, false);
    g_.SetRuleBody(r, g_.AddRepeat(cls, 0, opts_.max_whitespace_run));
  } else {
    r = it->second;
  }
  return Ref(r);
}

namespace {
std::string Indent(int32_t n) { return std::string(static_cast<size_t>(std::max(0, n)), ' '); }
}  // namespace

ExprId Converter::Open(char bracket, Ctx ctx) {
  std::string b(1, bracket);
  if (ctx.depth >= 0) return Lit(b + "\n" + Indent((ctx.depth + 1) * opts_.indent));
  return Seq({Lit(b), Inner(ctx)});
}

ExprId Converter::Inner(Ctx ctx) {
  if (xg_.container >= 0 && ctx.depth == -1) return g_.AddRepeat(Ref(xg_.container), 0, 1);
  return Ws(ctx);
}

ExprId Converter::Sep(Ctx ctx) {
  if (ctx.depth >= 0) return Lit(",\n" + Indent((ctx.depth + 1) * opts_.indent));
  const bool own = xg_.item >= 0 && ctx.depth == -1;
  return Seq({Ws(ctx), own ? Ref(xg_.item) : Lit(","), Ws(ctx)});
}

ExprId Converter::Close(char bracket, Ctx ctx) {
  std::string b(1, bracket);
  if (ctx.depth >= 0) return Lit("\n" + Indent(ctx.depth * opts_.indent) + b);
  return Seq({Inner(ctx), Lit(b)});
}

ExprId Converter::Colon(Ctx ctx) {
  if (ctx.depth >= 0) return Lit(": ");
  const bool own = xg_.key >= 0 && ctx.depth == -1;
  return Seq({Ws(ctx), own ? Ref(xg_.key) : Lit(":"), Ws(ctx)});
}

ExprId Converter::Empty(char open, Ctx ctx) {
  std::string o(1, open), c(1, open == '{' ? '}' : ']');
  if (ctx.depth >= 0) return Lit(o + c);
  // x-guidance's container whitespace goes after the opening and before the closing bracket.
  const bool container = xg_.container >= 0 && ctx.depth == -1;
  return Seq({Lit(o), Inner(ctx), container ? Inner(ctx) : kNoExpr, Lit(c)});
}

ExprId Converter::Seq(std::vector<ExprId> items) {
  items.erase(std::remove(items.begin(), items.end(), kNoExpr), items.end());
  if (items.empty()) return g_.AddEmpty();
  if (items.size() == 1) return items[0];
  return g_.AddSequence(items);
}

ExprId Converter::Alt(std::vector<ExprId> items) {
  items.erase(std::remove(items.begin(), items.end(), kNoExpr), items.end());
  if (items.empty()) return kNoExpr;
  if (items.size() == 1) return items[0];
  return g_.AddChoice(items);
}

RuleId Converter::NeverRule() {
  // A rule with no finite derivation: the automaton compiler trims calls to it. Used only where
  // emptiness is discovered after a reference was made (never for the root).
  if (never_rule_ < 0) {
    never_rule_ = NewSharedRule("never");
    g_.SetRuleBody(never_rule_, Seq({Lit("\x01"), Ref(never_rule_)}));
  }
  return never_rule_;
}

RuleId Converter::AnyValueRule(Ctx ctx) {
  auto it = any_rules_.find(ctx.depth);
  if (it != any_rules_.end()) return it->second;
  RuleId r = NewSharedRule(ctx.depth >= 0 ? "value_d" + std::to_string(ctx.depth) : "value");
  any_rules_[ctx.depth] = r;
  const int32_t saved_loc = loc_node_;  // everything below is shared as well
  loc_node_ = -1;
  Ctx child = Child(ctx);
  RuleId child_rule = AnyValueRule(child);
  // Objects.
  auto member = [&]() {
    StrC any_key;
    ExprId key = EmitString(any_key).value();
    return Seq({key, Colon(ctx), Ref(child_rule)});
  };
  ExprId obj = Alt({Empty('{', ctx), Seq({Open('{', ctx), member(),
                                          g_.AddRepeat(Seq({Sep(ctx), member()}), 0, kUnbounded),
                                          Close('}', ctx)})});
  ExprId arr =
      Alt({Empty('[', ctx),
           Seq({Open('[', ctx), Ref(child_rule),
                g_.AddRepeat(Seq({Sep(ctx), Ref(child_rule)}), 0, kUnbounded), Close(']', ctx)})});
  StrC any_str;
  NumC any_num;
  ExprId body = Alt({obj, arr, EmitString(any_str).value(), EmitNumber(any_num).value(),
                     Lit("true"), Lit("false"), Lit("null")});
  g_.SetRuleBody(r, body);
  loc_node_ = saved_loc;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Emission

Result<RuleId> Converter::EmitTerm(TermId t, Ctx ctx) {
  if (t == kTrueTerm) return AnyValueRule(ctx);
  auto key = std::make_pair(t, ctx.depth);
  auto it = term_rules_.find(key);
  if (it != term_rules_.end()) return it->second;
  SIEVE_RETURN_IF_ERROR(CheckBudget());
  const Term& term = terms_[t];
  std::string name = "t" + std::to_string(t);
  if (term.op == Term::kSrc && term.node != doc_.root()) {
    std::string p = Sanitize(doc_.Pointer(term.node));
    if (!p.empty()) name = p;
  }
  if (ctx.depth >= 0) name += "_d" + std::to_string(ctx.depth);
  // The rule and everything emitted for its body belong to this subschema (terms that are not a
  // schema location, such as merged allOf items, stay with the enclosing one).
  const int32_t saved_loc = loc_node_;
  if (term.op == Term::kSrc) loc_node_ = term.node;
  RuleId r = NewRule(name);
  term_rules_[key] = r;
  if (emit_depth_ > opts_.max_schema_depth * kSubschemaDepthFactor) {
    loc_node_ = saved_loc;
    return ErrorAt(LimitError("subschemas nest deeper than max_schema_depth"),
                   term.node >= 0 ? term.node : doc_.root());
  }
  ++emit_depth_;
  auto f = Eval(t);
  if (!f.ok()) {
    --emit_depth_;
    loc_node_ = saved_loc;
    return f.status();
  }
  auto body = EmitFormula(**f, ctx, t);
  --emit_depth_;
  loc_node_ = saved_loc;
  if (!body.ok()) return body.status();
  g_.SetRuleBody(r, *body == kNoExpr ? Ref(NeverRule()) : *body);
  return r;
}

Result<ExprId> Converter::EmitFormula(const Formula& f, Ctx ctx, TermId self) {
  std::vector<ExprId> alts;
  std::vector<TermId> done;
  for (const Clause& c : f.clauses) {
    TermId o = c.origin;
    if (o >= 0 && o != self && formulas_[o]) {
      if (std::find(done.begin(), done.end(), o) != done.end()) continue;
      size_t count = 0;
      for (const Clause& x : f.clauses) count += x.origin == o;
      if (count == formulas_[o]->clauses.size()) {
        done.push_back(o);
        auto r = EmitTerm(o, ctx);
        if (!r.ok()) return r.status();
        alts.push_back(Ref(*r));
        continue;
      }
    }
    auto e = EmitClause(c, ctx);
    if (!e.ok()) return e.status();
    if (*e != kNoExpr) alts.push_back(*e);
  }
  return Alt(std::move(alts));
}

Result<ExprId> Converter::EmitClause(const Clause& c, Ctx ctx) {
  std::vector<ExprId> alts;
  if (c.types & kTObject) {
    auto e = EmitObject(c.obj, ctx);
    if (!e.ok()) return e.status();
    alts.push_back(*e);
  }
  if (c.types & kTArray) {
    auto e = EmitArray(c.arr, ctx);
    if (!e.ok()) return e.status();
    alts.push_back(*e);
  }
  if (c.types & kTString) {
    auto e = EmitString(c.str);
    if (!e.ok()) return e.status();
    alts.push_back(*e);
  }
  if (c.types & kTNumber) {
    auto e = EmitNumber(c.num);
    if (!e.ok()) return ErrorAt(e.status(), c.num.src, "multipleOf");
    alts.push_back(*e);
  }
  if (c.types & kTBool) {
    if (c.bools & 2) alts.push_back(Lit("true"));
    if (c.bools & 1) alts.push_back(Lit("false"));
  }
  if (c.types & kTNull) alts.push_back(Lit("null"));
  return Alt(std::move(alts));
}

Result<ExprId> Converter::EmitAllowedLiterals(const std::vector<int32_t>& allowed,
                                              const Clause& rest, Ctx ctx) {
  std::vector<ExprId> alts;
  for (int32_t v : allowed) {
    if (!ClauseMatches(v, rest, 64)) continue;
    auto e = EmitLiteral(v, ctx);
    if (!e.ok()) return e.status();
    alts.push_back(*e);
  }
  return Alt(std::move(alts));
}

Result<ExprId> Converter::EmitLiteral(int32_t v, Ctx ctx) {
  const JNode& n = doc_.at(v);
  switch (n.kind) {
    case JNode::kNull:
      return Lit("null");
    case JNode::kTrue:
      return Lit("true");
    case JNode::kFalse:
      return Lit("false");
    case JNode::kString:
      return EmitStringLiteral(n.text);
    case JNode::kNumber: {
      NumC c;
      auto d = Decimal::Parse(n.text);
      if (!d) return ErrorAt(Unsupported("number out of range"), v);
      c.allowed = std::vector<Decimal>{*d};
      return EmitNumber(c);
    }
    case JNode::kArray: {
      if (n.kids.empty()) return Empty('[', ctx);
      std::vector<ExprId> items{Open('[', ctx)};
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) items.push_back(Sep(ctx));
        auto e = EmitLiteral(n.kids[i], Child(ctx));
        if (!e.ok()) return e.status();
        items.push_back(*e);
      }
      items.push_back(Close(']', ctx));
      return Seq(std::move(items));
    }
    case JNode::kObject: {
      ObjC o;
      o.src = v;
      ObjPart part;
      part.additional = kFalseTerm;
      for (int32_t k : n.kids) {
        const std::string& key = doc_.at(k).key;
        auto it = std::find_if(part.props.begin(), part.props.end(),
                               [&](const auto& p) { return p.first == key; });
        if (it != part.props.end()) {
          it->second = ConstTerm(k);  // repeated member: the last one wins
        } else {
          part.props.emplace_back(key, ConstTerm(k));
          o.required.push_back(key);
        }
      }
      o.parts.push_back(std::move(part));
      return EmitObject(o, ctx);
    }
  }
  return kNoExpr;
}

namespace {

// Whether every edge of s is a self-loop and the loop reads exactly `ranges`.
bool LoopsOnly(const CpDfa& d, int32_t s, const std::vector<CodepointRange>& ranges) {
  std::vector<CodepointRange> self;
  for (const CpDfa::Edge& e : d.edges(s)) {
    if (e.to != s) return false;
    self.push_back({e.lo, e.hi});
  }
  return !self.empty() && self == ranges;
}

}  // namespace

ExprId EmitDfaRules(Converter* conv, const CpDfa& input, const std::string& name,
                    const std::function<ExprId(const std::vector<CodepointRange>&)>& unit) {
  CpDfa d = Minimize(input);
  if (IsEmptyLanguage(d)) return kNoExpr;
  Grammar& g = conv->grammar();
  const int32_t n = d.num_states();
  std::vector<RuleId> rules(n, -1);
  for (int32_t s = 0; s < n; ++s) rules[s] = conv->NewRule(name + "_" + std::to_string(s));
  // The ranges of a state whose edges all lead to one other state (else empty).
  auto single_step = [&](int32_t s, int32_t* to) {
    std::vector<CodepointRange> ranges;
    *to = -1;
    for (const CpDfa::Edge& e : d.edges(s)) {
      if (e.to == s || (*to >= 0 && e.to != *to)) return std::vector<CodepointRange>{};
      *to = e.to;
      ranges.push_back({e.lo, e.hi});
    }
    return ranges;
  };
  // A chain s = c0 -R-> c1 -R-> ... -R-> cm of states with one successor, the same ranges R and
  // the same accepting flag (what a length bound makes of `R*`: maxLength 40 is a chain of 41
  // states) is re-rolled into R{m} (or R{0,m-1} | R{m} cm when accepting): one rule with a counted
  // repetition instead of m nested rule calls, one per character. chain_m[s] / chain_end[s]: m and
  // cm for the chain starting at s, memoised so that long chains cost O(n) in all.
  std::vector<int32_t> chain_m(n, -1), chain_end(n, -1);
  std::vector<int32_t> path;
  for (int32_t s = 0; s < n; ++s) {
    if (chain_m[s] >= 0) continue;
    int32_t next = -1;
    const std::vector<CodepointRange> ranges = single_step(s, &next);
    int32_t base_m = 0, base_end = s;
    path.clear();
    for (int32_t cur = s; !ranges.empty();) {
      int32_t to = -1;
      if (single_step(cur, &to) != ranges || d.accepting(cur) != d.accepting(s) ||
          static_cast<int32_t>(path.size()) >= n) {
        base_end = cur;
        break;
      }
      if (chain_m[cur] >= 0) {
        base_m = chain_m[cur];
        base_end = chain_end[cur];
        break;
      }
      path.push_back(cur);
      cur = to;
    }
    for (size_t i = path.size(); i-- > 0;) {
      chain_m[path[i]] = base_m + static_cast<int32_t>(path.size() - i);
      chain_end[path[i]] = base_end;
    }
    if (path.empty()) {
      chain_m[s] = 0;
      chain_end[s] = s;
    }
  }
  for (int32_t s = 0; s < n; ++s) {
    if (chain_m[s] >= 3) {
      int32_t next = -1;
      const std::vector<CodepointRange> ranges = single_step(s, &next);
      const int32_t reps = chain_m[s];
      const int32_t end = chain_end[s];
      if (d.accepting(s) && d.accepting(end) && d.edges(end).empty()) {
        // The chain ends in the final state (what a maxLength makes of an accepting `R*`):
        // R{0,m-1} | R{m} is R{0,m}, one copy of R instead of two (a JSON string character
        // inlines its escape alternatives, ~30 automaton states).
        g.SetRuleBody(rules[s], g.AddRepeat(unit(ranges), 0, reps));
        continue;
      }
      if (!d.accepting(s) && d.accepting(end)) {
        // What follows the chain is R{0,k} or R*: the whole is R{m,m+k} or R{m,}, one counted
        // repetition (a length bound with a pattern: "a digit somewhere, 12..128 characters" is
        // R{11-i,127-i} after a digit at i), not R{m} unrolled into a run before a call.
        std::optional<int32_t> max;
        if (single_step(end, &next) == ranges && d.accepting(chain_end[end]) &&
            d.edges(chain_end[end]).empty()) {
          max = reps + chain_m[end];
        } else if (LoopsOnly(d, end, ranges)) {
          max = kUnbounded;
        }
        if (max) {
          g.SetRuleBody(rules[s], g.AddRepeat(unit(ranges), reps, *max));
          continue;
        }
      }
      ExprId full = conv->Seq({g.AddRepeat(unit(ranges), reps, reps), conv->Ref(rules[end])});
      g.SetRuleBody(rules[s], d.accepting(s)
                                  ? conv->Alt({g.AddRepeat(unit(ranges), 0, reps - 1), full})
                                  : full);
      continue;
    }
    std::vector<CodepointRange> self;
    std::map<int32_t, std::vector<CodepointRange>> by_target;
    for (const CpDfa::Edge& e : d.edges(s)) {
      if (e.to == s) {
        self.push_back({e.lo, e.hi});
      } else {
        by_target[e.to].push_back({e.lo, e.hi});
      }
    }
    std::vector<ExprId> alts;
    for (auto& [t, ranges] : by_target)
      alts.push_back(conv->Seq({unit(ranges), conv->Ref(rules[t])}));
    if (d.accepting(s)) alts.push_back(g.AddEmpty());
    ExprId rest = conv->Alt(std::move(alts));
    ExprId loop = self.empty() ? kNoExpr : g.AddRepeat(unit(self), 0, kUnbounded);
    g.SetRuleBody(rules[s], conv->Seq({loop, rest}));
  }
  return conv->Ref(rules[0]);
}

ExprId EmitRawDfa(Converter* conv, const CpDfa& dfa, const std::string& name) {
  return EmitDfaRules(conv, dfa, name, [conv](const std::vector<CodepointRange>& r) {
    return conv->grammar().AddCharClass(r, false);
  });
}

}  // namespace jsonschema
}  // namespace sieve
