// EBNF printer (see grammar_printer.h).
//
// Precedence, loosest first: choice `a | b`, sequence `a b`, postfix `x*`, atoms. A child is
// wrapped in parentheses exactly when the parser would otherwise build a different tree: a choice
// inside a choice or sequence, a sequence inside a sequence, and anything but an atom under a
// quantifier. Names that the parser could not read back (from front ends other than ParseEbnf) are
// sanitised to [a-zA-Z0-9_-] and made unique with a numeric suffix.
#include "grammar/grammar_printer.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void AppendHex(std::string* out, uint32_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(v >> (4 * i)) & 15]);
}

// Appends cp, escaped when it is not printable ASCII or is special in the context (`specials`).
void AppendCodepoint(std::string* out, char32_t cp, const char* specials) {
  if (cp >= 0x20 && cp < 0x7F) {
    for (const char* s = specials; *s; ++s) {
      if (static_cast<char32_t>(*s) == cp) {
        out->push_back('\\');
        break;
      }
    }
    out->push_back(static_cast<char>(cp));
    return;
  }
  switch (cp) {
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    default:
      break;
  }
  if (cp < 0x80) {
    *out += "\\x";
    AppendHex(out, cp, 2);
  } else if (cp <= 0xFFFF) {
    *out += "\\u";
    AppendHex(out, cp, 4);
  } else {
    *out += "\\U";
    AppendHex(out, cp, 8);
  }
}

bool IsFullClass(std::span<const CodepointRange> r) {
  return r.size() == 2 && r[0].lo == 0 && r[0].hi == 0xD7FF && r[1].lo == 0xE000 &&
         r[1].hi == 0x10FFFF;
}

void AppendClassChar(std::string* out, char32_t cp, bool first) {
  // '-' and a leading '^' as hex escapes: llama.cpp has no \- or \^.
  if (cp == '-' || (first && cp == '^')) {
    *out += "\\x";
    AppendHex(out, cp, 2);
    return;
  }
  AppendCodepoint(out, cp, "\\][");
}

void AppendRanges(std::string* out, std::span<const CodepointRange> ranges) {
  bool first = true;
  for (const CodepointRange& r : ranges) {
    AppendClassChar(out, r.lo, first);
    first = false;
    if (r.hi == r.lo) continue;
    if (r.hi > r.lo + 1) out->push_back('-');
    AppendClassChar(out, r.hi, false);
  }
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsReadableName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (IsNameChar(c)) continue;
    if (c == '.' && i > 0 && i + 1 < name.size() && IsNameChar(name[i - 1]) &&
        IsNameChar(name[i + 1])) {
      continue;
    }
    return false;
  }
  return true;
}

class Printer {
 public:
  explicit Printer(const Grammar& g) : g_(g) {
    std::unordered_set<std::string> taken;
    for (size_t i = 0; i < g.num_rules(); ++i) {
      if (IsReadableName(g.rule(static_cast<RuleId>(i)).name)) {
        taken.insert(g.rule(static_cast<RuleId>(i)).name);
      }
    }
    names_.resize(g.num_rules());
    for (size_t i = 0; i < g.num_rules(); ++i) {
      const std::string& name = g.rule(static_cast<RuleId>(i)).name;
      if (IsReadableName(name)) {
        names_[i] = name;
        continue;
      }
      std::string base;
      for (char c : name) base.push_back(IsNameChar(c) ? c : '_');
      if (base.empty()) base = "rule";
      std::string candidate = base;
      for (int n = 1; taken.count(candidate); ++n) candidate = base + "_" + std::to_string(n);
      taken.insert(candidate);
      names_[i] = candidate;
    }
  }

  std::string All() {
    std::string out;
    for (size_t i = 0; i < g_.num_rules(); ++i) {
      const Rule& r = g_.rule(static_cast<RuleId>(i));
      // Read back by ParseEbnf; other tools see a comment (and do not check the items).
      if (r.unique_items == kUniqueCheck) out += "#!unique_items " + names_[i] + "\n";
      if (r.unique_items == kUniqueKeysLive) out += "#!unique_keys " + names_[i] + "\n";
      out += names_[i];
      out += " ::= ";
      if (r.body >= 0 && static_cast<size_t>(r.body) < g_.num_exprs()) Node(r.body, &out);
      if (r.lookahead != kNoExpr) {
        out += " (= ";
        Node(r.lookahead, &out);
        out += ")";
      }
      out += "\n";
    }
    return out;
  }

  // Iterative (a work stack, not recursion): grammars built through the API are not depth-limited
  // the way parsed ones are, and printing must not overflow the stack on any of them.
  void Node(ExprId root, std::string* out) {
    std::vector<Item> stack;
    stack.push_back({root, {}});
    while (!stack.empty()) {
      Item it = std::move(stack.back());
      stack.pop_back();
      if (it.id < 0) {
        *out += it.text;
        continue;
      }
      const Expr& e = g_.expr(it.id);
      switch (e.kind) {
        case ExprKind::kEmpty:
          *out += "\"\"";
          break;
        case ExprKind::kBytes:
          AppendBytes(g_.bytes(e), out);
          break;
        case ExprKind::kCharClass:
          AppendClass(e, out);
          break;
        case ExprKind::kRuleRef:
          *out += names_[e.rule];
          break;
        case ExprKind::kSequence:
        case ExprKind::kChoice: {
          // Pushed last child first, so they come off in order.
          const auto children = g_.children(e);
          const bool seq = e.kind == ExprKind::kSequence;
          for (size_t i = children.size(); i-- > 0;) {
            const ExprKind k = g_.expr(children[i]).kind;
            PushWrapped(children[i], k == ExprKind::kChoice || (seq && k == ExprKind::kSequence),
                        &stack);
            if (i > 0) stack.push_back({-1, seq ? " " : " | "});
          }
          break;
        }
        case ExprKind::kRepeat: {
          const ExprId c = g_.children(e)[0];
          const ExprKind k = g_.expr(c).kind;
          stack.push_back({-1, RepeatSuffix(e)});
          PushWrapped(c,
                      k == ExprKind::kSequence || k == ExprKind::kChoice || k == ExprKind::kRepeat,
                      &stack);
          break;
        }
      }
    }
  }

 private:
  // A piece of output: an expression to print (id >= 0) or text to append (id < 0).
  struct Item {
    ExprId id;
    std::string text;
  };

  static void PushWrapped(ExprId id, bool parens, std::vector<Item>* stack) {
    if (parens) stack->push_back({-1, ")"});
    stack->push_back({id, {}});
    if (parens) stack->push_back({-1, "("});
  }

  static std::string RepeatSuffix(const Expr& e) {
    if (e.min == 0 && e.max == kUnbounded) return "*";
    if (e.min == 1 && e.max == kUnbounded) return "+";
    if (e.min == 0 && e.max == 1) return "?";
    std::string out = "{" + std::to_string(e.min);
    if (e.max != e.min) {
      out.push_back(',');
      if (e.max != kUnbounded) out += std::to_string(e.max);
    }
    out.push_back('}');
    return out;
  }

  static void AppendBytes(std::string_view b, std::string* out) {
    out->push_back('"');
    size_t i = 0;
    while (i < b.size()) {
      char32_t cp;
      int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(b.data() + i), b.size() - i, &cp);
      if (n < 0) {  // invalid IR; print the byte as a code point so the output stays readable
        cp = static_cast<unsigned char>(b[i]);
        n = 1;
      }
      AppendCodepoint(out, cp, "\\\"");
      i += static_cast<size_t>(n);
    }
    out->push_back('"');
  }

  void AppendClass(const Expr& e, std::string* out) const {
    std::span<const CodepointRange> ranges = g_.ranges(e);
    if (IsFullClass(ranges)) {
      out->push_back('.');
      return;
    }
    if (e.negated) {
      std::vector<CodepointRange> complement =
          Grammar::NormalizeRanges(std::vector<CodepointRange>(ranges.begin(), ranges.end()), true);
      if (!complement.empty()) {
        *out += "[^";
        AppendRanges(out, complement);
        out->push_back(']');
        return;
      }
    }
    out->push_back('[');
    AppendRanges(out, ranges);
    out->push_back(']');
  }

  const Grammar& g_;
  std::vector<std::string> names_;
};

}  // namespace

std::string PrintEbnf(const Grammar& g) { return Printer(g).All(); }

std::string PrintExpr(const Grammar& g, ExprId e) {
  std::string out;
  Printer(g).Node(e, &out);
  return out;
}

}  // namespace sieve
