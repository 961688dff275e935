// The regex front end against RE2 as an oracle, over tests/data/regex/patterns.txt: 300 patterns of
// the kind real JSON Schemas carry (dates, emails, phones, UUIDs, semver, colours, IPs, URLs,
// Unicode classes, nested groups, bounded repeats, anchors inside groups, unanchored patterns).
//
// Each pattern is compiled twice through the real pipeline (RegexToGrammar -> CompileGrammarIr):
// anchored (search_semantics = false) and searched (the JSON Schema default). Then
//  1. random walks through the anchored automaton (random allowed bytes until it can end) give
//     strings that RE2::FullMatch must accept: everything we generate is in the language;
//  2. candidate strings (random ASCII, random code points from the pattern's own characters and a
//     pool of Unicode corner cases, the walks themselves, their mutations, and walks embedded in
//     random text) must get the same verdict from both engines: anchored matcher <=> FullMatch,
//     searched matcher <=> PartialMatch. Candidates are valid UTF-8 (RE2 and we disagree on
//     purpose about invalid bytes: RE2's unanchored search skips them, a sieve grammar never
//     emits them).
// RE2 and ECMA-262 disagree on some syntax, so the test translates the pattern for RE2 with a small
// independent scanner (TranslateToRe2): ECMA `.` -> [^\n\r\x{2028}\x{2029}], \s and \S -> the ECMA
// sets spelled out, \uHHHH (and surrogate pairs) and \u{H} -> \x{H}, long \p names -> short ones,
// (?<name> -> (?P<name>, [^] -> every code point, \b in a class -> \x08, \0 -> \x00, \cX -> \x{..}.
// The corpus avoids the few places where the two grammars differ beyond that (`[]`, POSIX `[[:`).
// Seeds are fixed, so failures reproduce; the counts are printed and must stay above floors.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <bitset>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "grammar/support/utf8.h"

namespace sieve {
namespace {

// ---- ECMA -> RE2 syntax ----------------------------------------------------------------------

constexpr std::string_view kSpaceBody =
    "\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
    "\\x{3000}\\x{FEFF}";
constexpr std::string_view kNonSpaceBody =
    "\\x{0}-\\x{8}\\x{E}-\\x{1F}\\x{21}-\\x{9F}\\x{A1}-\\x{167F}\\x{1681}-\\x{1FFF}"
    "\\x{200B}-\\x{2027}\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}"
    "\\x{3001}-\\x{FEFE}\\x{FF00}-\\x{10FFFF}";

std::string Hex(char32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\x{%X}", static_cast<unsigned>(v));
  return buf;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The class body (no brackets) RE2 should use for \p{name}; empty if the test cannot translate it.
std::string PropertyBody(std::string name, bool negate) {
  for (std::string_view prefix : {"gc=", "General_Category="}) {
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  }
  static const std::map<std::string, std::string> kShort = {{"Letter", "L"},
                                                            {"Uppercase_Letter", "Lu"},
                                                            {"Lowercase_Letter", "Ll"},
                                                            {"Titlecase_Letter", "Lt"},
                                                            {"Modifier_Letter", "Lm"},
                                                            {"Other_Letter", "Lo"},
                                                            {"Mark", "M"},
                                                            {"Nonspacing_Mark", "Mn"},
                                                            {"Number", "N"},
                                                            {"Decimal_Number", "Nd"},
                                                            {"digit", "Nd"},
                                                            {"Other_Number", "No"},
                                                            {"Punctuation", "P"},
                                                            {"punct", "P"},
                                                            {"Symbol", "S"},
                                                            {"Math_Symbol", "Sm"},
                                                            {"Currency_Symbol", "Sc"},
                                                            {"Separator", "Z"},
                                                            {"Space_Separator", "Zs"},
                                                            {"Control", "Cc"},
                                                            {"Format", "Cf"}};
  if (auto it = kShort.find(name); it != kShort.end()) name = it->second;
  const std::string p = negate ? "\\P{" : "\\p{";
  if (name == "LC") {
    return negate ? "" : "\\p{Lu}\\p{Ll}\\p{Lt}";
  }
  if (name == "Any") return negate ? "" : "\\x{0}-\\x{10FFFF}";
  if (name.size() <= 2 && !name.empty() && name[0] >= 'A' && name[0] <= 'Z') {
    return p + name + "}";
  }
  return "";
}

bool Fail(std::string* why, const char* message) {
  *why = message;
  return false;
}

// See the file comment. False (with *why) when the pattern uses something not translated here.
bool TranslateToRe2(std::string_view p, std::string* out, std::string* why) {
  out->clear();
  bool in_class = false;
  size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return Fail(why, "trailing backslash");
      const char n = p[i + 1];
      if (n == 's' || n == 'S') {
        if (in_class) {
          *out += n == 's' ? kSpaceBody : kNonSpaceBody;
        } else {
          *out += (n == 's' ? "[" : "[^") + std::string(kSpaceBody) + "]";
        }
        i += 2;
      } else if (n == 'u') {
        char32_t v = 0;
        size_t j = i + 2;
        if (j < p.size() && p[j] == '{') {
          for (++j; j < p.size() && p[j] != '}'; ++j) v = v * 16 + HexDigit(p[j]);
          ++j;
        } else {
          auto four = [&](size_t at, char32_t* w) {
            *w = 0;
            for (size_t k = at; k < at + 4; ++k) {
              if (k >= p.size() || HexDigit(p[k]) < 0) return false;
              *w = *w * 16 + HexDigit(p[k]);
            }
            return true;
          };
          if (!four(j, &v)) return Fail(why, "bad \\u");
          j += 4;
          char32_t low = 0;
          if (v >= 0xD800 && v <= 0xDBFF && p.substr(j, 2) == "\\u" && four(j + 2, &low)) {
            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
            j += 6;
          }
        }
        *out += Hex(v);
        i = j;
      } else if (n == 'p' || n == 'P') {
        const size_t close = p.find('}', i);
        if (close == std::string_view::npos) return Fail(why, "bad \\p");
        const std::string body =
            PropertyBody(std::string(p.substr(i + 3, close - i - 3)), n == 'P');
        if (body.empty()) return Fail(why, "untranslated property");
        const bool single = body.rfind("\\p", 0) == 0 || body.rfind("\\P", 0) == 0;
        *out +=
            (in_class || (single && body.find('}') == body.size() - 1)) ? body : "[" + body + "]";
        i = close + 1;
      } else if (n == 'b' && in_class) {
        *out += "\\x08";
        i += 2;
      } else if (n == '0') {
        *out += "\\x00";
        i += 2;
      } else if (n == 'c') {
        *out += Hex(static_cast<char32_t>(p[i + 2] % 32));
        i += 3;
      } else {
        *out += p.substr(i, 2);
        i += 2;
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      *out += c == '[' ? std::string("\\[") : std::string(1, c);
      ++i;
      continue;
    }
    if (c == '[') {
      if (p.substr(i, 3) == "[^]") {
        *out += "[\\x{0}-\\x{10FFFF}]";
        i += 3;
        continue;
      }
      if (p.substr(i, 2) == "[]") return Fail(why, "empty class");
      *out += '[';
      ++i;
      if (i < p.size() && p[i] == '^') *out += p[i++];
      in_class = true;
    } else if (c == '.') {
      *out += "[^\\n\\r\\x{2028}\\x{2029}]";
      ++i;
    } else if (p.substr(i, 3) == "(?<" && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!') {
      *out += "(?P<";
      i += 3;
    } else {
      *out += c;
      ++i;
    }
  }
  return true;
}

// ---- corpus -----------------------------------------------------------------------------------

struct Entry {
  int line = 0;
  std::string ecma;
  std::unique_ptr<RE2> re2;
  std::shared_ptr<const CompiledGrammar> anchored;
  std::shared_ptr<const CompiledGrammar> searched;
  std::vector<char32_t> alphabet;  // code points the pattern mentions literally
};

std::shared_ptr<const CompiledGrammar> CompileRegex(const std::string& p, bool search,
                                                    std::string* error) {
  RegexOptions opts;
  opts.search_semantics = search;
  auto g = RegexToGrammar(p, opts);
  if (!g.ok()) {
    *error = g.status().ToString();
    return nullptr;
  }
  auto c = CompileGrammarIr(std::move(g).value(), GrammarCompileOptions());
  if (!c.ok()) {
    *error = c.status().ToString();
    return nullptr;
  }
  return c->pda;
}

std::vector<char32_t> Decode(std::string_view s) {
  std::vector<char32_t> out;
  const auto* b = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    const int n = DecodeUtf8(b + i, s.size() - i, &cp);
    if (n <= 0) break;
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

std::string Encode(const std::vector<char32_t>& cps) {
  std::string s;
  for (char32_t cp : cps) AppendUtf8(&s, cp);
  return s;
}

// Loaded once for all tests; failures to load are reported by CorpusLoadsAndBothEnginesAccept.
const std::vector<Entry>& Corpus(std::vector<std::string>* problems = nullptr) {
  static std::vector<std::string> errors;
  static const std::vector<Entry>* corpus = [] {
    auto* out = new std::vector<Entry>();
    std::ifstream in(std::string(SIEVE_TEST_DATA_DIR) + "/regex/patterns.txt", std::ios::binary);
    if (!in.good()) errors.push_back("cannot read tests/data/regex/patterns.txt");
    std::string line;
    int number = 0;
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(int64_t{256} << 20);
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.rfind("## ", 0) == 0) continue;
      Entry e;
      e.line = number;
      e.ecma = line;
      std::string re2_text, why, error;
      const std::string where = "line " + std::to_string(number) + " " + line + ": ";
      if (!TranslateToRe2(line, &re2_text, &why)) {
        errors.push_back(where + "no RE2 translation: " + why);
        continue;
      }
      e.re2 = std::make_unique<RE2>(re2_text, o);
      if (!e.re2->ok()) {
        errors.push_back(where + "RE2 rejects " + re2_text + ": " + e.re2->error());
        continue;
      }
      e.anchored = CompileRegex(line, false, &error);
      if (e.anchored) e.searched = CompileRegex(line, true, &error);
      if (!e.anchored || !e.searched) {
        errors.push_back(where + "sieve: " + error);
        continue;
      }
      for (char32_t cp : Decode(line)) {
        if (cp >= 0x20 && cp != '\\') e.alphabet.push_back(cp);
      }
      out->push_back(std::move(e));
    }
    return out;
  }();
  if (problems != nullptr) *problems = errors;
  return *corpus;
}

// ---- generators -------------------------------------------------------------------------------

// Code points where ECMA, RE2 and our tables could disagree: line terminators, the odd spaces,
// letters of several categories, digits that are not \d, astral and unassigned code points.
constexpr char32_t kPool[] = {
    '\t',   '\n',   '\r',   0x0B,    0x0C,    ' ',     0x00,    0x7F,    0x85,   0xA0,   0xAD,
    0xC0,   0xDF,   0xE9,   0x01C5,  0x02B0,  0x0300,  0x0378,  0x0394,  0x03B4, 0x0410, 0x0663,
    0x1680, 0x2000, 0x200B, 0x2028,  0x2029,  0x202F,  0x20AC,  0x2212,  0x3000, 0x4E2D, 0x65E5,
    0xE000, 0xFEFF, 0xFF10, 0x1F600, 0x1F610, 0x1F650, 0x1F320, 0x10FFFF};

char32_t RandomCodePoint(const Entry& e, std::mt19937* rng) {
  switch ((*rng)() % 4) {
    case 0:
      return static_cast<char32_t>(0x20 + (*rng)() % 95);  // printable ASCII
    case 1:
      return kPool[(*rng)() % std::size(kPool)];
    default:
      if (!e.alphabet.empty()) return e.alphabet[(*rng)() % e.alphabet.size()];
      return static_cast<char32_t>('0' + (*rng)() % 10);
  }
}

std::string RandomText(const Entry& e, std::mt19937* rng, size_t max_len) {
  std::vector<char32_t> cps((*rng)() % (max_len + 1));
  for (char32_t& cp : cps) cp = RandomCodePoint(e, rng);
  return Encode(cps);
}

// The shortest byte string that lets `m` end (breadth first over matcher states, deduplicated by
// their canonical DebugString, at most `budget` states); false if none was found.
bool ShortestCompletion(const GrammarMatcher& m, size_t budget, std::string* out) {
  struct Node {
    GrammarMatcher m;
    std::string suffix;
  };
  std::vector<Node> queue;
  std::set<std::string> seen = {m.DebugString()};
  queue.push_back({m.Fork(), ""});
  for (size_t head = 0; head < queue.size() && queue.size() < budget; ++head) {
    if (queue[head].m.CanTerminate()) {
      *out = queue[head].suffix;
      return true;
    }
    const std::bitset<256> next = queue[head].m.NextBytes();
    for (int b = 0; b < 256; ++b) {
      if (!next.test(b)) continue;
      GrammarMatcher f = queue[head].m.Fork();
      if (!f.AcceptByte(static_cast<uint8_t>(b)) || !seen.insert(f.DebugString()).second) continue;
      queue.push_back({std::move(f), queue[head].suffix + static_cast<char>(b)});
    }
  }
  return false;
}

// Random allowed bytes (ASCII half the time when allowed) until the automaton can end at or past
// a random target length; past the target plus some slack, the shortest completion is appended
// (a random walk alone rarely finds the `.git` that must end ^git@[\w.-]+:[\w./-]+\.git$).
bool RandomWalk(const std::shared_ptr<const CompiledGrammar>& c, std::mt19937* rng, size_t max_len,
                std::string* out) {
  GrammarMatcher m(c);
  out->clear();
  const size_t target = (*rng)() % (max_len + 1);
  for (;;) {
    const std::bitset<256> next = m.NextBytes();
    if (m.CanTerminate() && (next.none() || out->size() >= target)) return true;
    if (next.none()) return false;
    if (out->size() >= target + 16) {
      std::string tail;
      if (!ShortestCompletion(m, 4000, &tail)) return false;
      *out += tail;
      return true;
    }
    std::vector<int> ascii, all;
    for (int b = 0; b < 256; ++b) {
      if (!next.test(b)) continue;
      all.push_back(b);
      if (b < 0x80) ascii.push_back(b);
    }
    const std::vector<int>& pool = (!ascii.empty() && (*rng)() % 2 == 0) ? ascii : all;
    const int b = pool[(*rng)() % pool.size()];
    if (!m.AcceptByte(static_cast<uint8_t>(b))) return false;
    out->push_back(static_cast<char>(b));
  }
}

std::string Mutate(const Entry& e, const std::string& s, std::mt19937* rng) {
  std::vector<char32_t> cps = Decode(s);
  const size_t pos = cps.empty() ? 0 : (*rng)() % (cps.size() + 1);
  switch ((*rng)() % 4) {
    case 0:
      if (pos < cps.size()) {
        cps[pos] = RandomCodePoint(e, rng);
        break;
      }
      [[fallthrough]];
    case 1:
      cps.insert(cps.begin() + static_cast<ptrdiff_t>(pos), RandomCodePoint(e, rng));
      break;
    case 2:
      if (pos < cps.size()) cps.erase(cps.begin() + static_cast<ptrdiff_t>(pos));
      break;
    default:  // duplicate a slice: stresses repetition bounds
      if (pos < cps.size()) {
        const size_t len = 1 + (*rng)() % (cps.size() - pos);
        std::vector<char32_t> slice(cps.begin() + static_cast<ptrdiff_t>(pos),
                                    cps.begin() + static_cast<ptrdiff_t>(pos + len));
        cps.insert(cps.begin() + static_cast<ptrdiff_t>(pos), slice.begin(), slice.end());
      }
      break;
  }
  return Encode(cps);
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& c, std::string_view s) {
  GrammarMatcher m(c);
  return m.AcceptString(s) && m.CanTerminate();
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch >= 0x20 && ch < 0x7F && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", ch);
      out += buf;
    }
  }
  return out;
}

// ---- tests ------------------------------------------------------------------------------------

TEST(RegexOracle, CorpusLoadsAndBothEnginesAcceptEveryPattern) {
  std::vector<std::string> problems;
  const std::vector<Entry>& corpus = Corpus(&problems);
  for (const std::string& p : problems) ADD_FAILURE() << p;
  EXPECT_GE(corpus.size(), 200u);
  std::printf("[ regex oracle ] %zu patterns loaded\n", corpus.size());
}

TEST(RegexOracle, RandomWalksThroughTheAutomatonAreFullMatchesForRe2) {
  int walks = 0;
  for (const Entry& e : Corpus()) {
    std::mt19937 rng(static_cast<uint32_t>(e.line) * 7919u);
    int complete = 0;
    for (int i = 0; i < 40; ++i) {
      std::string s;
      if (!RandomWalk(e.anchored, &rng, 40, &s)) continue;
      ++complete;
      ASSERT_TRUE(RE2::FullMatch(s, *e.re2))
          << "line " << e.line << " " << e.ecma << ": generated '" << Printable(s)
          << "' is not a full match for RE2";
    }
    walks += complete;
    EXPECT_GE(complete, 30) << "line " << e.line << " " << e.ecma << ": too few complete walks";
  }
  std::printf("[ regex oracle ] %d generated strings, all full matches for RE2\n", walks);
  EXPECT_GT(walks, 8000);
}

TEST(RegexOracle, RandomAndMutatedStringsGetRe2sVerdictAnchoredAndSearched) {
  long checked = 0, full_yes = 0, search_yes = 0, search_no = 0;
  for (const Entry& e : Corpus()) {
    std::mt19937 rng(static_cast<uint32_t>(e.line) * 104729u + 1);
    std::vector<std::string> candidates = {"", " ", "a", "0", "\n"};
    for (int i = 0; i < 25; ++i) candidates.push_back(RandomText(e, &rng, 12));
    for (int i = 0; i < 30; ++i) {
      std::string s;
      if (!RandomWalk(e.anchored, &rng, 30, &s)) continue;
      candidates.push_back(s);
      candidates.push_back(Mutate(e, s, &rng));
      candidates.push_back(Mutate(e, Mutate(e, s, &rng), &rng));
      candidates.push_back(RandomText(e, &rng, 4) + s + RandomText(e, &rng, 4));
    }
    for (const std::string& s : candidates) {
      const bool want_full = RE2::FullMatch(s, *e.re2);
      const bool want_search = RE2::PartialMatch(s, *e.re2);
      ASSERT_EQ(Accepts(e.anchored, s), want_full)
          << "line " << e.line << " " << e.ecma << " anchored on '" << Printable(s) << "'";
      ASSERT_EQ(Accepts(e.searched, s), want_search)
          << "line " << e.line << " " << e.ecma << " searched on '" << Printable(s) << "'";
      ++checked;
      full_yes += want_full;
      search_yes += want_search;
      search_no += !want_search;
    }
  }
  std::printf(
      "[ regex oracle ] %ld candidates x 2 modes agree with RE2 (%ld full matches, %ld searched "
      "matches, %ld searched rejections)\n",
      checked, full_yes, search_yes, search_no);
  // Floors: the comparison must exercise both verdicts in both modes.
  EXPECT_GT(checked, 30000);
  EXPECT_GT(full_yes, 10000);
  EXPECT_GT(search_no, 5000);
}

TEST(RegexOracle, TranslationForRe2KeepsEcmaMeaningsOfDotAndSpace) {
  // The translator is part of the oracle: pin what it produces for the constructs that differ.
  std::string out, why;
  ASSERT_TRUE(TranslateToRe2("a.\\s[\\s\\b]\\u00e9(?<n>x)[^]", &out, &why)) << why;
  RE2 re(out);
  ASSERT_TRUE(re.ok()) << out;
  EXPECT_TRUE(RE2::FullMatch("a\x01\xEF\xBB\xBF\b\xC3\xA9x\n", re)) << out;
  EXPECT_FALSE(RE2::FullMatch("a\n \b\xC3\xA9xx", re)) << out;           // `.` excludes \n
  EXPECT_FALSE(RE2::FullMatch("a\x01\xC2\x85\b\xC3\xA9xx", re)) << out;  // U+0085 is not \s
}

}  // namespace
}  // namespace sieve
