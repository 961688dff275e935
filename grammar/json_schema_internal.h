// Internals of the JSON Schema front end, shared by the json_schema_*.cc files.
//
// Pipeline. The schema text is parsed into a JDoc (a JSON tree that keeps number lexemes, so bounds
// like 1e400 or 0.1 stay exact). Subschemas are *terms*: hash-consed expressions over schema
// locations (Src), literal values (Const), And/Or/Not. A term is evaluated on demand into a
// Formula: a disjunction of Clauses, each a conjunction of per-type constraints whose subschemas
// (property values, items, ...) are again terms. allOf is a merge of formulas (distributing
// anyOf/oneOf/if branches), `not` is the negation of a formula, oneOf is anyOf when its branches
// are provably disjoint and (A & !B) | (!A & B) otherwise. Grammar emission turns each term into
// one rule (per indentation depth in kIndent mode), so recursion through $ref is just a rule
// reference, and a term used in many places is emitted once.
//
// Soundness invariant: the language of a term's rule is a subset of the term's value set (in the
// chosen layout), except where the report says kIgnored/kLoosened.
#ifndef SIEVE_GRAMMAR_JSON_SCHEMA_INTERNAL_H_
#define SIEVE_GRAMMAR_JSON_SCHEMA_INTERNAL_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/json_schema_automaton.h"
#include "grammar/support/status.h"

namespace sieve::jsonschema {

// ---------------------------------------------------------------------------------------------
// JSON documents (json_schema_refs.cc)

struct JNode {
  enum Kind : uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };
  Kind kind = kNull;
  int32_t parent = -1;
  std::string text;           // kString: the decoded value; kNumber: the lexeme
  std::string key;            // member name (object parent) or index (array parent)
  std::vector<int32_t> kids;  // array items / object member values, in document order
};

class JDoc {
 public:
  // Parses UTF-8 JSON text; nesting deeper than max_depth is kLimit.
  Status Parse(std::string_view text, int32_t max_depth);
  // Parses another document after the nodes already held (a parentless tree); its root's id.
  Result<int32_t> ParseMore(std::string_view text, int32_t max_depth);
  int32_t root() const { return 0; }
  const JNode& at(int32_t id) const { return nodes_[id]; }
  int32_t size() const { return static_cast<int32_t>(nodes_.size()); }
  // The value of member `name` (the last one when repeated), or -1.
  int32_t Member(int32_t obj, std::string_view name) const;
  // RFC 6901 pointer of a node ("" for the root).
  std::string Pointer(int32_t id) const;
  // JSON equality: numbers by value, objects regardless of member order.
  bool Equal(int32_t a, int32_t b) const;
  // Compact JSON text of a node (for literal emission and messages).
  std::string Dump(int32_t id) const;
  // Appends a parentless scalar value (null, true, false, a number lexeme, a string).
  int32_t AddValue(JNode::Kind kind, std::string text);

 private:
  friend class JDocBuilder;
  std::deque<JNode> nodes_;  // stable references: values are appended during emission
};

// An exact decimal: (neg ? -1 : 1) * digits * 10^exp, digits without leading or trailing zeros
// ("" for zero, which is never negative).
struct Decimal {
  bool neg = false;
  std::string digits;
  int64_t exp = 0;

  static std::optional<Decimal> Parse(std::string_view lexeme);
  static Decimal FromInt(int64_t v);
  bool is_zero() const { return digits.empty(); }
  bool IsInteger() const { return digits.empty() || exp >= 0; }
  Decimal Negated() const;
  // Digits of floor(|x|) ("0" when |x| < 1) and of the fraction of |x| (no trailing zeros).
  std::string IntDigits() const;
  std::string FracDigits() const;
  std::string ToString() const;
  // Whether x is a multiple of d (d > 0). nullopt when the arithmetic is out of range.
  std::optional<bool> MultipleOf(const Decimal& d) const;
};
int Compare(const Decimal& a, const Decimal& b);

// ---------------------------------------------------------------------------------------------
// Terms and formulas

using TermId = int32_t;
inline constexpr TermId kTrueTerm = 0;
inline constexpr TermId kFalseTerm = 1;

struct Term {
  enum Op : uint8_t { kTrue, kFalse, kSrc, kConst, kAnd, kOr, kNot };
  Op op = kTrue;
  int32_t node = -1;         // kSrc: schema node; kConst: value node
  std::vector<TermId> args;  // kAnd/kOr: sorted, unique; kNot: one
};

enum TypeBits : uint8_t {
  kTNull = 1,
  kTBool = 2,
  kTNumber = 4,
  kTString = 8,
  kTArray = 16,
  kTObject = 32,
  kTAll = 63,
};

using LangId = int32_t;  // index into Converter::langs_

struct Bound {
  Decimal value;
  bool exclusive = false;
};

// A bound on a number's magnitude m (json_schema_number.cc): m >= v (or > v) when `lower`, else
// m <= v (or < v); v >= 0.
struct MagBound {
  Decimal v;
  bool excl = false;
  bool lower = false;
};

struct NumC {
  bool integer = false;
  bool not_integer = false;
  std::optional<Bound> lo, hi;
  std::vector<Decimal> multiple_of;      // a multiple of each
  std::vector<Decimal> not_multiple_of;  // a multiple of none
  std::vector<Decimal> excluded;
  std::optional<std::vector<Decimal>> allowed;  // enum/const
  int32_t src = -1;                             // schema node, for messages
};

struct StrC {
  int64_t min_len = 0;
  int64_t max_len = -1;           // -1: unbounded
  std::vector<LangId> langs;      // patterns and formats (all must match)
  std::vector<LangId> not_langs;  // none may match
  std::optional<std::vector<std::string>> allowed;
  std::vector<std::string> excluded;
  int32_t len_src = -1;
};

struct ContainsC {
  TermId schema = kTrueTerm;
  int64_t min = 1;
  int64_t max = -1;
  int32_t src = -1;
};

struct ArrC {
  std::vector<TermId> prefix;
  TermId rest = kTrueTerm;
  int64_t min = 0;
  int64_t max = -1;
  std::vector<ContainsC> contains;
  bool unique = false;
  int32_t unique_src = -1;
  std::optional<std::vector<int32_t>> allowed;  // value nodes
};

struct ObjPart {
  std::vector<std::pair<std::string, TermId>> props;  // schema order
  std::vector<std::pair<LangId, TermId>> patterns;
  TermId additional = kTrueTerm;
  int32_t src = -1;
};

struct ObjC {
  std::vector<ObjPart> parts;
  std::vector<std::string> required;
  int64_t min = 0;
  int64_t max = -1;
  TermId names = kTrueTerm;  // propertyNames
  std::optional<std::vector<int32_t>> allowed;
  int32_t src = -1;
};

struct Clause {
  uint8_t types = kTAll;
  uint8_t bools = 3;  // bit 0: false allowed, bit 1: true allowed
  NumC num;
  StrC str;
  ArrC arr;
  ObjC obj;
  TermId origin = -1;  // this clause is Eval(origin) unchanged (lets emission reuse its rule)
};

struct Formula {
  std::vector<Clause> clauses;  // empty: no value
};

// A pattern or format: a character-level language over the decoded string value.
struct Lang {
  bool is_format = false;
  // The automaton accepts fewer strings than the keyword does (a reported narrowing: hostname,
  // time / date-time leap seconds, regex). Safe where the language is required, but not where it
  // is negated or used to show that no string satisfies a clause: there `wide`, a language that
  // holds every string the keyword accepts, stands in (a negation then narrows too).
  bool narrowed = false;
  LangId wide = -1;
  // The pattern matches no string (`^a^b`, lookarounds that exclude everything): `dfa` is the
  // empty language and `expr` kNoExpr; a string required to match it is impossible (exact).
  bool empty = false;
  std::string text;       // the pattern, or the format name
  int32_t src = -1;       // schema node holding the keyword
  ExprId expr = kNoExpr;  // in Converter::lang_grammar_; kNoExpr for a pattern with lookaround
  // A pattern with lookaround at an anchored end (regex_lookaround.h): the intersection of these
  // languages (the second member: complemented), in place of `expr`.
  std::vector<std::pair<LangId, bool>> parts;
  std::optional<CpDfa> dfa;
};

// Where a rule is emitted: indentation depth in kIndent mode (-1: the options' layout; -2: kAny
// whitespace below max_indent_depth).
struct Ctx {
  int32_t depth = -1;
};

// A finite automaton over the members of an object or the items of an array: edges carry a label
// (an index the caller maps to a member/item expression) or are epsilon edges (label -1).
struct SeqAutomaton {
  struct Edge {
    int32_t label;
    int32_t to;
  };
  std::vector<std::vector<Edge>> edges;
  std::vector<uint8_t> accept;
  int32_t AddState(bool accepting) {
    edges.emplace_back();
    accept.push_back(accepting ? 1 : 0);
    return static_cast<int32_t>(edges.size() - 1);
  }
};

// ---------------------------------------------------------------------------------------------
// The converter. Member functions are spread over the json_schema_*.cc files by concern.

class Converter {
 public:
  explicit Converter(const JsonSchemaOptions& opts);
  Result<JsonSchemaGrammar> Run(std::string_view text);
  // The any-value grammar only (BuiltinJsonGrammar).
  Grammar BuildAnyValueGrammar();

  // ---- documents and references (json_schema_refs.cc) ----
  Status IndexDocument();
  // Indexes the tree at `root` (its nodes are root .. the last node, as parsed) from base index
  // `base` (bases_).
  void IndexTree(int32_t root, int32_t base);
  // The documents the `$ref`s name, through opts_.load_document (see json_schema.h).
  Status LoadReferencedDocuments();
  // The schema node a $ref at `ref_node` (the $ref member's string node) designates.
  Result<int32_t> ResolveRef(int32_t schema_node, const std::string& ref);
  JsonSchemaDraft DraftOf(int32_t node) const;

  // ---- terms (json_schema_converter.cc) ----
  TermId MakeTerm(Term t);
  TermId Src(int32_t node);
  TermId ConstTerm(int32_t node) { return MakeTerm({Term::kConst, node, {}}); }
  TermId And(std::vector<TermId> args) { return Junction(Term::kAnd, std::move(args)); }
  TermId Or(std::vector<TermId> args) { return Junction(Term::kOr, std::move(args)); }
  TermId Junction(Term::Op op, std::vector<TermId> args);  // kAnd or kOr, normalised
  TermId Not(TermId t);
  Result<const Formula*> Eval(TermId t);

  // ---- keyword reading (json_schema_keywords.cc) ----
  Result<Formula> EvalSchema(int32_t node);

  // ---- formula algebra (json_schema_algebra.cc) ----
  Result<Formula> Merge(const Formula& a, const Formula& b, int32_t src);
  // With `keys`, the negation is exact only on objects whose keys all lie in *keys (the caller
  // merges it with clauses that admit no others: ClosedKeys); additionalProperties and
  // patternProperties are then negated key by key instead of being kUnsupported.
  Result<Formula> Negate(const Formula& f, int32_t src,
                         const std::vector<std::string>* keys = nullptr);
  // The keys an object of `c` may have, when they are finitely many: a part closed by
  // additionalProperties false without patternProperties names them (the other parts filter);
  // none where `c` admits no object.
  std::optional<std::vector<std::string>> ClosedKeys(const Clause& c);
  // a & !b where every clause of `a` has ClosedKeys: b negated within each clause's keys.
  Result<Formula> MinusWithinKeys(const Formula& a, const Formula& b, int32_t src);
  Result<Formula> OneOf(const std::vector<TermId>& branches, int32_t src);
  // oneOf over branches that overlap somewhere, type by type (json_schema_algebra.cc).
  Result<Formula> PerTypeOneOf(const std::vector<const Formula*>& fs, int32_t src);
  // False only when the clause provably admits no value (depth bounds the recursion into
  // subschemas). Types whose constraints are provably empty are removed from c.types (the set of
  // values the clause admits does not change).
  bool Satisfiable(Clause& c, int depth);
  // No key can be a member of an object of `o`: two parts closed by additionalProperties false
  // whose property names and patterns have no key in common (patterns compared as automata).
  // False when unsure.
  bool NoKeyPossible(const ObjC& o);
  // The object clauses of `a` and `b` have no value in common but the empty object (each pair
  // merged with minProperties 1 is unsatisfiable). False when unsure.
  bool OnlyEmptyObjectInCommon(const Formula& a, const Formula& b, int32_t src);
  bool TermSatisfiable(TermId t, int depth);
  // The schema the value of member `key` must satisfy in an object clause. `index` (optional):
  // per part, property name -> its schemas, for objects with many properties.
  using PropIndex = std::vector<std::unordered_map<std::string, std::vector<TermId>>>;
  TermId ValueTermForKey(const ObjC& o, const std::string& key, const PropIndex* index = nullptr);

  // ---- validation of literal values (json_schema_validate.cc) ----
  bool Matches(int32_t value, TermId t, int depth);
  bool ClauseMatches(int32_t value, const Clause& c, int depth);
  bool NumberMatches(const Decimal& v, const NumC& n);
  bool StringMatches(const std::string& s, const StrC& c);

  // ---- strings (json_schema_string.cc) ----
  Result<LangId> AddPattern(const std::string& pattern, int32_t src);
  // Marks `lang` as matching no string (Lang::empty) and notes it at its keyword.
  void SetEmpty(Lang* lang);
  // A format language from its definition in the format dialect (also a narrowed format's
  // superset, Lang::wide).
  Result<LangId> AddFormatLang(const std::string& name, int32_t src, const std::string& re);
  Result<LangId> AddFormat(const std::string& name, int32_t src);
  Result<const CpDfa*> LangDfa(LangId id);
  Result<ExprId> EmitString(const StrC& c);
  // The JSON text of a string value (with the quotes).
  ExprId EmitStringLiteral(const std::string& s);
  // A string whose decoded value is in the DFA's language (with the quotes); `wide_escapes` as
  // in Unit.
  ExprId EmitDfaString(const CpDfa& d, const std::string& name, bool wide_escapes = true);
  // One code point from the set, in any JSON spelling the layout accepts; without
  // `wide_escapes`, a non-ASCII one only as its UTF-8 characters (see the .cc comment).
  ExprId Unit(const std::vector<CodepointRange>& ranges, bool wide_escapes = true);
  // After "\\u": the hex spellings of the code points in `ranges` (non-ASCII, surrogate pairs for
  // astral ones); kNoExpr when there are none.
  ExprId UnicodeEscapes(const std::vector<CodepointRange>& ranges);
  // The numbers lo..hi as `width` hex digits, either case.
  ExprId HexDigits(uint32_t lo, uint32_t hi, int width);

  // ---- numbers (json_schema_number.cc) ----
  Result<ExprId> EmitNumber(const NumC& c);
  Result<ExprId> ScientificForms(const std::vector<MagBound>& bounds);
  ExprId ExponentRange(std::optional<int64_t> from, std::optional<int64_t> to);

  // The automaton of the strings satisfying a string constraint (enum, patterns, formats,
  // negations, length), within max_automaton_states.
  Result<CpDfa> StringConstraintDfa(const StrC& c);
  // Whether `capped` (an expression in lang_grammar_ from CapToLength) has exactly the strings of
  // `lang` within c's length bounds.
  bool CappedIsExact(const CpDfa& lang, ExprId capped, const StrC& c);

  // ---- objects and arrays (json_schema_object.cc, json_schema_array.cc) ----
  Result<ExprId> EmitObject(const ObjC& c, Ctx ctx);
  Result<ExprId> EmitArray(const ArrC& c, Ctx ctx);
  // `open` items separated by Sep() in the bracket layout: "{}"/"[]" when the start state accepts,
  // else open, a path of labelled items through the automaton to an accepting state, close.
  // `item(label)` returns a fresh expression for one member/item. kNoExpr when nothing matches.
  ExprId EmitSeqAutomaton(const SeqAutomaton& a, char open, Ctx ctx,
                          const std::function<ExprId(int32_t)>& item, const std::string& name);

  // ---- emission driver (json_schema_converter.cc) ----
  Result<RuleId> EmitTerm(TermId t, Ctx ctx);
  Result<ExprId> EmitFormula(const Formula& f, Ctx ctx, TermId self);
  Result<ExprId> EmitClause(const Clause& c, Ctx ctx);
  Result<ExprId> EmitLiteral(int32_t value, Ctx ctx);
  // The alternatives of `allowed` (enum/const value nodes) that also satisfy `rest`, the clause
  // without its enum: one literal each.
  Result<ExprId> EmitAllowedLiterals(const std::vector<int32_t>& allowed, const Clause& rest, Ctx ctx);
  RuleId AnyValueRule(Ctx ctx);
  RuleId NeverRule();
  Ctx Child(Ctx ctx) const;
  // Layout pieces (fresh expressions each call; kNoExpr means "nothing").
  ExprId Ws(Ctx ctx);
  ExprId Open(char bracket, Ctx ctx);   // "{" or "[" followed by the first-item indent
  ExprId Sep(Ctx ctx);                  // between members/items
  ExprId Close(char bracket, Ctx ctx);  // before "}" or "]"
  ExprId Colon(Ctx ctx);
  ExprId Empty(char open, Ctx ctx);       // "{}" / "[]"
  ExprId Inner(Ctx ctx);                  // inside a bracket: container whitespace, or Ws
  // llguidance's top-level "x-guidance", then opts_'s separators (json_schema_layout.cc): read
  // before conversion, in this order (a schema's x-guidance layout wins).
  Status ReadXGuidance();
  Status ReadSeparators();
  bool coerce_one_of() const { return xg_.coerce_one_of; }
  ExprId Seq(std::vector<ExprId> items);  // skips kNoExpr, handles 0/1 items
  ExprId Alt(std::vector<ExprId> items);  // requires 1+ items
  ExprId Lit(std::string_view bytes) { return g_.AddBytes(bytes); }
  // `(\.0+)?`: the zero fraction a number's digits may carry (1 = 1.0 = 1.00).
  ExprId ZeroFraction() {
    return g_.AddRepeat(Seq({Lit("."), g_.AddRepeat(Lit("0"), 1, kUnbounded)}), 0, 1);
  }
  ExprId Ref(RuleId r) { return g_.AddRuleRef(r); }
  // A rule attributed to the schema location being emitted (loc_node_); NewSharedRule: a rule
  // used from many locations, attributed to none.
  RuleId NewRule(const std::string& base);
  RuleId NewSharedRule(const std::string& base);

  // ---- errors and notes ----
  // kError: returns the kUnsupported status; kIgnore: records the note and returns OK.
  Status Unenforceable(int32_t node, const std::string& keyword, const std::string& message,
                       JsonSchemaNote::Kind kind = JsonSchemaNote::Kind::kIgnored);
  void Note(JsonSchemaNote::Kind kind, int32_t node, const std::string& keyword,
            const std::string& message);
  // Whether `s` is a max_alternatives limit that kIgnore turns into leaving one conjunct (`what`
  // of `keyword` at `node`) out: then the note (kLoosened) is recorded and the caller goes on
  // without that conjunct; with kError (or any other status) false, and the caller fails with `s`.
  bool LeftOutOverLimit(const Status& s, int32_t node, const std::string& keyword,
                        const std::string& what);
  // The max_alternatives limit of combining subschemas, at `node` (the root when < 0).
  Status AlternativesLimit(int32_t node, const std::string& keyword = "");
  // Whether `s` is the max_alternatives limit of combining subschemas (Merge, Eval).
  static bool IsAlternativesLimit(const Status& s) {
    return s.code() == StatusCode::kLimit &&
           s.message().find("max_alternatives") != std::string::npos;
  }
  Status ErrorAt(Status s, int32_t node, const std::string& keyword = "");
  std::string PointerOf(int32_t node, const std::string& keyword = "") const;
  Status CheckBudget();

  const JsonSchemaOptions& opts() const { return opts_; }
  const JDoc& doc() const { return doc_; }
  Grammar& grammar() { return g_; }
  const Term& term(TermId t) const { return terms_[t]; }
  bool strict() const { return opts_.semantics == JsonSchemaSemantics::kStrict; }
  bool any_order() const;

 private:
  friend class SchemaReader;
  JsonSchemaOptions opts_;
  JDoc doc_;
  Grammar g_;
  JsonSchemaReport report_;
  std::chrono::steady_clock::time_point start_;

  // Documents: per node, index into bases_ (the base URI in effect) and draft.
  std::vector<int32_t> base_of_;
  std::vector<std::string> bases_;
  std::vector<JsonSchemaDraft> draft_of_;
  std::unordered_map<std::string, int32_t> resources_;  // absolute URI (no fragment) -> node
  // Documents from opts_.load_document: root node -> URI; and URIs that failed to load (the
  // error a `$ref` to them returns; OK: unknown to the loader).
  std::unordered_map<int32_t, std::string> document_roots_;
  std::unordered_map<std::string, Status> document_errors_;
  std::unordered_map<std::string, int32_t> anchors_;    // URI#anchor -> node

  // Terms.
  std::vector<Term> terms_;
  std::map<std::pair<std::pair<int, int32_t>, std::vector<TermId>>, TermId> term_ids_;
  std::vector<std::unique_ptr<Formula>> formulas_;  // per term, once evaluated
  std::vector<uint8_t> evaluating_;

  // Languages.
  Grammar lang_grammar_;
  std::vector<Lang> langs_;
  std::map<std::pair<bool, std::string>, LangId> lang_ids_;

  // Emission.
  std::map<std::pair<TermId, int32_t>, RuleId> term_rules_;
  std::map<int32_t, RuleId> any_rules_;  // by ctx depth
  std::map<std::string, RuleId> shared_rules_;
  // x-guidance or opts_'s separators: with `layout` these pieces replace opts_.whitespace's
  // (rules of the regexes / separators, or -1: the default, "," / ":" / the whitespace of
  // `flexible` / Ws). A rule is set only with `layout`.
  struct XGuidance {
    bool layout = false;
    bool flexible = true;
    RuleId ws = -1, item = -1, key = -1, container = -1;
    bool coerce_one_of = false;
  } xg_;
  std::map<std::string, RuleId> escape_rules_;  // Unit's \uXXXX rules, by code point ranges
  // Non-ASCII literal characters that still get a \uXXXX branch (EmitStringLiteral).
  static constexpr int32_t kLiteralEscapeBudget = 1024;
  int32_t literal_escapes_left_ = kLiteralEscapeBudget;
  bool literal_escapes_noted_ = false;
  std::map<std::string, int32_t> rule_name_counts_;
  std::unordered_set<std::string> note_keys_;
  std::unordered_set<std::string> rule_names_;
  RuleId never_rule_ = -1;
  std::vector<int32_t> rule_loc_;  // per rule: the schema node it was emitted for, or -1
  int32_t loc_node_ = -1;          // the schema node being emitted
  int32_t eval_depth_ = 0;
  int32_t emit_depth_ = 0;
};

// Keywords that are plain annotations (no assertion) in every draft.
bool IsAnnotationKeyword(std::string_view k);

// An automaton as grammar rules (json_schema_converter.cc): one rule per state, self-loops as `*`
// repetitions, `unit(ranges)` spelling the code points of an edge. kNoExpr for an empty language.
ExprId EmitDfaRules(Converter* conv, const CpDfa& input, const std::string& name,
                    const std::function<ExprId(const std::vector<CodepointRange>&)>& unit);
// The same with raw ASCII edges (number automata).
ExprId EmitRawDfa(Converter* conv, const CpDfa& dfa, const std::string& name);

}  // namespace sieve::jsonschema

#endif  // SIEVE_GRAMMAR_JSON_SCHEMA_INTERNAL_H_
