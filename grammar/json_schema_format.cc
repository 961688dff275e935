// `format`: the formats sieve enforces, as character-level languages over the decoded string.
//
// Each format is written below as a regular expression in a small internal dialect (literals,
// escapes, [classes] with ranges and \x{H..}, groups, |, ? * + {n} {n,m} {n,}; always anchored),
// parsed by FormatParser into Grammar expressions of the converter's language grammar. The
// dialect is internal on purpose: these definitions are data we own and test, and they must not
// depend on the user-facing regex front end.
//
// Definitions follow the RFCs the JSON Schema specification cites: RFC 3339 date, time (a leap
// second only where it is 23:59:60 UTC: with Z, +-00:00 or a whole-hour offset; fractional-hour
// offsets are not accepted for second 60, a narrowing by construction, reported at every use
// like the others: FormatNarrowing) and date-time
// (T or t, Z or z); ISO 8601 durations as in RFC 3339 appendix A; RFC 5321 mailboxes (dot-atom or
// quoted local part, host name or address literal); RFC 1123 host names (labels of at most 63
// characters; the total of 253 is guaranteed by accepting either at most 3 labels, at most 8
// labels of at most 30 characters, or single-character labels, a narrowing); IPv4 dotted quads
// without leading zeros; RFC 4291 IPv6 text forms; UUIDs; RFC 3986 URI and URI-reference; RFC 3987
// IRI and IRI-reference (the URI grammar with ucschar); RFC 6901 JSON pointers and relative JSON
// pointers; RFC 6570 URI templates; base64 (`byte`). `regex` (ECMA-262 pattern syntax) is not
// regular: json_schema_regex_format.cc bounds it (a reported narrowing) and it is the intersection
// of a structure in this dialect and a hand-built class checker, through Lang::parts.
// `idn-hostname` and `idn-email` are narrowed to `hostname` and `email` (IDNA 2008's rules on
// internationalized labels need Unicode tables; an ASCII name is valid in both); OpenAPI's numeric
// formats (int32, ...) and `password`/`binary` are annotations.
#include <string>
#include <utility>

#include "grammar/json_schema_internal.h"
#include "grammar/json_schema_regex_format.h"

namespace sieve::jsonschema {

namespace {

class FormatParser {
 public:
  FormatParser(Grammar* g, std::string_view re) : g_(g), re_(re) {}

  Result<ExprId> Parse() {
    auto e = Alternation();
    if (!e.ok()) return e.status();
    if (pos_ != re_.size()) return Fail("unexpected character");
    return e;
  }

 private:
  Status Fail(const std::string& what) {
    return InternalError("format definition: " + what + " at " + std::to_string(pos_) + " in " +
                         std::string(re_));
  }
  bool Eat(char c) {
    if (pos_ < re_.size() && re_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Result<ExprId> Alternation() {
    std::vector<ExprId> alts;
    do {
      auto s = Sequence();
      if (!s.ok()) return s.status();
      alts.push_back(*s);
    } while (Eat('|'));
    return alts.size() == 1 ? alts[0] : g_->AddChoice(alts);
  }
  Result<ExprId> Sequence() {
    std::vector<ExprId> items;
    while (pos_ < re_.size() && re_[pos_] != '|' && re_[pos_] != ')') {
      auto a = Atom();
      if (!a.ok()) return a.status();
      auto q = Quantified(*a);
      if (!q.ok()) return q.status();
      items.push_back(*q);
    }
    if (items.empty()) return g_->AddEmpty();
    return items.size() == 1 ? items[0] : g_->AddSequence(items);
  }
  Result<int32_t> Int() {
    int32_t v = 0;
    bool any = false;
    while (pos_ < re_.size() && re_[pos_] >= '0' && re_[pos_] <= '9') {
      v = v * 10 + (re_[pos_++] - '0');
      any = true;
    }
    if (!any) return Fail("expected a number");
    return v;
  }
  Result<ExprId> Quantified(ExprId a) {
    for (;;) {
      if (Eat('?')) {
        a = g_->AddRepeat(a, 0, 1);
      } else if (Eat('*')) {
        a = g_->AddRepeat(a, 0, kUnbounded);
      } else if (Eat('+')) {
        a = g_->AddRepeat(a, 1, kUnbounded);
      } else if (Eat('{')) {
        auto lo = Int();
        if (!lo.ok()) return lo.status();
        int32_t hi = *lo;
        if (Eat(',')) {
          if (pos_ < re_.size() && re_[pos_] == '}') {
            hi = kUnbounded;
          } else {
            auto h = Int();
            if (!h.ok()) return h.status();
            hi = *h;
          }
        }
        if (!Eat('}')) return Fail("expected }");
        a = g_->AddRepeat(a, *lo, hi);
      } else {
        return a;
      }
    }
  }
  Result<char32_t> Char() {
    if (pos_ >= re_.size()) return Fail("unexpected end");
    char c = re_[pos_++];
    if (c != '\\') return static_cast<char32_t>(static_cast<unsigned char>(c));
    if (pos_ >= re_.size()) return Fail("dangling escape");
    c = re_[pos_++];
    if (c == 'x' && Eat('{')) {
      char32_t v = 0;
      while (pos_ < re_.size() && re_[pos_] != '}') {
        char h = re_[pos_++];
        v = v * 16 + static_cast<char32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
      }
      if (!Eat('}')) return Fail("expected }");
      return v;
    }
    return static_cast<char32_t>(static_cast<unsigned char>(c));
  }
  Result<ExprId> Atom() {
    if (Eat('(')) {
      auto e = Alternation();
      if (!e.ok()) return e.status();
      if (!Eat(')')) return Fail("expected )");
      return e;
    }
    if (Eat('[')) {
      bool neg = Eat('^');
      std::vector<CodepointRange> ranges;
      while (pos_ < re_.size() && re_[pos_] != ']') {
        auto lo = Char();
        if (!lo.ok()) return lo.status();
        char32_t hi = *lo;
        if (pos_ + 1 < re_.size() && re_[pos_] == '-' && re_[pos_ + 1] != ']') {
          ++pos_;
          auto h = Char();
          if (!h.ok()) return h.status();
          hi = *h;
        }
        ranges.push_back({*lo, hi});
      }
      if (!Eat(']')) return Fail("expected ]");
      return g_->AddCharClass(std::move(ranges), neg);
    }
    if (pos_ < re_.size() && re_[pos_] == '.') {
      ++pos_;
      return g_->AddCharClass({}, true);
    }
    auto c = Char();
    if (!c.ok()) return c.status();
    return g_->AddCharClass({{*c, *c}}, false);
  }

  Grammar* g_;
  std::string_view re_;
  size_t pos_ = 0;
};

// ---- building blocks ----
const std::string kHex = "[0-9a-fA-F]";
const std::string kDecOctet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const std::string kIpv4 = kDecOctet + "\\." + kDecOctet + "\\." + kDecOctet + "\\." + kDecOctet;

std::string Ipv6() {
  const std::string h16 = kHex + "{1,4}";
  const std::string ls32 = "(" + h16 + ":" + h16 + "|" + kIpv4 + ")";
  auto rep = [&](int lo, int hi) {
    return "(" + h16 + ":){" + std::to_string(lo) + "," + std::to_string(hi) + "}";
  };
  std::string alts[] = {
      rep(6, 6) + ls32,
      "::" + rep(5, 5) + ls32,
      "(" + h16 + ")?::" + rep(4, 4) + ls32,
      "(" + rep(0, 1) + h16 + ")?::" + rep(3, 3) + ls32,
      "(" + rep(0, 2) + h16 + ")?::" + rep(2, 2) + ls32,
      "(" + rep(0, 3) + h16 + ")?::" + h16 + ":" + ls32,
      "(" + rep(0, 4) + h16 + ")?::" + ls32,
      "(" + rep(0, 5) + h16 + ")?::" + h16,
      "(" + rep(0, 6) + h16 + ")?::",
  };
  std::string out = "(";
  for (size_t i = 0; i < std::size(alts); ++i) out += (i ? "|" : "") + alts[i];
  return out + ")";
}

std::string Date() {
  const std::string y = "[0-9]{4}";
  const std::string leap = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)";
  return "(" + y + "-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|" + y +
         "-(0[469]|11)-(0[1-9]|[12][0-9]|30)|" + y + "-02-(0[1-9]|1[0-9]|2[0-8])|" + leap +
         "-02-29)";
}

std::string Time() {
  auto two = [](int v) { return std::string(1, '0' + v / 10) + std::string(1, '0' + v % 10); };
  const std::string hh = "([01][0-9]|2[0-3])", mm = "[0-5][0-9]", frac = "(\\.[0-9]+)?";
  const std::string offset = "([Zz]|[+-]" + hh + ":" + mm + ")";
  std::string out = "(" + hh + ":" + mm + ":" + mm + frac + offset;
  // Second 60 only at 23:59 UTC: local hour (23 + h) for +hh:00, (23 - h) for -hh:00.
  out += "|23:59:60" + frac + "([Zz]|[+-]00:00)";
  for (int h = 1; h < 24; ++h) {
    out.append("|").append(two((23 + h) % 24)).append(":59:60").append(frac).append("\\+");
    out.append(two(h)).append(":00|").append(two((23 - h + 24) % 24)).append(":59:60");
    out.append(frac).append("-").append(two(h)).append(":00");
  }
  return out + ")";
}

// Supersets of the narrowed formats (Lang::wide): a leap second at any time and offset; host
// names as any dot-separated letters, digits and hyphens (an optional final dot).
std::string TimeWide() {
  const std::string hh = "([01][0-9]|2[0-3])", mm = "[0-5][0-9]", frac = "(\\.[0-9]+)?";
  return hh + ":" + mm + ":(" + mm + "|60)" + frac + "([Zz]|[+-]" + hh + ":" + mm + ")";
}
const std::string kHostnameWide = "[A-Za-z0-9\\-]+(\\.[A-Za-z0-9\\-]+)*\\.?";

std::string Duration() {
  const std::string n = "[0-9]+";
  const std::string sec = n + "S", min = n + "M(" + sec + ")?", hour = n + "H(" + min + ")?";
  const std::string time = "T(" + hour + "|" + min + "|" + sec + ")";
  const std::string day = n + "D", month = n + "M(" + day + ")?", year = n + "Y(" + month + ")?";
  const std::string date = "(" + day + "|" + month + "|" + year + ")(" + time + ")?";
  return "P(" + date + "|" + time + "|" + n + "W)";
}

// A host name label of 1..max_len letters, digits and hyphens, not starting or ending with a
// hyphen, and without hyphens in both the 3rd and 4th positions (RFC 5891 reserves "??--" for
// A-labels, whose Punycode validity is not regular: IDN labels are rejected, a narrowing).
std::string Label(int max_len) {
  const std::string a = "[A-Za-z0-9]", h = "[A-Za-z0-9\\-]";
  return a + "(" + a + "|" + h + "(" + a + "(" + h + "{0," + std::to_string(max_len - 4) + "}" + a +
         ")?|-" + a + "(" + h + "{0," + std::to_string(max_len - 5) + "}" + a + ")?))?";
}

std::string Hostname() {
  // Labels of <= 63 characters; the 253-character total holds in each regime.
  return "(" + Label(63) + "(\\." + Label(63) + "){0,2}|" + Label(30) + "(\\." + Label(30) +
         "){3,7}|[A-Za-z0-9](\\.[A-Za-z0-9]){8,126})";
}

std::string Email() {
  const std::string atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
  // atext+ ("." atext+)*, written as one loop (a dot is always followed by atext) so that a
  // length bound can cap it with one counter.
  const std::string dot_atom = atext + "(" + atext + "|\\." + atext + ")*";
  const std::string quoted =
      "\"([\\x{20}\\x{21}\\x{23}-\\x{5b}\\x{5d}-\\x{7e}]|\\\\[\\x{20}-\\x{7e}])*\"";
  const std::string domain = Label(63) + "(\\." + Label(63) + ")*";
  return "(" + dot_atom + "|" + quoted + ")@(" + domain + "|\\[" + kIpv4 + "\\]|\\[IPv6:" + Ipv6() +
         "\\])";
}

// RFC 3987 ucschar and iprivate, as class ranges.
const std::string kUcschar =
    "\\x{A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}\\x{10000}-\\x{1FFFD}"
    "\\x{20000}-\\x{2FFFD}\\x{30000}-\\x{3FFFD}\\x{40000}-\\x{4FFFD}\\x{50000}-\\x{5FFFD}"
    "\\x{60000}-\\x{6FFFD}\\x{70000}-\\x{7FFFD}\\x{80000}-\\x{8FFFD}\\x{90000}-\\x{9FFFD}"
    "\\x{A0000}-\\x{AFFFD}\\x{B0000}-\\x{BFFFD}\\x{C0000}-\\x{CFFFD}\\x{D0000}-\\x{DFFFD}"
    "\\x{E1000}-\\x{EFFFD}";
const std::string kIprivate = "\\x{E000}-\\x{F8FF}\\x{F0000}-\\x{FFFFD}\\x{100000}-\\x{10FFFD}";

// RFC 3986 / 3987. `iri` adds ucschar to unreserved (and iprivate to queries).
std::string UriParts(bool iri, bool reference) {
  const std::string ucs = iri ? kUcschar : "";
  const std::string priv = iri ? kIprivate : "";
  const std::string pct = "%" + kHex + kHex;
  const std::string unres = "A-Za-z0-9._~\\-" + ucs;
  const std::string sub = "!$&'()*+,;=";
  const std::string pchar = "([" + unres + sub + ":@]|" + pct + ")";
  // Paths as single loops over "pchar or /" (equivalent to the RFC's segment lists, and a length
  // bound caps a single loop with one counter).
  const std::string pchar_or_slash = "([" + unres + sub + ":@/]|" + pct + ")";
  const std::string segment_nc = "([" + unres + sub + "@]|" + pct + ")+";
  const std::string query = "([" + unres + sub + ":@/?" + priv + "]|" + pct + ")*";
  const std::string fragment = "([" + unres + sub + ":@/?]|" + pct + ")*";
  const std::string userinfo = "([" + unres + sub + ":]|" + pct + ")*";
  const std::string ipvfuture = "[vV]" + kHex + "+\\.[" + unres + sub + ":]+";
  const std::string host = "(\\[(" + Ipv6() + "|" + ipvfuture + ")\\]|" + kIpv4 + "|([" + unres +
                           sub + "]|" + pct + ")*)";
  const std::string authority = "(" + userinfo + "@)?" + host + "(:[0-9]*)?";
  const std::string abempty = "(/" + pchar_or_slash + "*)?";
  const std::string absolute = "/(" + pchar + pchar_or_slash + "*)?";
  const std::string rootless = pchar + pchar_or_slash + "*";
  const std::string noscheme = segment_nc + "(/" + pchar_or_slash + "*)?";
  const std::string scheme = "[A-Za-z][A-Za-z0-9+.\\-]*";
  const std::string tail = "(\\?" + query + ")?(#" + fragment + ")?";
  const std::string uri =
      scheme + ":(//" + authority + abempty + "|" + absolute + "|" + rootless + ")?" + tail;
  if (!reference) return uri;
  const std::string relative =
      "(//" + authority + abempty + "|" + absolute + "|" + noscheme + ")?" + tail;
  return "(" + uri + "|" + relative + ")";
}

std::string UriTemplate() {
  const std::string pct = "%" + kHex + kHex;
  // RFC 6570 literals: %x21 / %x23-24 / %x26 / %x28-3B / %x3D / %x3F-5B / %x5D / %x5F /
  // %x61-7A / %x7E / ucschar / iprivate (RFC 3987) / pct-encoded, and also ' (%x27), which
  // the RFC's ABNF leaves out but the JSON-Schema-Test-Suite holds valid (XGrammar's tests do not:
  // the suite of the standard wins).
  const std::string literal =
      "([\\x{21}\\x{23}\\x{24}\\x{26}-\\x{3B}\\x{3D}\\x{3F}-\\x{5B}\\x{5D}\\x{5F}"
      "\\x{61}-\\x{7A}\\x{7E}" + kUcschar + kIprivate + "]|" + pct + ")";
  const std::string varchar = "([A-Za-z0-9_]|" + pct + ")";
  const std::string varname = varchar + "(\\.?" + varchar + ")*";
  const std::string varspec = varname + "(:[1-9][0-9]{0,3}|\\*)?";
  const std::string expression = "\\{[+#./;?&=,!@|]?" + varspec + "(," + varspec + ")*\\}";
  return "(" + literal + "|" + expression + ")*";
}

// A format's language record, its definition (expr, parts or dfa) still to be filled in.
Lang FormatLang(const std::string& name, int32_t src) {
  Lang lang;
  lang.is_format = true;
  lang.text = name;
  lang.src = src;
  return lang;
}

// What the formats narrowed by construction reject of their RFC languages (the file comment), or
// "" for an exact format.
std::string FormatNarrowing(const std::string& name) {
  if (name == "time" || name == "date-time") {
    return "format '" + name + "' accepts second 60 (a leap second) only as 23:59:60 UTC, with Z "
           "or a whole-hour offset: a leap second at a fractional-hour offset (01:29:60+01:30) is "
           "rejected";
  }
  if (name == "idn-hostname" || name == "idn-email") {
    // IDNA 2008's rules on U-labels need Unicode tables; an ASCII name or address is one.
    const std::string ascii = name == "idn-hostname" ? "hostname" : "email";
    return "format '" + name + "' accepts only what format '" + ascii + "' accepts (ASCII " +
           (name == "idn-hostname" ? "labels" : "addresses") +
           "): internationalized labels (U-labels such as b\u00fccher) are rejected, and " +
           FormatNarrowing(ascii);
  }
  if (name == "hostname" || name == "email") {
    return "format '" + name + "' rejects " +
           (name == "email" ? std::string("domain ") : std::string()) +
           "labels with '--' in the 3rd and 4th positions (IDNA A-labels such as xn--bcher-kva)" +
           (name == "email" ? std::string()
                            : std::string(", and names of more than 3 labels unless they have at "
                                          "most 8 labels of at most 30 characters or only "
                                          "one-character labels (this bounds the 253-character "
                                          "total)"));
  }
  return "";
}

}  // namespace

Result<LangId> Converter::AddFormat(const std::string& name, int32_t src) {
  // Every location that uses a narrowed format is reported, not only the first.
  if (const std::string why = FormatNarrowing(name); !why.empty()) {
    Note(JsonSchemaNote::Kind::kNarrowed, src, "format", why);
  }
  auto key = std::make_pair(true, name);
  auto it = lang_ids_.find(key);
  if (it != lang_ids_.end()) {
    if (name == "regex") {
      Note(JsonSchemaNote::Kind::kNarrowed, src, "format", RegexFormatNarrowing());
    }
    return it->second;
  }
  std::string re;
  if (name == "date") {
    re = Date();
  } else if (name == "time") {
    re = Time();
  } else if (name == "date-time") {
    re = Date() + "[Tt]" + Time();
  } else if (name == "duration") {
    re = Duration();
  } else if (name == "email") {
    re = Email();
  } else if (name == "hostname") {
    re = Hostname();
  } else if (name == "ipv4") {
    re = kIpv4;
  } else if (name == "ipv6") {
    re = Ipv6();
  } else if (name == "uuid") {
    re = kHex + "{8}-" + kHex + "{4}-" + kHex + "{4}-" + kHex + "{4}-" + kHex + "{12}";
  } else if (name == "uri" || name == "iri") {
    re = UriParts(name == "iri", false);
  } else if (name == "uri-reference" || name == "iri-reference") {
    re = UriParts(name == "iri-reference", true);
  } else if (name == "json-pointer") {
    re = "(/([^~]|~[01])*)?";
  } else if (name == "relative-json-pointer") {
    re = "(0|[1-9][0-9]*)(#|(/([^~]|~[01])*)?)";
  } else if (name == "uri-template") {
    re = UriTemplate();
  } else if (name == "byte") {
    re = "([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?";
  } else if (name == "int32" || name == "int64" || name == "float" || name == "double" ||
             name == "password" || name == "binary") {
    Note(JsonSchemaNote::Kind::kInfo, src, "format",
         "format '" + name + "' is an OpenAPI annotation (not enforced on strings)");
    re = ".*";
  } else if (name == "regex") {
    // The intersection of the structure and the class checker (json_schema_regex_format.h), as
    // for a pattern with anchored lookarounds; built now so that a failure is reported here.
    SIEVE_ASSIGN_OR_RETURN(const LangId structure,
                           AddFormatLang(name, src, RegexFormatStructure()));
    Lang classes = FormatLang(name, src);
    classes.dfa = Minimize(RegexFormatClassCheck());
    langs_.push_back(std::move(classes));
    Lang lang = FormatLang(name, src);
    lang.parts = {{structure, false}, {static_cast<LangId>(langs_.size() - 1), false}};
    lang.narrowed = true;
    // Its superset: every pattern but those that begin with a quantifier or end in a lone
    // backslash (both SyntaxErrors).
    SIEVE_ASSIGN_OR_RETURN(lang.wide,
                           AddFormatLang(name, src, R"((([^*+?\\]|\\.)([^\\]|\\.)*)?)"));
    langs_.push_back(std::move(lang));
    const LangId id = static_cast<LangId>(langs_.size() - 1);
    auto d = LangDfa(id);
    if (!d.ok()) return Unsupported("format 'regex': " + d.status().message());
    lang_ids_[key] = id;
    Note(JsonSchemaNote::Kind::kNarrowed, src, "format", RegexFormatNarrowing());
    return id;
  } else if (name == "idn-hostname") {
    re = Hostname();  // narrowed to ASCII names (FormatNarrowing)
  } else if (name == "idn-email") {
    re = Email();
  } else {
    // JSON Schema: an unknown format is an annotation, never a validation failure (validators
    // accept every value; JSON-Schema-Test-Suite optional/format/unknown.json). Said in a note.
    Note(JsonSchemaNote::Kind::kInfo, src, "format",
         "unknown format '" + name + "' read as an annotation (not asserted, as JSON Schema "
         "specifies for unknown formats)");
    re = ".*";
  }
  SIEVE_ASSIGN_OR_RETURN(const LangId id, AddFormatLang(name, src, re));
  // Narrowed by construction (see the file comment): IDN labels and the 253-character total of a
  // host name, leap seconds with fractional-hour offsets.
  if (name == "hostname" || name == "time" || name == "date-time" || name == "idn-hostname" ||
      name == "idn-email") {
    // (The IDN formats' superset: every string; a negation of one then accepts nothing.)
    const std::string wide = name == "hostname" ? kHostnameWide
                             : name == "time"   ? TimeWide()
                             : name == "date-time" ? Date() + "[Tt]" + TimeWide()
                                                   : std::string(".*");
    SIEVE_ASSIGN_OR_RETURN(const LangId w, AddFormatLang(name, src, wide));
    langs_[id].narrowed = true;
    langs_[id].wide = w;
  }
  lang_ids_[key] = id;
  return id;
}

Result<LangId> Converter::AddFormatLang(const std::string& name, int32_t src,
                                        const std::string& re) {
  FormatParser p(&lang_grammar_, re);
  auto e = p.Parse();
  if (!e.ok()) return e.status();
  Lang lang = FormatLang(name, src);
  lang.expr = *e;
  langs_.push_back(std::move(lang));
  return static_cast<LangId>(langs_.size() - 1);
}

}  // namespace sieve::jsonschema
