// Objects: members as an automaton over "which keys have been written", and the generic emitter
// of member/item automata shared with arrays.
//
// Keys. The known keys are every property named by the object's parts and `required`; the schema
// of a known key's value is the conjunction over parts of properties[k] (and every matching
// patternProperties schema) or, when neither applies, that part's additionalProperties; a key that
// fails propertyNames or whose value schema is empty is forbidden. Every other key ("extra")
// falls into a region of the key space by which patterns it matches (found by splitting the key
// space pattern by pattern, empty regions dropped: at most kMaxObjectKeyRegions non-empty ones
// of kMaxObjectPatterns patterns), each region an automaton: the complement of the known keys,
// intersected with the matching patterns, the complements of the others and propertyNames.
// Regions whose value schema is empty (additionalProperties: false) disappear, so closed objects
// have no extra members.
//
// Order. kAny: the automaton's states are (set of known keys written, extra members written
// [counted only up to what minProperties/maxProperties need]); a key can be written once, required
// keys must be present, counts are exact. It is exponential in the number of known keys, so past
// max_any_order_states an object that allows every other key becomes (required keys written,
// members written) with every member offered at every state, flagged for the matcher's repeat
// check (Rule::unique_items): exact, and live, since a key being written can always still become
// an unwritten one. A closed object has no such way out (after "name", `"na` may only end as a
// repeat): kUniqueKeysLive, the matcher refusing such prefixes too. An object whose other keys
// are restricted (patternProperties, propertyNames) falls back to schema order (a kNarrowed note).
// kSchema: states
// are positions in the schema's key order (an optional key is an epsilon edge), extras after the
// known keys; linear in the number of keys (times the count bound when min/maxProperties are set).
//
// Emission (EmitSeqAutomaton). For each state q two rules: First(q) (no separator before the
// item) and Rest(q) (separator before each further item, the closing bracket when q accepts).
// Self-loops become a `*` repetition inside Rest(q), so "any number of extra members" costs no
// recursion; epsilon edges are rule references. States that cannot reach acceptance are trimmed.
#include <algorithm>
#include <bit>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

#include "grammar/json_schema_internal.h"

namespace sieve::jsonschema {

// patternProperties of one object: distinct patterns, and the regions of the key space they cut
// (by which patterns a key matches; only the non-empty ones count).
constexpr size_t kMaxObjectPatterns = 64;
constexpr size_t kMaxObjectKeyRegions = 256;

ExprId Converter::EmitSeqAutomaton(const SeqAutomaton& a, char open, Ctx ctx,
                                   const std::function<ExprId(int32_t)>& item,
                                   const std::string& name) {
  const int32_t n = static_cast<int32_t>(a.edges.size());
  const char close = open == '{' ? '}' : ']';
  // Trim: states that can reach acceptance.
  std::vector<std::vector<int32_t>> rev(n);
  for (int32_t q = 0; q < n; ++q) {
    for (const auto& e : a.edges[q]) rev[e.to].push_back(q);
  }
  std::vector<uint8_t> live(n, 0);
  std::vector<int32_t> stack;
  for (int32_t q = 0; q < n; ++q) {
    if (a.accept[q]) {
      live[q] = 1;
      stack.push_back(q);
    }
  }
  while (!stack.empty()) {
    int32_t q = stack.back();
    stack.pop_back();
    for (int32_t p : rev[q]) {
      if (!live[p]) {
        live[p] = 1;
        stack.push_back(p);
      }
    }
  }
  if (n == 0 || !live[0]) return kNoExpr;
  // has_item[q]: a labelled edge is reachable from q through epsilon edges (to live states).
  std::vector<uint8_t> has_item(n, 0), eps_accept(n, 0);
  for (int32_t q = 0; q < n; ++q) eps_accept[q] = a.accept[q];
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t q = n - 1; q >= 0; --q) {
      if (!live[q]) continue;
      for (const auto& e : a.edges[q]) {
        if (!live[e.to]) continue;
        uint8_t hi = e.label >= 0 ? 1 : has_item[e.to];
        uint8_t ea = e.label < 0 ? eps_accept[e.to] : 0;
        if (hi > has_item[q] || ea > eps_accept[q]) {
          has_item[q] |= hi;
          eps_accept[q] |= ea;
          changed = true;
        }
      }
    }
  }
  std::vector<RuleId> first(n, -1), rest(n, -1);
  std::deque<std::pair<int32_t, bool>> todo;
  auto get = [&](int32_t q, bool is_first) {
    RuleId& r = is_first ? first[q] : rest[q];
    if (r < 0) {
      r = NewRule(name + (is_first ? "_f" : "_r") + std::to_string(q));
      todo.emplace_back(q, is_first);
    }
    return r;
  };
  std::vector<ExprId> top;
  if (eps_accept[0]) top.push_back(Empty(open, ctx));
  if (has_item[0]) top.push_back(Seq({Open(open, ctx), Ref(get(0, true))}));
  while (!todo.empty()) {
    auto [q, is_first] = todo.front();
    todo.pop_front();
    std::vector<ExprId> alts;
    if (is_first) {
      for (const auto& e : a.edges[q]) {
        if (!live[e.to]) continue;
        if (e.label < 0) {
          if (has_item[e.to]) alts.push_back(Ref(get(e.to, true)));
        } else {
          alts.push_back(Seq({item(e.label), Ref(get(e.to, false))}));
        }
      }
      g_.SetRuleBody(first[q], Alt(std::move(alts)));
      continue;
    }
    std::vector<ExprId> loop_items;
    for (const auto& e : a.edges[q]) {
      if (!live[e.to]) continue;
      if (e.to == q && e.label >= 0) {
        loop_items.push_back(item(e.label));
      } else if (e.label < 0) {
        alts.push_back(Ref(get(e.to, false)));
      } else {
        alts.push_back(Seq({Sep(ctx), item(e.label), Ref(get(e.to, false))}));
      }
    }
    if (a.accept[q]) alts.push_back(Close(close, ctx));
    ExprId loop = loop_items.empty()
                      ? kNoExpr
                      : g_.AddRepeat(Seq({Sep(ctx), Alt(std::move(loop_items))}), 0, kUnbounded);
    g_.SetRuleBody(rest[q], Seq({loop, Alt(std::move(alts))}));
  }
  return Alt(std::move(top));
}

namespace {

struct Region {
  CpDfa keys;
  TermId value;
};

}  // namespace

Result<ExprId> Converter::EmitObject(const ObjC& c, Ctx ctx) {
  const Ctx child = Child(ctx);
  if (c.allowed) {
    Clause rest;
    rest.types = kTObject;
    rest.obj = c;
    rest.obj.allowed.reset();
    return EmitAllowedLiterals(*c.allowed, rest, ctx);
  }
  // ---- known keys ----
  std::vector<std::string> keys;
  std::unordered_set<std::string> key_set;
  auto add_key = [&](const std::string& k) {
    if (key_set.insert(k).second) keys.push_back(k);
  };
  PropIndex index(c.parts.size());
  for (size_t pi = 0; pi < c.parts.size(); ++pi) {
    for (const auto& [k, t] : c.parts[pi].props) {
      add_key(k);
      index[pi][k].push_back(t);
    }
  }
  for (const std::string& k : c.required) add_key(k);
  const std::unordered_set<std::string> required(c.required.begin(), c.required.end());
  struct Known {
    std::string name;
    TermId value;
    bool required;
  };
  std::vector<Known> known;
  for (const std::string& k : keys) {
    TermId v = ValueTermForKey(c, k, &index);
    bool req = required.count(k) > 0;
    if (v == kFalseTerm || !TermSatisfiable(v, 1)) {
      if (req) return kNoExpr;
      continue;
    }
    known.push_back({k, v, req});
  }
  // ---- extra keys ----
  std::vector<Region> regions;
  // A map object (no named properties, no patternProperties) whose propertyNames is one string
  // constraint: its keys are emitted like string values (EmitString: compact expressions, capped
  // repetitions) rather than through the key automaton, whose length-bounded product becomes a
  // chain of one rule per state (Kubernetes label keys: 1,852 states, a 30 s mask cache).
  std::optional<StrC> names_as_string;
  bool open_part = c.parts.empty();
  for (const ObjPart& p : c.parts) open_part |= p.additional != kFalseTerm || !p.patterns.empty();
  if (open_part) {
    std::vector<LangId> pl;
    for (const ObjPart& p : c.parts) {
      for (const auto& [l, t] : p.patterns) {
        if (std::find(pl.begin(), pl.end(), l) == pl.end()) pl.push_back(l);
      }
    }
    const int32_t budget = opts_.max_automaton_states;
    if (pl.size() > kMaxObjectPatterns) {
      return ErrorAt(Unsupported("patternProperties: more than " +
                                 std::to_string(kMaxObjectPatterns) +
                                 " distinct patterns in one object"),
                     c.src, "patternProperties");
    }
    CpDfa base = Complement(LiteralSetDfa(keys));
    if (c.names != kTrueTerm) {
      auto f = Eval(c.names);
      if (!f.ok()) return f.status();
      if (keys.empty() && pl.empty() && (*f)->clauses.size() == 1 &&
          ((*f)->clauses[0].types & kTString)) {
        names_as_string = (*f)->clauses[0].str;
      }
      CpDfa names = EmptyDfa();
      for (const Clause& cl : (*f)->clauses) {
        if (!(cl.types & kTString)) continue;
        auto d = StringConstraintDfa(cl.str);
        if (!d.ok()) return ErrorAt(d.status(), c.src, "propertyNames");
        auto u = Union(names, *d, budget);
        if (!u.ok()) return ErrorAt(u.status(), c.src, "propertyNames");
        names = Minimize(*u);
      }
      auto b = Intersect(base, names, budget);
      if (!b.ok()) return ErrorAt(b.status(), c.src, "propertyNames");
      base = Minimize(*b);
    }
    // The regions: the base split by each pattern in turn into the keys it matches and the keys
    // it does not, empty parts dropped (disjoint patterns make k + 1 regions, not 2^k).
    std::vector<std::pair<uint64_t, CpDfa>> split{{0, base}};
    for (size_t bit = 0; bit < pl.size(); ++bit) {
      auto d = LangDfa(pl[bit]);
      if (!d.ok()) return ErrorAt(d.status(), c.src, "patternProperties");
      const CpDfa outside = Complement(**d);
      std::vector<std::pair<uint64_t, CpDfa>> next;
      for (const auto& [mask, lang] : split) {
        for (const bool in : {false, true}) {
          auto r = Intersect(lang, in ? **d : outside, budget);
          if (!r.ok()) return ErrorAt(r.status(), c.src, "patternProperties");
          CpDfa part = Minimize(*r);
          if (IsEmptyLanguage(part)) continue;
          next.push_back({mask | (uint64_t{in} << bit), std::move(part)});
        }
      }
      if (next.size() > kMaxObjectKeyRegions) {
        return ErrorAt(Unsupported("patternProperties: the patterns split the key space into more "
                                   "than " + std::to_string(kMaxObjectKeyRegions) + " regions"),
                       c.src, "patternProperties");
      }
      split = std::move(next);
    }
    std::sort(split.begin(), split.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [mask, lang] : split) {
      std::vector<TermId> conj;
      for (const ObjPart& p : c.parts) {
        std::vector<TermId> matched;
        for (const auto& [l, t] : p.patterns) {
          size_t bit = std::find(pl.begin(), pl.end(), l) - pl.begin();
          if (mask >> bit & 1) matched.push_back(t);
        }
        if (matched.empty()) {
          conj.push_back(p.additional);
        } else {
          conj.insert(conj.end(), matched.begin(), matched.end());
        }
      }
      TermId v = And(std::move(conj));
      if (v == kFalseTerm || !TermSatisfiable(v, 1)) continue;
      regions.push_back({std::move(lang), v});
    }
  }
  const bool extras = !regions.empty();
  // Every key but the known ones is allowed (no patternProperties, no propertyNames).
  bool open_keys = regions.size() == 1 && c.names == kTrueTerm;
  for (const ObjPart& p : c.parts) open_keys &= p.patterns.empty();
  const int32_t nk = static_cast<int32_t>(known.size());
  // ---- member expressions ----
  std::vector<RuleId> member_rules(nk, -1);
  RuleId extra_rule = -1;
  Status failure;
  auto item = [&](int32_t label) -> ExprId {
    if (label < nk) {
      if (member_rules[label] < 0) {
        member_rules[label] = NewRule("m_" + known[label].name);
        auto v = EmitTerm(known[label].value, child);
        if (!v.ok()) {
          failure = v.status();
          g_.SetRuleBody(member_rules[label], Lit("\"\""));
        } else {
          g_.SetRuleBody(member_rules[label],
                         Seq({EmitStringLiteral(known[label].name), Colon(ctx), Ref(*v)}));
        }
      }
      return Ref(member_rules[label]);
    }
    if (extra_rule < 0) {
      extra_rule = NewRule("extra");
      std::vector<ExprId> alts;
      for (const Region& r : regions) {
        auto v = EmitTerm(r.value, child);
        if (!v.ok()) {
          failure = v.status();
          continue;
        }
        ExprId key = kNoExpr;
        if (names_as_string) {
          auto k = EmitString(*names_as_string);
          if (!k.ok()) {
            failure = k.status();
            continue;
          }
          key = *k;
        } else {
          // Undeclared keys: non-ASCII characters spelt as \uXXXX are not read inside the
          // exclusion trie (a rule call per trie state costs the mask cache more than such keys
          // are worth); past the trie every escape is (grammar/json_schema_string.cc).
          key = EmitDfaString(r.keys, "key", /*wide_escapes=*/false);
        }
        if (key != kNoExpr) alts.push_back(Seq({key, Colon(ctx), Ref(*v)}));
      }
      g_.SetRuleBody(extra_rule, alts.empty() ? Ref(NeverRule()) : Alt(std::move(alts)));
    }
    return Ref(extra_rule);
  };
  const int64_t min = c.min, max = c.max;
  // ---- no known keys: a counted repetition ----
  if (nk == 0) {
    std::vector<ExprId> alts;
    if (min == 0) alts.push_back(Empty('{', ctx));
    if (extras && max != 0) {
      int64_t lo = std::max<int64_t>(0, min - 1), hi = max < 0 ? -1 : max - 1;
      int32_t lo32 = static_cast<int32_t>(std::min<int64_t>(lo, int64_t{1} << 30));
      int32_t hi32 = hi < 0 || hi > (int64_t{1} << 30) ? kUnbounded : static_cast<int32_t>(hi);
      alts.push_back(Seq({Open('{', ctx), item(nk),
                          g_.AddRepeat(Seq({Sep(ctx), item(nk)}), lo32, hi32), Close('}', ctx)}));
    }
    if (!failure.ok()) return failure;
    return Alt(std::move(alts));
  }
  // ---- automaton over members ----
  const bool counted = min > 0 || max >= 0;
  const int64_t cap = max >= 0 ? max : min;  // counts saturate at `min` when unbounded
  SeqAutomaton a;
  bool built = false;
  if (any_order() && nk <= 20) {
    uint32_t req = 0;
    for (int32_t i = 0; i < nk; ++i) req |= known[i].required ? (1u << i) : 0;
    std::map<std::pair<uint32_t, int64_t>, int32_t> ids;
    std::deque<std::pair<uint32_t, int64_t>> queue;
    bool over = false;
    auto state = [&](uint32_t s, int64_t e) -> int32_t {
      auto [it, fresh] = ids.emplace(std::make_pair(s, e), 0);
      if (fresh) {
        int64_t total = std::popcount(s) + e;
        bool acc = (s & req) == req && total >= min && (max < 0 || total <= max);
        it->second = a.AddState(acc);
        queue.emplace_back(s, e);
        over |= static_cast<int32_t>(ids.size()) > opts_.max_any_order_states;
      }
      return it->second;
    };
    state(0, 0);
    while (!queue.empty() && !over) {
      auto [s, e] = queue.front();
      queue.pop_front();
      int32_t from = ids[{s, e}];
      int64_t total = std::popcount(s) + e;
      bool room = max < 0 || total + 1 <= max;
      if (!room) continue;
      for (int32_t k = 0; k < nk; ++k) {
        if (!(s >> k & 1)) {
          int32_t to = state(s | (1u << k), e);
          a.edges[from].push_back({k, to});
        }
      }
      if (extras) {
        int64_t e2 = counted ? std::min(e + 1, cap) : e;
        int32_t to = state(s, e2);
        a.edges[from].push_back({nk, to});
      }
    }
    built = !over;
    if (!built) a = SeqAutomaton();
  }
  if (!built && any_order()) {
    // Too many keys for the subset automaton: when every other key is allowed (with a value),
    // the automaton counts required keys written (and members, for min/maxProperties) and the
    // matcher refuses a key written twice (Rule::unique_items on an object, unique_items.h).
    // Every prefix stays live: a key being written can always become one not yet written. A
    // closed object has no such way out ("name" written, then `"na`): its rule is
    // kUniqueKeysLive, and the matcher also refuses a key prefix whose every completion is a key
    // written. Other keys restricted by patternProperties/propertyNames (an infinite language
    // where that search could not end) keep schema order unless checked_keys_without_liveness
    // (complete documents only: no liveness needed).
    int32_t nreq = 0;
    for (const Known& k : known) nreq += k.required ? 1 : 0;
    const int64_t counts = counted ? cap + 1 : 1;
    const bool others = nreq < nk || extras;  // members besides the required ones
    const uint8_t kind = open_keys || opts_.checked_keys_without_liveness ? kUniqueCheck
                         : !extras                                        ? kUniqueKeysLive
                                                                          : kUniqueNone;
    if (kind != kUniqueNone && (nreq + 1) * counts <= opts_.max_automaton_states) {
      SeqAutomaton ka;
      auto id = [&](int64_t rc, int64_t cnt) { return static_cast<int32_t>(rc * counts + cnt); };
      for (int64_t rc = 0; rc <= nreq; ++rc) {
        for (int64_t cnt = 0; cnt < counts; ++cnt) {
          ka.AddState(rc == nreq && (!counted || (cnt >= min && (max < 0 || cnt <= max))));
        }
      }
      for (int64_t rc = 0; rc <= nreq; ++rc) {
        for (int64_t cnt = 0; cnt < counts; ++cnt) {
          if (counted && max >= 0 && cnt + 1 > max) continue;
          const int64_t next = counted ? std::min(cnt + 1, cap) : 0;
          if (rc < nreq) ka.edges[id(rc, cnt)].push_back({0, id(rc + 1, next)});
          if (others) ka.edges[id(rc, cnt)].push_back({1, id(rc, next)});
        }
      }
      // Label 0: any required member; 1: any optional or other member.
      RuleId groups[2] = {-1, -1};
      auto group = [&](int32_t label) -> ExprId {
        if (groups[label] < 0) {
          groups[label] = NewRule(label == 0 ? "req_member" : "opt_member");
          std::vector<ExprId> alts;
          for (int32_t i = 0; i < nk; ++i) {
            if (known[i].required == (label == 0)) alts.push_back(item(i));
          }
          if (label == 1 && extras) alts.push_back(item(nk));
          g_.SetRuleBody(groups[label], Alt(std::move(alts)));
        }
        return Ref(groups[label]);
      };
      const RuleId r = NewRule("ukeys");
      g_.SetRuleBody(r, EmitSeqAutomaton(ka, '{', ctx, group, "okeys"));
      g_.SetRuleUniqueItems(r, kind);
      if (!failure.ok()) return failure;
      Note(JsonSchemaNote::Kind::kInfo, c.src, "properties",
           "the object's " + std::to_string(nk) +
               " known properties may come in any order: a repeated key is refused by the "
               "matcher as it ends" +
               (kind == kUniqueKeysLive
                    ? std::string(", and so is a key prefix that could only end as a key "
                                  "written before (exported EBNF carries this as a "
                                  "#!unique_keys directive)")
                    : std::string(" (exported EBNF carries this as a #!unique_items "
                                  "directive)")));
      return Ref(r);
    }
    Note(JsonSchemaNote::Kind::kNarrowed, c.src, "properties",
         "the object's " + std::to_string(nk) +
             " known properties must appear in schema order (an any-order automaton would "
             "exceed max_any_order_states, and with patternProperties or propertyNames the "
             "matcher's repeat check could not keep every key prefix completable)");
  }
  if (!built && !counted) {
    // Schema order without counts. R(i) = the members from key i on (each preceded by a
    // separator), then the extras and the closing brace: an optional key is
    // `sep member R(i+1) | R(i+1)`, a run of required keys is one flat sequence. Every rule
    // holds at most one optional key, so no rule's automaton has to offer "any later key" (which
    // would be quadratic); choosing among later keys is the matcher's job through the calls.
    int32_t first_req = nk;
    for (int32_t i = 0; i < nk && first_req == nk; ++i) first_req = known[i].required ? i : nk;
    std::vector<uint8_t> needed(nk + 1, 0);
    needed[nk] = 1;
    for (int32_t j = 0; j <= std::min(first_req, nk - 1); ++j) needed[j + 1] = 1;
    for (int32_t i = 0; i < nk; ++i) {
      if (!known[i].required) needed[i + 1] = 1;
    }
    for (int32_t i = 0; i < nk; ++i) {
      // The end of a run of required keys starting at a needed position.
      if (needed[i] && known[i].required) {
        int32_t j = i;
        while (j < nk && known[j].required) ++j;
        needed[j] = 1;
      }
    }
    // Created last-first: callees get smaller ids, so fixpoints that sweep rules in id order (FIRST
    // sets in the automaton compiler) settle in one pass.
    std::vector<RuleId> rest(nk + 1, -1);
    for (int32_t i = nk; i >= 1; --i) {
      if (needed[i]) rest[i] = NewRule("obj_rest" + std::to_string(i));
    }
    for (int32_t i = nk; i >= 1; --i) {
      if (!needed[i]) continue;
      ExprId body;
      if (i == nk) {
        body = Seq({extras ? g_.AddRepeat(Seq({Sep(ctx), item(nk)}), 0, kUnbounded) : kNoExpr,
                    Close('}', ctx)});
      } else if (!known[i].required) {
        body = Alt({Seq({Sep(ctx), item(i), Ref(rest[i + 1])}), Ref(rest[i + 1])});
      } else {
        std::vector<ExprId> run;
        int32_t j = i;
        for (; j < nk && known[j].required; ++j) run.push_back(Seq({Sep(ctx), item(j)}));
        run.push_back(Ref(rest[j]));
        body = Seq(std::move(run));
      }
      g_.SetRuleBody(rest[i], body);
    }
    std::vector<ExprId> firsts;
    for (int32_t j = 0; j <= std::min(first_req, nk - 1); ++j) {
      firsts.push_back(Seq({item(j), Ref(rest[j + 1])}));
    }
    if (first_req == nk && extras) {
      firsts.push_back(
          Seq({item(nk), g_.AddRepeat(Seq({Sep(ctx), item(nk)}), 0, kUnbounded), Close('}', ctx)}));
    }
    std::vector<ExprId> top;
    if (first_req == nk) top.push_back(Empty('{', ctx));
    if (!firsts.empty()) top.push_back(Seq({Open('{', ctx), Alt(std::move(firsts))}));
    if (!failure.ok()) return failure;
    return Alt(std::move(top));
  }
  if (!built) {
    // Schema order with counts: state (i, count).
    const int64_t counts = counted ? cap + 1 : 1;
    if ((nk + 1) * counts > opts_.max_automaton_states) {
      SIEVE_RETURN_IF_ERROR(Unenforceable(c.src, "maxProperties",
                                          "counting properties of this object exceeds "
                                          "max_automaton_states"));
    }
    const bool count_ok = (nk + 1) * counts <= opts_.max_automaton_states;
    const int64_t ncount = count_ok ? counts : 1;
    auto id = [&](int32_t i, int64_t cnt) { return static_cast<int32_t>(i * ncount + cnt); };
    for (int32_t i = 0; i <= nk; ++i) {
      for (int64_t cnt = 0; cnt < ncount; ++cnt) {
        bool acc = i == nk && (!count_ok || !counted || (cnt >= min && (max < 0 || cnt <= max)));
        a.AddState(acc);
      }
    }
    auto next = [&](int64_t cnt) -> int64_t {
      if (!count_ok || !counted) return 0;
      if (max >= 0) return cnt + 1 <= max ? cnt + 1 : -1;
      return std::min(cnt + 1, cap);
    };
    for (int32_t i = 0; i <= nk; ++i) {
      for (int64_t cnt = 0; cnt < ncount; ++cnt) {
        int32_t from = id(i, cnt);
        int64_t nc = next(cnt);
        if (i < nk) {
          if (nc >= 0) a.edges[from].push_back({i, id(i + 1, nc)});
          if (!known[i].required) a.edges[from].push_back({-1, id(i + 1, cnt)});
        } else if (extras && nc >= 0) {
          a.edges[from].push_back({nk, id(i, nc)});
        }
      }
    }
  }
  ExprId out = EmitSeqAutomaton(a, '{', ctx, item, "obj");
  if (!failure.ok()) return failure;
  return out;
}

}  // namespace sieve::jsonschema
