#include "grammar/regex_lookaround_dfa.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sieve {

namespace {

using jsonschema::CpDfa;

// Calls f(i, escaped) for each character x[i] outside classes (escaped: it follows a backslash)
// until f returns true; returns whether it did.
template <typename F>
bool AnyOutsideClasses(std::string_view x, F f) {
  bool in_class = false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == '\\') {
      if (!in_class && i + 1 < x.size() && f(i + 1, true)) return true;
      ++i;
    } else if (in_class) {
      in_class = x[i] != ']';
    } else if (x[i] == '[') {
      in_class = true;
    } else if (f(i, false)) {
      return true;
    }
  }
  return false;
}

// Whether the assertion pattern `x` reads outside its own text: `^` in a lookahead, `$` in a
// lookbehind, a word boundary, or a lookaround of the other direction (a lookahead inside a
// lookbehind reads past the lookbehind's text, and conversely).
bool ReadsOutside(std::string_view x, bool behind) {
  return AnyOutsideClasses(x, [&](size_t i, bool escaped) {
    if (escaped) return x[i] == 'b' || x[i] == 'B';
    if (x[i] == (behind ? '$' : '^')) return true;
    if (x.substr(i, 2) != "(?") return false;
    const std::string_view rest = x.substr(i + 2);
    const bool ahead = !rest.empty() && (rest[0] == '=' || rest[0] == '!');
    const bool back = rest.size() >= 2 && rest[0] == '<' && (rest[1] == '=' || rest[1] == '!');
    return behind ? ahead : back;
  });
}

// States from which every string is accepted: accepting, every scalar value has an edge, and
// every edge leads to such a state (the greatest fixpoint).
std::vector<uint8_t> Universal(const CpDfa& d) {
  std::vector<uint8_t> u(d.num_states(), 0);
  for (int32_t s = 0; s < d.num_states(); ++s) {
    // Edges are sorted and disjoint and never hold surrogates: they must cover the rest.
    char32_t need = 0;
    bool total = d.accepting(s);
    for (const CpDfa::Edge& e : d.edges(s)) {
      if (need == 0xD800) need = 0xE000;
      if (!total || e.lo > need) {
        total = false;
        break;
      }
      need = std::max<char32_t>(need, e.hi + 1);
    }
    if (need == 0xD800) need = 0xE000;
    u[s] = total && need > 0x10FFFF;
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t s = 0; s < d.num_states(); ++s) {
      if (!u[s]) continue;
      for (const CpDfa::Edge& e : d.edges(s)) {
        if (!u[e.to]) {
          u[s] = 0;
          changed = true;
          break;
        }
      }
    }
  }
  return u;
}

struct Condition {
  CpDfa dfa;
  std::vector<uint8_t> universal;
  bool behind = false, negated = false;
  int32_t run = -1;  // lookbehinds: the index of its run in a configuration's b
};

// A configuration, flattened: q, then one state per lookbehind run (-1: dead), then pairs
// (lookaround index, state) of the pending lookaheads, sorted.
using Config = std::vector<int32_t>;

class Eliminator {
 public:
  Eliminator(const CpDfa& main, std::vector<Condition> conds, int32_t max_states)
      : main_(main), conds_(std::move(conds)), max_states_(max_states) {
    for (size_t j = 0; j < conds_.size(); ++j) {
      if (!conds_[j].behind) continue;
      conds_[j].run = runs_++;
      run_cond_.push_back(j);
    }
  }

  Result<CpDfa> Run() {
    Config start{0};
    for (const Condition& c : conds_) {
      if (c.behind) start.push_back(0);
    }
    id_of(Closure({start}));
    while (!queue_.empty()) {
      const std::vector<Config> set = std::move(queue_.front());
      queue_.pop_front();
      const int32_t from = ids_[set];
      if (out_.num_states() > max_states_) {
        return LimitError("the lookaround automaton exceeds its limit of " +
                          std::to_string(max_states_) + " states");
      }
      bool accepting = false;
      std::vector<char32_t> cuts{0};
      for (const Config& c : set) {
        accepting = accepting || Accepts(c);
        AddCuts(main_, c[0], &cuts);
        for (int32_t r = 0; r < runs_; ++r) {
          if (c[1 + r] >= 0) AddCuts(conds_[run_cond_[r]].dfa, c[1 + r], &cuts);
        }
        for (size_t i = 1 + runs_; i + 1 < c.size(); i += 2) {
          AddCuts(conds_[c[i]].dfa, c[i + 1], &cuts);
        }
      }
      out_.set_accepting(from, accepting);
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
      for (size_t i = 0; i < cuts.size(); ++i) {
        const char32_t lo = cuts[i];
        const char32_t hi = i + 1 < cuts.size() ? cuts[i + 1] - 1 : 0x10FFFF;
        if (lo > 0x10FFFF || (lo >= 0xD800 && hi <= 0xDFFF)) continue;  // markers: not text
        std::vector<Config> next;
        for (const Config& c : set) {
          Config n;
          if (Step(c, lo, &n)) next.push_back(std::move(n));
        }
        if (next.empty()) continue;
        out_.AddEdge(from, lo, hi, id_of(Closure(std::move(next))));
      }
    }
    out_.Normalize();
    return jsonschema::Minimize(out_);
  }

 private:
  static void AddCuts(const CpDfa& d, int32_t s, std::vector<char32_t>* cuts) {
    for (const CpDfa::Edge& e : d.edges(s)) {
      cuts->push_back(e.lo);
      cuts->push_back(e.hi + 1);
    }
  }

  bool Accepts(const Config& c) const {
    if (!main_.accepting(c[0])) return false;
    for (size_t i = 1 + runs_; i + 1 < c.size(); i += 2) {
      const Condition& k = conds_[c[i]];
      if (k.dfa.accepting(c[i + 1]) == k.negated) return false;
    }
    return true;
  }

  // Adds a pending lookahead run (j, z) to `c`'s set; false when that kills the configuration.
  bool AddRun(Config* c, int32_t j, int32_t z) const {
    const Condition& k = conds_[j];
    if (z < 0) return k.negated;           // the assertion's text cannot follow
    if (k.universal[z]) return !k.negated;  // every continuation satisfies it
    c->push_back(j);
    c->push_back(z);
    return true;
  }

  static void SortRuns(Config* c, size_t first) {
    std::vector<std::pair<int32_t, int32_t>> runs;
    for (size_t i = first; i + 1 < c->size(); i += 2) runs.push_back({(*c)[i], (*c)[i + 1]});
    std::sort(runs.begin(), runs.end());
    runs.erase(std::unique(runs.begin(), runs.end()), runs.end());
    c->resize(first);
    for (const auto& [j, z] : runs) {
      c->push_back(j);
      c->push_back(z);
    }
  }

  // `c` after code point `cp`; false when it dies.
  bool Step(const Config& c, char32_t cp, Config* out) const {
    const int32_t q = main_.Step(c[0], cp);
    if (q < 0) return false;
    out->assign({q});
    for (int32_t r = 0; r < runs_; ++r) {
      out->push_back(c[1 + r] < 0 ? -1 : conds_[run_cond_[r]].dfa.Step(c[1 + r], cp));
    }
    for (size_t i = 1 + runs_; i + 1 < c.size(); i += 2) {
      if (!AddRun(out, c[i], conds_[c[i]].dfa.Step(c[i + 1], cp))) return false;
    }
    SortRuns(out, 1 + runs_);
    return true;
  }

  // The markers' epsilon moves from every configuration of `set`, sorted.
  std::vector<Config> Closure(std::vector<Config> set) const {
    for (size_t i = 0; i < set.size(); ++i) {
      for (const CpDfa::Edge& e : main_.edges(set[i][0])) {
        if (e.lo < kFirstLookaroundMarker || e.lo > kLastLookaroundMarker) continue;
        for (char32_t m = e.lo; m <= e.hi && m <= kLastLookaroundMarker; ++m) {
          const size_t j = m - kFirstLookaroundMarker;
          if (j >= conds_.size()) continue;
          const Condition& k = conds_[j];
          Config n = set[i];
          n[0] = e.to;
          bool alive = true;
          if (k.behind) {
            const int32_t b = n[1 + k.run];
            alive = (b >= 0 && k.dfa.accepting(b)) != k.negated;
          } else {
            alive = AddRun(&n, static_cast<int32_t>(j), 0);
            SortRuns(&n, 1 + runs_);
          }
          if (alive && std::find(set.begin(), set.end(), n) == set.end()) set.push_back(n);
        }
      }
    }
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    return set;
  }

  int32_t id_of(std::vector<Config> set) {
    auto [it, fresh] = ids_.emplace(set, out_.num_states());
    if (fresh) {
      out_.AddState(false);
      queue_.push_back(std::move(set));
    }
    return it->second;
  }

  const CpDfa& main_;
  std::vector<Condition> conds_;
  int32_t max_states_;
  int32_t runs_ = 0;
  std::vector<size_t> run_cond_;  // lookbehind run r -> its condition
  CpDfa out_;
  std::map<std::vector<Config>, int32_t> ids_;
  std::deque<std::vector<Config>> queue_;
};

}  // namespace

namespace {

// Lookarounds inside lookarounds, at most this deep (each level is a whole construction on the
// stack: a bound well inside SECURITY.md's stack budget).
constexpr int kMaxLookaroundNesting = 16;

Result<jsonschema::CpDfa> RegexToDfaAt(std::string_view pattern, const RegexOptions& opts,
                                       int32_t max_states, int nesting);

Result<jsonschema::CpDfa> ParsedToDfa(const Grammar& g, ExprId e,
                                      const std::vector<std::pair<ExprId, char32_t>>& markers,
                                      const std::vector<RegexLookaround>& looks,
                                      const RegexOptions& opts, int32_t max_states, int nesting) {
  if (HasWordBoundaryMarkers(markers) && !looks.empty()) {
    Status s(StatusCode::kUnsupported, "word boundaries together with lookaround");
    return s.WithOffset(static_cast<int64_t>(looks[0].offset));
  }
  auto d = jsonschema::DfaFromExpr(g, e, max_states, &markers);
  if (!d.ok()) return d.status();
  if (looks.empty()) return jsonschema::Minimize(*d);
  std::vector<Condition> conds;
  for (const RegexLookaround& look : looks) {
    const std::string kind = std::string(look.negated ? "negative " : "") +
                             (look.behind ? "lookbehind" : "lookahead");
    auto fail = [&](StatusCode code, const std::string& why) {
      Status s(code, kind + " '" + look.pattern + "': " + why);
      return s.WithOffset(static_cast<int64_t>(look.offset));
    };
    if (ReadsOutside(look.pattern, look.behind)) {
      return fail(StatusCode::kUnsupported,
                  std::string(look.behind ? "'$'" : "'^'") + ", a word boundary or a " +
                      (look.behind ? "lookahead inside a lookbehind" :
                                     "lookbehind inside a lookahead") +
                      " reads outside the assertion's text: not supported");
    }
    RegexOptions co = opts;
    co.search_semantics = true;  // L(^(?:X)) / L((?:Y)$): the rest of the text is free
    const std::string text =
        look.behind ? "(?:" + look.pattern + ")$" : "^(?:" + look.pattern + ")";
    if (nesting >= kMaxLookaroundNesting) {
      return fail(StatusCode::kLimit, "lookarounds nested more than " +
                                          std::to_string(kMaxLookaroundNesting) + " deep");
    }
    auto c = RegexToDfaAt(text, co, max_states, nesting + 1);
    if (!c.ok()) return fail(c.status().code(), c.status().message());
    Condition k;
    k.dfa = std::move(*c);
    k.universal = Universal(k.dfa);
    k.behind = look.behind;
    k.negated = look.negated;
    conds.push_back(std::move(k));
  }
  Eliminator eliminator(*d, std::move(conds), max_states);
  return eliminator.Run();
}

// \b and \B written as the lookarounds they abbreviate (ECMA: \w = [A-Za-z0-9_], the text's
// edges are non-word): \b = (?:(?<=\w)(?!\w)|(?<!\w)(?=\w)), \B = (?:(?<=\w)(?=\w)|(?<!\w)(?!\w)),
// so that a pattern holding both kinds of assertion takes the one lookaround construction. Outside
// classes only ([\b] is U+0008). nullopt when there is none, or with a modifier group `(?i` /
// `(?-` (ECMA's \b under i also counts U+017F and U+212A: the parser refuses that).
std::optional<std::string> BoundariesAsLookarounds(std::string_view p) {
  std::string out;
  bool in_class = false, any = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (!in_class && c == '(' && i + 2 < p.size() && p[i + 1] == '?' &&
        (p[i + 2] == '-' || (p[i + 2] >= 'a' && p[i + 2] <= 'z'))) {
      return std::nullopt;
    }
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      ++i;
      if (!in_class && (n == 'b' || n == 'B')) {
        out += n == 'b' ? "(?:(?<=\\w)(?!\\w)|(?<!\\w)(?=\\w))"
                        : "(?:(?<=\\w)(?=\\w)|(?<!\\w)(?!\\w))";
        any = true;
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') {  // [^] is a class: its ']' closes it
        out += "[^";
        ++i;
        continue;
      }
    }
    out += c;
  }
  if (!any) return std::nullopt;
  return out;
}

Result<jsonschema::CpDfa> RegexToDfaAt(std::string_view pattern, const RegexOptions& opts,
                                       int32_t max_states, int nesting) {
  Grammar scratch;
  std::vector<std::pair<ExprId, char32_t>> markers;
  std::vector<RegexLookaround> looks;
  RegexOptions o = opts;
  o.boundary_markers = &markers;
  o.lookarounds = &looks;
  auto e = RegexToExpr(pattern, &scratch, o);
  if (!e.ok()) return e.status();
  if (HasWordBoundaryMarkers(markers) && !looks.empty()) {
    if (const std::optional<std::string> r = BoundariesAsLookarounds(pattern)) {
      auto d = RegexToDfaAt(*r, opts, max_states, nesting);  // no \b left: no second rewrite
      if (d.ok() || d.status().code() != StatusCode::kUnsupported) return d;
      // (An offset in the rewritten text would mislead: the assertion's own is given.)
      Status s(StatusCode::kUnsupported,
               "word boundaries together with lookaround: " + d.status().message());
      return s.WithOffset(static_cast<int64_t>(looks[0].offset));
    }
  }
  return ParsedToDfa(scratch, *e, markers, looks, opts, max_states, nesting);
}

}  // namespace

Result<jsonschema::CpDfa> RegexToDfa(std::string_view pattern, const RegexOptions& opts,
                                     int32_t max_states) {
  return RegexToDfaAt(pattern, opts, max_states, 0);
}

Result<jsonschema::CpDfa> ParsedRegexToDfa(
    const Grammar& g, ExprId e, const std::vector<std::pair<ExprId, char32_t>>& markers,
    const std::vector<RegexLookaround>& looks, const RegexOptions& opts, int32_t max_states) {
  return ParsedToDfa(g, e, markers, looks, opts, max_states, 0);
}

}  // namespace sieve
