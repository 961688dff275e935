// Lookaround at the anchored ends of a pattern (regex_lookaround.h).
#include "grammar/regex_lookaround.h"

#include <cstddef>

namespace sieve {

namespace {

// The index just past the class that opens at `open` (a '['), or npos when it is not closed:
// classes run to their first unescaped ']' (`[]` is the empty class in ECMA-262, so a ']' right
// after `[` or `[^` closes it).
size_t ClassEnd(std::string_view p, size_t open) {
  size_t i = open + 1;
  while (i < p.size() && p[i] != ']') i += p[i] == '\\' ? 2 : 1;
  return i < p.size() ? i + 1 : std::string_view::npos;
}

// The index just past the group that opens at `open` (a '('), or npos when it is not closed.
// Escapes skip the next byte.
size_t GroupEnd(std::string_view p, size_t open) {
  int depth = 0;
  for (size_t i = open; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      i = ClassEnd(p, i);
      if (i == std::string_view::npos) return i;
      --i;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// Whether `p` has a '|' outside every group and class.
bool HasTopLevelBar(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[' || c == '(') {
      const size_t end = c == '(' ? GroupEnd(p, i) : ClassEnd(p, i);
      if (end == std::string_view::npos) return false;  // malformed: the parser will say so
      i = end - 1;
    } else if (c == '|') {
      return true;
    }
  }
  return false;
}

// A lookaround group opening at `i`: (?= (?! (?<= (?<!.
struct Assertion {
  bool behind = false;
  bool negated = false;
  size_t body = 0;  // first byte of the body
};
std::optional<Assertion> AssertionAt(std::string_view p, size_t i) {
  if (i + 3 > p.size() || p[i] != '(' || p[i + 1] != '?') return std::nullopt;
  if (p[i + 2] == '=' || p[i + 2] == '!') return Assertion{false, p[i + 2] == '!', i + 3};
  if (i + 4 <= p.size() && p[i + 2] == '<' && (p[i + 3] == '=' || p[i + 3] == '!')) {
    return Assertion{true, p[i + 3] == '!', i + 4};
  }
  return std::nullopt;
}

// Whether the '$' at `i` is an anchor (not escaped): an even run of backslashes before it.
bool UnescapedAt(std::string_view p, size_t i) {
  size_t n = 0;
  while (n < i && p[i - 1 - n] == '\\') ++n;
  return n % 2 == 0;
}

}  // namespace

std::optional<AnchoredLookarounds> SplitAnchoredLookarounds(std::string_view p) {
  // A leading bare flag group ((?i), regex_parser.cc) applies to the assertions too: parts cut out
  // of the pattern would lose it, so such patterns go to the parser's general lookaround.
  if (p.size() > 2 && p[0] == '(' && p[1] == '?' &&
      std::string_view("imsxu-").find(p[2]) != std::string_view::npos) {
    return std::nullopt;
  }
  AnchoredLookarounds out;
  // Leading: a run of '^' and lookaheads holding at least one '^'.
  size_t i = 0;
  bool anchored = false;
  std::vector<AnchoredLookarounds::Part> lead;
  while (i < p.size()) {
    if (p[i] == '^') {
      anchored = true;
      ++i;
      continue;
    }
    const std::optional<Assertion> a = AssertionAt(p, i);
    if (!a || a->behind) break;
    const size_t end = GroupEnd(p, i);
    if (end == std::string_view::npos) return std::nullopt;
    lead.push_back({"^(?:" + std::string(p.substr(a->body, end - 1 - a->body)) + ")", a->negated});
    i = end;
  }
  if (!anchored) lead.clear();
  const size_t rest_begin = lead.empty() ? 0 : i;
  // Trailing: lookbehinds right before a final unescaped '$'.
  std::vector<AnchoredLookarounds::Part> trail;
  size_t rest_end = p.size();
  if (!p.empty() && p.back() == '$' && UnescapedAt(p, p.size() - 1)) {
    size_t e = p.size() - 1;
    while (e > rest_begin && p[e - 1] == ')') {
      // Find the group that closes at e - 1: scan groups from rest_begin.
      size_t open = std::string_view::npos;
      for (size_t j = rest_begin; j < e;) {
        if (p[j] == '\\') {
          j += 2;
        } else if (p[j] == '[') {
          j = ClassEnd(p, j);
          if (j == std::string_view::npos) return std::nullopt;
        } else if (p[j] == '(') {
          const size_t end = GroupEnd(p, j);
          if (end == std::string_view::npos) return std::nullopt;
          if (end == e) open = j;
          j = end;
        } else {
          ++j;
        }
      }
      if (open == std::string_view::npos) break;
      const std::optional<Assertion> a = AssertionAt(p, open);
      if (!a || !a->behind) break;
      trail.insert(trail.begin(),
                   {"(?:" + std::string(p.substr(a->body, e - 1 - a->body)) + ")$", a->negated});
      e = open;
    }
    if (!trail.empty()) rest_end = e;
  }
  if (lead.empty() && trail.empty()) return std::nullopt;
  const std::string_view rest = p.substr(rest_begin, rest_end - rest_begin);
  if (HasTopLevelBar(rest)) return std::nullopt;
  if (!lead.empty()) out.main += '^';
  out.main.append(rest);
  if (!trail.empty()) out.main += '$';
  out.parts = std::move(lead);
  out.parts.insert(out.parts.end(), trail.begin(), trail.end());
  return out;
}

}  // namespace sieve
