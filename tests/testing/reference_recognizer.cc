// Reference recogniser (see reference_recognizer.h).
//
// Positions are 0..n (n = input size) plus out_ = n + 1, which stands for "the input ran out inside
// this match" and is only produced in prefix mode. A set of positions is a sorted vector.
//
// Why the pass loop is right: every table entry is built from derivations that exist (so it is
// never more than the true answer), entries only grow, and a pass in which no entry grew read only
// final values, so the table is then closed under the grammar's equations: the least fixpoint.
#include "tests/testing/reference_recognizer.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

using Set = std::vector<int>;

void Unite(Set* into, const Set& from) {
  Set out;
  std::set_union(into->begin(), into->end(), from.begin(), from.end(), std::back_inserter(out));
  *into = std::move(out);
}

bool InClass(const Grammar& g, const Expr& e, char32_t cp) {
  for (const CodepointRange& r : g.ranges(e)) {
    if (cp >= r.lo && cp <= r.hi) return true;
  }
  return false;
}

// Code points whose UTF-8 encoding starts with `prefix` (1..3 bytes, shorter than the encoding)
// form the interval [*lo, *hi]; false when no code point does.
bool PrefixInterval(std::string_view prefix, char32_t* lo, char32_t* hi) {
  auto b0 = static_cast<uint8_t>(prefix[0]);
  int len;
  char32_t value, min_cp, max_cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, value = b0 & 0x1F, min_cp = 0x80, max_cp = 0x7FF;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, value = b0 & 0x0F, min_cp = 0x800, max_cp = 0xFFFF;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, value = b0 & 0x07, min_cp = 0x10000, max_cp = 0x10FFFF;
  } else {
    return false;
  }
  if (static_cast<int>(prefix.size()) >= len) return false;
  for (size_t i = 1; i < prefix.size(); ++i) {
    auto b = static_cast<uint8_t>(prefix[i]);
    if ((b & 0xC0) != 0x80) return false;
    value = (value << 6) | (b & 0x3F);
  }
  const int missing = len - static_cast<int>(prefix.size());
  char32_t l = value << (6 * missing);
  char32_t h = l | ((char32_t{1} << (6 * missing)) - 1);
  *lo = std::max(l, min_cp);
  *hi = std::min(h, max_cp);
  return *lo <= *hi;
}

class Recognizer {
 public:
  Recognizer(const Grammar& g, std::string_view input, bool prefix)
      : g_(g), in_(input), prefix_(prefix), n_(static_cast<int>(input.size())), out_(n_ + 1) {}

  bool Run() {
    if (g_.root() < 0 || static_cast<size_t>(g_.root()) >= g_.num_rules()) return false;
    ComputeProductive();
    if (!productive_rule_[g_.root()]) return false;
    Set ends;
    do {
      changed_ = false;
      expr_memo_.clear();
      done_.clear();
      ends = RuleEnds(g_.root(), 0);
    } while (changed_);
    bool complete = std::binary_search(ends.begin(), ends.end(), n_);
    return prefix_ ? complete || std::binary_search(ends.begin(), ends.end(), out_) : complete;
  }

 private:
  uint64_t Key(int64_t id, int pos) const { return static_cast<uint64_t>(id) * (n_ + 2) + pos; }

  bool Productive(ExprId id) const {
    const Expr& e = g_.expr(id);
    switch (e.kind) {
      case ExprKind::kEmpty:
      case ExprKind::kBytes:
        return true;
      case ExprKind::kCharClass:
        return e.size > 0;
      case ExprKind::kRuleRef:
        return productive_rule_[e.rule];
      case ExprKind::kRepeat:
        return e.min == 0 || Productive(g_.children(e)[0]);
      case ExprKind::kSequence:
        for (ExprId c : g_.children(e)) {
          if (!Productive(c)) return false;
        }
        return true;
      case ExprKind::kChoice:
        for (ExprId c : g_.children(e)) {
          if (Productive(c)) return true;
        }
        return false;
    }
    return false;
  }

  // A rule is productive when it derives some finite string (plain fixpoint iteration).
  void ComputeProductive() {
    productive_rule_.assign(g_.num_rules(), false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < g_.num_rules(); ++r) {
        if (!productive_rule_[r] && Productive(g_.rule(static_cast<RuleId>(r)).body)) {
          productive_rule_[r] = true;
          changed = true;
        }
      }
    }
  }

  Set RuleEnds(RuleId r, int pos) {
    const uint64_t key = Key(r, pos);
    if (done_.count(key) || in_progress_.count(key)) return table_[key];
    if (!productive_rule_[r]) return {};
    in_progress_.insert(key);
    const Rule& rule = g_.rule(r);
    Set ends = Eval(rule.body, pos);
    if (rule.lookahead != kNoExpr) {
      Set kept;
      for (int e : ends) {
        if (e == out_ || !Eval(rule.lookahead, e).empty()) kept.push_back(e);
      }
      ends = std::move(kept);
    }
    in_progress_.erase(key);
    done_.insert(key);
    Set& entry = table_[key];
    size_t before = entry.size();
    Unite(&entry, ends);
    if (entry.size() != before) changed_ = true;
    return entry;
  }

  Set Eval(ExprId id, int pos) {
    if (pos == out_) return Productive(id) ? Set{out_} : Set{};
    const uint64_t key = Key(id, pos);
    auto it = expr_memo_.find(key);
    if (it != expr_memo_.end()) return it->second;
    Set result = Compute(id, pos);
    expr_memo_[key] = result;
    return result;
  }

  Set Step(ExprId id, const Set& from) {
    Set out;
    for (int p : from) Unite(&out, Eval(id, p));
    return out;
  }

  Set Compute(ExprId id, int pos) {
    const Expr& e = g_.expr(id);
    switch (e.kind) {
      case ExprKind::kEmpty:
        return {pos};
      case ExprKind::kBytes: {
        std::string_view lit = g_.bytes(e);
        std::string_view rest = in_.substr(pos);
        if (rest.substr(0, lit.size()) == lit) return {pos + static_cast<int>(lit.size())};
        if (prefix_ && rest.size() < lit.size() && lit.substr(0, rest.size()) == rest) {
          return {out_};
        }
        return {};
      }
      case ExprKind::kCharClass: {
        if (pos == n_) return prefix_ ? Set{out_} : Set{};
        char32_t cp;
        int len = DecodeUtf8(reinterpret_cast<const uint8_t*>(in_.data() + pos), n_ - pos, &cp);
        if (len > 0) return InClass(g_, e, cp) ? Set{pos + len} : Set{};
        char32_t lo, hi;
        if (prefix_ && PrefixInterval(in_.substr(pos), &lo, &hi)) {
          for (const CodepointRange& r : g_.ranges(e)) {
            if (r.lo <= hi && lo <= r.hi) return {out_};
          }
        }
        return {};
      }
      case ExprKind::kRuleRef:
        return RuleEnds(e.rule, pos);
      case ExprKind::kSequence: {
        Set cur{pos};
        for (ExprId c : g_.children(e)) {
          cur = Step(c, cur);
          if (cur.empty()) break;
        }
        return cur;
      }
      case ExprKind::kChoice: {
        Set out;
        for (ExprId c : g_.children(e)) Unite(&out, Eval(c, pos));
        return out;
      }
      case ExprKind::kRepeat:
        return Repeat(g_.children(e)[0], e.min, e.max, pos);
    }
    return {};
  }

  // Level k holds the positions reached after exactly k repetitions; the answer is the union of the
  // levels min..max. Past min with no upper bound, a closure replaces level-by-level iteration.
  Set Repeat(ExprId item, int32_t min, int32_t max, int pos) {
    Set cur{pos}, result;
    for (int64_t k = 0;; ++k) {
      if (k >= min) Unite(&result, cur);
      if (max != kUnbounded && k == max) break;
      if (k >= min && max == kUnbounded) {
        std::vector<int> work(cur.begin(), cur.end());
        while (!work.empty()) {
          int p = work.back();
          work.pop_back();
          for (int q : Eval(item, p)) {
            if (!std::binary_search(result.begin(), result.end(), q)) {
              Unite(&result, Set{q});
              work.push_back(q);
            }
          }
        }
        break;
      }
      Set next = Step(item, cur);
      if (next.empty()) break;
      if (next == cur) {  // every later level is the same set, and some of them are in min..max
        Unite(&result, cur);
        break;
      }
      cur = std::move(next);
    }
    return result;
  }

  const Grammar& g_;
  std::string_view in_;
  const bool prefix_;
  const int n_;
  const int out_;
  std::vector<bool> productive_rule_;
  std::unordered_map<uint64_t, Set> table_;
  std::unordered_map<uint64_t, Set> expr_memo_;
  std::unordered_set<uint64_t> done_, in_progress_;
  bool changed_ = false;
};

}  // namespace

bool ReferenceMatch(const Grammar& g, std::string_view input) {
  return Recognizer(g, input, /*prefix=*/false).Run();
}

bool ReferenceIsPrefix(const Grammar& g, std::string_view input) {
  return Recognizer(g, input, /*prefix=*/true).Run();
}

bool LoadSentences(const std::string& path, std::vector<TestSentence>* out, std::string* error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = "cannot read " + path;
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    TestSentence s;
    s.line = number;
    size_t i = 0;
    if (line[0] == '~') {
      s.prefix = true;
      i = 1;
    }
    for (; i < line.size(); ++i) {
      if (line[i] != '\\') {
        s.text.push_back(line[i]);
        continue;
      }
      char e = i + 1 < line.size() ? line[i + 1] : '\0';
      ++i;
      switch (e) {
        case 'n':
          s.text.push_back('\n');
          break;
        case 'r':
          s.text.push_back('\r');
          break;
        case 't':
          s.text.push_back('\t');
          break;
        case '\\':
          s.text.push_back('\\');
          break;
        case 'e':
          break;
        case 'x': {
          auto hex = [](char c) {
            return c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
          };
          int hi = i + 1 < line.size() ? hex(line[i + 1]) : -1;
          int lo = i + 2 < line.size() ? hex(line[i + 2]) : -1;
          if (hi < 0 || lo < 0) {
            *error = path + ":" + std::to_string(number) + ": \\x needs two hex digits";
            return false;
          }
          s.text.push_back(static_cast<char>(hi * 16 + lo));
          i += 2;
          break;
        }
        default:
          *error = path + ":" + std::to_string(number) + ": unknown escape";
          return false;
      }
    }
    out->push_back(std::move(s));
  }
  return true;
}

}  // namespace sieve
