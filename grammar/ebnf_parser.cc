// EBNF / GBNF parser (see ebnf_parser.h for the dialect).
//
// Two passes over a streaming lexer, no token array (a 16 MiB text of '(' must not become hundreds
// of MiB of tokens):
//  1. scan for definitions (a name token followed by '::='), assign rule ids in that order and
//     report duplicates; the scan stops quietly at the first lexical error, which pass 2 reports
//     in order;
//  2. parse each body with an explicit stack of open groups. A frame holds the finished
//     alternatives and the sequence being built; each element carries its nesting depth (groups
//     and stacked quantifiers), which is checked against max_nesting_depth, so no later recursive
//     pass over the tree can be driven deeper than the limit allows. `&` and `~` become
//     references to new rules, whose languages are computed once every body is read
//     (ebnf_boolean.h).
//
// The lexer keeps one token of lookahead; a lexical error becomes an error token that is reported
// only when the parser reaches it, so errors come out in text order.
#include "grammar/ebnf_parser.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/ebnf_boolean.h"

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

enum class Tok {
  kName,
  kAssign,
  kString,
  kClass,
  kAny,
  kLParen,
  kLookahead,
  kRParen,
  kPipe,
  kAmp,
  kTilde,
  kStar,
  kPlus,
  kQuestion,
  kBounds,
  kTokenRef,
  kEnd,
  kError,
};

struct Token {
  Tok kind = Tok::kEnd;
  int32_t offset = 0;
  std::string_view name;               // kName
  std::string bytes;                   // kString (decoded UTF-8)
  std::vector<CodepointRange> ranges;  // kClass (as written, before normalisation)
  bool negated = false;                // kClass; kTokenRef: !<...>
  int64_t token_id = -1;               // kTokenRef <[id]> (else the text is in `bytes`)
  int32_t min = 0, max = 0;            // kBounds
  Status error;                        // kError
};

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string DescribeByte(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7F) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

std::string DescribeToken(const Token& t) {
  switch (t.kind) {
    case Tok::kName:
      return "rule name '" + std::string(t.name) + "'";
    case Tok::kAssign:
      return "'::='";
    case Tok::kString:
      return "string literal";
    case Tok::kClass:
      return "character class";
    case Tok::kAny:
      return "'.'";
    case Tok::kLParen:
      return "'('";
    case Tok::kLookahead:
      return "'(='";
    case Tok::kRParen:
      return "')'";
    case Tok::kPipe:
      return "'|'";
    case Tok::kAmp:
      return "'&'";
    case Tok::kTilde:
      return "'~'";
    case Tok::kStar:
      return "'*'";
    case Tok::kPlus:
      return "'+'";
    case Tok::kQuestion:
      return "'?'";
    case Tok::kBounds:
      return "'{'";
    case Tok::kTokenRef:
      return "token reference";
    case Tok::kEnd:
      return "end of text";
    case Tok::kError:
      return "error";
  }
  return "token";
}

// `#!unique_items NAME`: the rule NAME is a unique-items array, or an object whose keys are
// distinct; `#!unique_keys NAME`: an object whose keys are distinct and every key prefix live
// (Rule::unique_items: kUniqueCheck, kUniqueKeysLive).
constexpr std::string_view kUniqueDirective = "#!unique_items";
constexpr std::string_view kUniqueKeysDirective = "#!unique_keys";

class Lexer {
 public:
  Lexer(std::string_view text, const EbnfOptions& opts) : text_(text), opts_(opts) {}

  struct Directive {
    std::string_view name;  // empty when the directive names no rule
    int32_t offset;
    uint8_t kind;  // Rule::unique_items
  };
  // The `#!unique_items` directives skipped so far, in text order.
  const std::vector<Directive>& unique_directives() const { return directives_; }

  // Fills *t with the next token; lexical errors become a kError token (pos_ is then at the end).
  void Next(Token* t) {
    Status s = Lex(t);
    if (!s.ok()) {
      t->kind = Tok::kError;
      t->error = std::move(s);
      pos_ = text_.size();
    }
  }

  Status Error(StatusCode code, size_t offset, std::string message) const {
    int line = 0, column = 0;
    OffsetToLineColumn(text_, offset, &line, &column);
    Status s(code, std::move(message));
    s.WithOffset(static_cast<int64_t>(offset)).WithLineColumn(line, column);
    return s;
  }

 private:
  char Peek(size_t delta = 0) const {
    return pos_ + delta < text_.size() ? text_[pos_ + delta] : '\0';
  }
  bool AtEnd(size_t delta = 0) const { return pos_ + delta >= text_.size(); }

  void ReadDirective(std::string_view directive, uint8_t kind) {
    size_t p = pos_ + directive.size();
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
    const size_t start = p;
    while (p < text_.size() && (IsNameChar(text_[p]) || text_[p] == '.')) ++p;
    directives_.push_back({text_.substr(start, p - start), static_cast<int32_t>(pos_), kind});
  }

  void SkipSpaceAndComments() {
    while (!AtEnd()) {
      char c = Peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        if (text_.substr(pos_, kUniqueDirective.size()) == kUniqueDirective) {
          ReadDirective(kUniqueDirective, kUniqueCheck);
        } else if (text_.substr(pos_, kUniqueKeysDirective.size()) == kUniqueKeysDirective) {
          ReadDirective(kUniqueKeysDirective, kUniqueKeysLive);
        }
        while (!AtEnd() && Peek() != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  Status Lex(Token* t) {
    SkipSpaceAndComments();
    t->offset = static_cast<int32_t>(pos_);
    if (AtEnd()) {
      t->kind = Tok::kEnd;
      prev_ = Tok::kEnd;
      return Status::Ok();
    }
    const size_t start = pos_;
    const char c = Peek();
    Tok kind;
    if (IsNameChar(c)) {
      while (!AtEnd() && (IsNameChar(Peek()) || (Peek() == '.' && IsNameChar(Peek(1))))) ++pos_;
      t->name = text_.substr(start, pos_ - start);
      kind = Tok::kName;
      last_name_ = t->name;
    } else {
      switch (c) {
        case '"':
        case '\'':
          SIEVE_RETURN_IF_ERROR(LexString(t));
          kind = Tok::kString;
          break;
        case '[':
          SIEVE_RETURN_IF_ERROR(LexClass(t));
          kind = Tok::kClass;
          break;
        case '{':
          SIEVE_RETURN_IF_ERROR(LexBounds(t));
          kind = Tok::kBounds;
          break;
        case '.':
          ++pos_;
          kind = Tok::kAny;
          break;
        case '<':
        case '!':
          SIEVE_RETURN_IF_ERROR(LexTokenRef(t));
          kind = Tok::kTokenRef;
          break;
        case ')':
          ++pos_;
          kind = Tok::kRParen;
          break;
        case '|':
          ++pos_;
          kind = Tok::kPipe;
          break;
        case '&':
          ++pos_;
          kind = Tok::kAmp;
          break;
        case '~':
          ++pos_;
          kind = Tok::kTilde;
          break;
        case '*':
          ++pos_;
          kind = Tok::kStar;
          break;
        case '+':
          ++pos_;
          kind = Tok::kPlus;
          break;
        case '?':
          ++pos_;
          kind = Tok::kQuestion;
          break;
        case '(':
          if (Peek(1) == '=') {
            pos_ += 2;
            kind = Tok::kLookahead;
          } else {
            ++pos_;
            kind = Tok::kLParen;
          }
          break;
        case ':':
          if (Peek(1) == ':' && Peek(2) == '=') {
            pos_ += 3;
            kind = Tok::kAssign;
            break;
          }
          [[fallthrough]];
        case '=':
          if (prev_ == Tok::kName) {
            return Error(StatusCode::kParse, start,
                         "expected '::=' after rule name '" + std::string(last_name_) + "'");
          }
          return Error(StatusCode::kParse, start,
                       "unexpected " + DescribeByte(c) + " ('::=' must follow a rule name)");
        default:
          return Error(StatusCode::kParse, start, "unexpected " + DescribeByte(c));
      }
    }
    t->kind = kind;
    prev_ = kind;
    return Status::Ok();
  }

  // llama.cpp's token references: <[id]> (a token id), <text> (the token whose text is exactly
  // `<text>`, brackets included), either negated by a leading '!'.
  Status LexTokenRef(Token* t) {
    const size_t start = pos_;
    t->negated = Peek() == '!';
    if (t->negated) {
      if (Peek(1) != '<') {
        return Error(StatusCode::kParse, start,
                     "unexpected '!' (a negated token reference is !<[id]> or !<text>)");
      }
      ++pos_;
    }
    t->token_id = -1;
    t->bytes.clear();
    if (Peek(1) == '[') {
      size_t i = pos_ + 2;
      int64_t id = 0;
      while (i < text_.size() && text_[i] >= '0' && text_[i] <= '9' && id <= INT32_MAX) {
        id = id * 10 + (text_[i++] - '0');
      }
      if (i == pos_ + 2 || id > INT32_MAX || text_.compare(i, 2, "]>") != 0) {
        return Error(StatusCode::kParse, start,
                     "malformed token id: expected <[N]> with N a token id below 2^31");
      }
      t->token_id = id;
      pos_ = i + 2;
      return Status::Ok();
    }
    const size_t end = text_.find_first_of(">\n", pos_ + 1);
    if (end == std::string_view::npos || text_[end] != '>') {
      return Error(StatusCode::kParse, start,
                   "unterminated token reference: expected '>' on the same line (a token is "
                   "<[id]> or <text>)");
    }
    if (end == pos_ + 1) return Error(StatusCode::kParse, start, "empty token reference '<>'");
    t->bytes = std::string(text_.substr(pos_, end + 1 - pos_));
    if (!IsValidUtf8(t->bytes)) {
      return Error(StatusCode::kParse, start, "token reference is not valid UTF-8");
    }
    pos_ = end + 1;
    return Status::Ok();
  }

  // Reads `n` hex digits after an escape letter at pos_ (pos_ is on the letter).
  Status ReadHex(int n, size_t esc_start, char32_t* cp) {
    uint32_t v = 0;
    for (int i = 1; i <= n; ++i) {
      int h = HexValue(Peek(i));
      if (h < 0 || AtEnd(i)) {
        return Error(StatusCode::kParse, esc_start,
                     "expected " + std::to_string(n) + " hex digits after '\\" +
                         std::string(1, Peek()) + "'");
      }
      v = v * 16 + static_cast<uint32_t>(h);
    }
    pos_ += n + 1;
    if (v > 0x10FFFF) {
      return Error(StatusCode::kParse, esc_start, "code point beyond U+10FFFF in escape");
    }
    *cp = v;
    return Status::Ok();
  }

  // Reads one character of a literal or class: a UTF-8 encoded code point or an escape. In a class,
  // \d \w \s \D \W \S set *class_escape to the letter instead.
  Status ReadChar(bool in_class, char32_t* cp, char* class_escape) {
    *class_escape = 0;
    const size_t start = pos_;
    const char* what = in_class ? "character class" : "string literal";
    if (Peek() != '\\') {
      char32_t v;
      int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(text_.data() + pos_), text_.size() - pos_,
                         &v);
      if (n < 0) {
        return Error(StatusCode::kParse, start, std::string("invalid UTF-8 in ") + what);
      }
      pos_ += n;
      *cp = v;
      return Status::Ok();
    }
    ++pos_;  // backslash
    if (AtEnd()) return Error(StatusCode::kParse, start, "escape at the end of the text");
    const char e = Peek();
    switch (e) {
      case 'n':
        *cp = '\n';
        break;
      case 't':
        *cp = '\t';
        break;
      case 'r':
        *cp = '\r';
        break;
      case 'f':
        *cp = '\f';
        break;
      case 'v':
        *cp = '\v';
        break;
      case '0':
        *cp = 0;
        break;
      case 'x':
        return ReadHex(2, start, cp);
      case 'u':
        return ReadHex(4, start, cp);
      case 'U':
        return ReadHex(8, start, cp);
      case '\\':
      case '"':
      case '\'':
      case '[':
      case ']':
      case '-':
      case '^':
      case '$':
      case '.':
      case '*':
      case '+':
      case '?':
      case '(':
      case ')':
      case '{':
      case '}':
      case '|':
      case '/':
        *cp = static_cast<unsigned char>(e);
        break;
      case 'd':
      case 'w':
      case 's':
      case 'D':
      case 'W':
      case 'S':
        if (!in_class) {
          return Error(StatusCode::kParse, start,
                       std::string("'\\") + e + "' is only allowed inside a character class");
        }
        *class_escape = e;
        *cp = 0;
        break;
      default:
        return Error(StatusCode::kParse, start,
                     "unknown escape '\\" + std::string(1, e) + "' in " + what);
    }
    ++pos_;
    return Status::Ok();
  }

  Status LexString(Token* t) {
    const size_t start = pos_;
    const char quote = Peek();
    ++pos_;
    t->bytes.clear();
    while (true) {
      if (AtEnd() || Peek() == '\n' || Peek() == '\r') {
        return Error(StatusCode::kParse, start,
                     std::string("unterminated string literal: expected closing ") + quote +
                         " before the end of the line");
      }
      if (Peek() == quote) break;
      const size_t char_start = pos_;
      char32_t cp;
      char class_escape;
      SIEVE_RETURN_IF_ERROR(ReadChar(/*in_class=*/false, &cp, &class_escape));
      if (Utf8Length(cp) == 0) {
        return Error(StatusCode::kParse, char_start,
                     "surrogate code point in string literal (not encodable in UTF-8)");
      }
      AppendUtf8(&t->bytes, cp);
    }
    ++pos_;
    return Status::Ok();
  }

  static void AddClassEscape(char letter, std::vector<CodepointRange>* out) {
    std::vector<CodepointRange> set;
    switch (letter) {
      case 'd':
      case 'D':
        set = {{'0', '9'}};
        break;
      case 'w':
      case 'W':
        set = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
        break;
      default:
        set = {{'\t', '\r'}, {' ', ' '}};
        break;  // \s: \t \n \v \f \r and space
    }
    bool negate = letter >= 'A' && letter <= 'Z';
    std::vector<CodepointRange> norm = Grammar::NormalizeRanges(std::move(set), negate);
    out->insert(out->end(), norm.begin(), norm.end());
  }

  Status LexClass(Token* t) {
    const size_t start = pos_;
    ++pos_;
    t->ranges.clear();
    t->negated = false;
    if (Peek() == '^') {
      t->negated = true;
      ++pos_;
    }
    if (Peek() == ']') {
      return Error(StatusCode::kParse, start,
                   std::string("empty character class '") + (t->negated ? "[^]" : "[]") + "'");
    }
    while (true) {
      if (AtEnd() || Peek() == '\n' || Peek() == '\r') {
        return Error(StatusCode::kParse, start,
                     "unterminated character class: expected ']' before the end of the line");
      }
      if (Peek() == ']') break;
      const size_t item_start = pos_;
      char32_t lo;
      char lo_escape;
      SIEVE_RETURN_IF_ERROR(ReadChar(/*in_class=*/true, &lo, &lo_escape));
      if (Peek() == '-' && Peek(1) != ']' && !AtEnd(1)) {
        ++pos_;                                          // '-'
        if (Peek() == '\n' || Peek() == '\r') continue;  // reported as unterminated above
        char32_t hi;
        char hi_escape;
        SIEVE_RETURN_IF_ERROR(ReadChar(/*in_class=*/true, &hi, &hi_escape));
        if (lo_escape != 0 || hi_escape != 0) {
          return Error(StatusCode::kParse, item_start,
                       "a character range cannot start or end with \\d, \\w or \\s");
        }
        if (lo > hi) {
          return Error(StatusCode::kParse, item_start,
                       "character range out of order: '" +
                           std::string(text_.substr(item_start, pos_ - item_start)) + "'");
        }
        t->ranges.push_back({lo, hi});
      } else if (lo_escape != 0) {
        AddClassEscape(lo_escape, &t->ranges);
      } else {
        t->ranges.push_back({lo, lo});
      }
    }
    ++pos_;
    if (Grammar::NormalizeRanges(t->ranges, t->negated).empty()) {
      return Error(StatusCode::kParse, start,
                   "character class '" + std::string(text_.substr(start, pos_ - start)) +
                       "' matches no character");
    }
    return Status::Ok();
  }

  // Reads digits at pos_ into *value (saturating); false if there are none.
  bool ReadNumber(int64_t* value) {
    if (!(Peek() >= '0' && Peek() <= '9')) return false;
    int64_t v = 0;
    while (Peek() >= '0' && Peek() <= '9' && !AtEnd()) {
      v = std::min<int64_t>(v * 10 + (Peek() - '0'), int64_t{1} << 40);
      ++pos_;
    }
    *value = v;
    return true;
  }

  void SkipBlanks() {
    while (Peek() == ' ' || Peek() == '\t') ++pos_;
  }

  Status LexBounds(Token* t) {
    const size_t start = pos_;
    ++pos_;
    SkipBlanks();
    int64_t lo = 0, hi = 0;
    bool has_lo = ReadNumber(&lo);
    SkipBlanks();
    bool comma = false;
    bool has_hi = false;
    if (Peek() == ',') {
      comma = true;
      ++pos_;
      SkipBlanks();
      has_hi = ReadNumber(&hi);
      SkipBlanks();
    }
    if (Peek() != '}' || (!has_lo && !has_hi)) {
      return Error(StatusCode::kParse, start,
                   "expected a repetition bound: {m}, {m,}, {m,n} or {,n}");
    }
    ++pos_;
    if (!has_lo) lo = 0;
    if (!comma) hi = lo;
    const int64_t limit = opts_.max_repeat_bound;
    if (lo > limit || (has_hi && hi > limit)) {
      return Error(StatusCode::kLimit, start,
                   "repetition bound " + std::to_string(std::max(lo, has_hi ? hi : 0)) +
                       " exceeds the limit of " + std::to_string(limit) +
                       " (max_repeat_bound)");
    }
    if ((comma && has_hi && lo > hi)) {
      return Error(
          StatusCode::kParse, start,
          "repetition bounds out of order: " + std::string(text_.substr(start, pos_ - start)));
    }
    t->min = static_cast<int32_t>(lo);
    t->max = comma && !has_hi ? kUnbounded : static_cast<int32_t>(hi);
    return Status::Ok();
  }

  std::string_view text_;
  const EbnfOptions& opts_;
  std::vector<Directive> directives_;
  size_t pos_ = 0;
  Tok prev_ = Tok::kEnd;
  std::string_view last_name_;
};

class Parser {
 public:
  Parser(std::string_view text, const EbnfOptions& opts) : text_(text), opts_(opts) {}

  Result<Grammar> Parse() {
    if (text_.size() > opts_.max_text_bytes) {
      return LimitError("grammar text is " + std::to_string(text_.size()) +
                        " bytes, over the limit of " + std::to_string(opts_.max_text_bytes) +
                        " (max_text_bytes)");
    }
    SIEVE_RETURN_IF_ERROR(CollectDefinitions());
    Lexer lex(text_, opts_);
    lexer_ = &lex;
    lex.Next(&cur_);
    lex.Next(&next_);
    // Bodies add the rules that stand for `&` / `~` (ebnf_boolean.h) after the defined ones.
    defined_ = g_.num_rules();
    for (RuleId r = 0; static_cast<size_t>(r) < defined_; ++r) {
      // cur_ is the rule's name, next_ its '::='.
      Advance();
      Advance();
      SIEVE_RETURN_IF_ERROR(ParseBody(r));
    }
    if (cur_.kind == Tok::kError) return cur_.error;
    if (!unrepeated_negations_.empty()) {
      int32_t first = INT32_MAX;
      for (const auto& [e, off] : unrepeated_negations_) first = std::min(first, off);
      return Error(StatusCode::kUnsupported, first,
                   "a negated token stands for exactly one token, which a grammar over text "
                   "cannot express; repeat it with '*' or '+' (e.g. (!<[2]>)*: text without "
                   "that token)");
    }
    for (const Lexer::Directive& d : lex.unique_directives()) {
      const RuleId r = d.name.empty() ? -1 : g_.FindRule(d.name);
      if (r < 0) {
        return Error(StatusCode::kParse, d.offset,
                     std::string(d.kind == kUniqueCheck ? kUniqueDirective : kUniqueKeysDirective) +
                         (d.name.empty() ? " needs a rule name"
                                         : " names no rule of this grammar: '" +
                                               std::string(d.name) + "'"));
      }
      g_.SetRuleUniqueItems(r, d.kind);
    }
    if (!ops_.empty()) {
      Status s = ResolveBooleanOps(ops_, opts_.max_boolean_states, &g_, &read_in_place_);
      if (!s.ok()) return Error(s.code(), s.offset() >= 0 ? s.offset() : 0, s.message());
    }
    RuleId root = g_.FindRule(opts_.root);
    if (root < 0) return ParseError("the grammar has no root rule '" + opts_.root + "'");
    g_.set_root(root);
    WarnUnused();
    Status valid = g_.Validate();
    if (!valid.ok())
      return InternalError("EBNF parser built an invalid grammar: " + valid.message());
    return std::move(g_);
  }

 private:
  struct Frame {
    std::vector<ExprId> alts;
    std::vector<ExprId> seq;
    std::vector<int> seq_depth;  // nesting depth of each element of seq
    int group_at = -1;           // index in seq of an element that is a bare '(...)' group
    int depth = 0;               // max depth over finished alternatives
    int32_t open_offset = -1;    // offset of '(' or '(=' (-1 for the rule body)
    int32_t seq_offset = -1;     // offset of the first token of the current sequence
    bool lookahead = false;
    std::vector<ExprId> inter;   // finished operands of the current alternative's '&'
    int32_t inter_offset = -1;   // offset of its first '&'
    std::vector<int32_t> nots;   // offsets of the '~'s waiting for the next element
    std::vector<int32_t> group_nots;  // the '~'s in front of this group's '('
  };

  void Advance() {
    cur_ = std::move(next_);
    next_ = Token();
    lexer_->Next(&next_);
  }

  Status Error(StatusCode code, size_t offset, std::string message) const {
    return lexer_->Error(code, offset, std::move(message));
  }

  Status CollectDefinitions() {
    Lexer lex(text_, opts_);
    lexer_ = &lex;
    Token prev, t;
    lex.Next(&prev);
    if (prev.kind == Tok::kError) return prev.error;
    if (prev.kind == Tok::kEnd) return ParseError("the grammar defines no rules");
    lex.Next(&t);
    if (prev.kind != Tok::kName || t.kind != Tok::kAssign) {
      if (t.kind == Tok::kError) return t.error;
      if (prev.kind == Tok::kName) {
        return Error(StatusCode::kParse, t.offset,
                     "expected '::=' after rule name '" + std::string(prev.name) + "'");
      }
      return Error(
          StatusCode::kParse, prev.offset,
          "expected a rule name at the start of the grammar, found " + DescribeToken(prev));
    }
    std::unordered_map<std::string_view, RuleId> ids;
    while (true) {
      if (prev.kind == Tok::kName && t.kind == Tok::kAssign) {
        auto [it, inserted] = ids.emplace(prev.name, static_cast<RuleId>(g_.num_rules()));
        if (!inserted) {
          int line = 0, column = 0;
          OffsetToLineColumn(text_, g_.rule(it->second).source_offset, &line, &column);
          return Error(StatusCode::kParse, prev.offset,
                       "duplicate definition of rule '" + std::string(prev.name) +
                           "' (first defined at line " + std::to_string(line) + ")");
        }
        if (g_.num_rules() >= opts_.max_rules) {
          return Error(StatusCode::kLimit, prev.offset,
                       "more than " + std::to_string(opts_.max_rules) + " rules (max_rules)");
        }
        g_.AddRule(std::string(prev.name), prev.offset);
      }
      if (t.kind == Tok::kEnd) break;
      if (t.kind == Tok::kError) {
        pass1_error_ = t.error;
        break;
      }
      prev = std::move(t);
      t = Token();
      lex.Next(&t);
    }
    rule_ids_ = std::move(ids);
    return Status::Ok();
  }

  // True when cur_ starts the next rule or ends the text.
  bool AtRuleEnd() const {
    return cur_.kind == Tok::kEnd || (cur_.kind == Tok::kName && next_.kind == Tok::kAssign);
  }

  static void StartSequence(Frame* f, int32_t offset) {
    f->seq.clear();
    f->seq_depth.clear();
    f->group_at = -1;
    f->seq_offset = offset;
  }

  // The current sequence of f as one expression (kEmpty when empty).
  ExprId SequenceExpr(Frame* f, int32_t end_offset) {
    if (f->seq.empty()) return g_.AddEmpty(f->seq_offset >= 0 ? f->seq_offset : end_offset);
    f->depth = std::max(f->depth, *std::max_element(f->seq_depth.begin(), f->seq_depth.end()));
    return f->seq.size() == 1 ? f->seq[0] : g_.AddSequence(f->seq, f->seq_offset);
  }

  // A rule that stands for `~operand` or the intersection of `operands`, resolved after the
  // whole text is read (ebnf_boolean.h); returns a reference to it.
  ExprId BooleanRef(const std::string& rule_name, bool complement, std::vector<ExprId> operands,
                    int32_t offset) {
    std::string name = rule_name + (complement ? "_not_" : "_and_") + std::to_string(ops_.size());
    while (g_.FindRule(name) >= 0) name += "_";
    BooleanOp op;
    op.rule = g_.AddRule(std::move(name), offset);
    op.complement = complement;
    op.operands = std::move(operands);
    op.offset = offset;
    ops_.push_back(std::move(op));
    return g_.AddRuleRef(ops_.back().rule, offset);
  }

  // e under the '~'s in `nots` (innermost last).
  ExprId Complemented(ExprId e, std::vector<int32_t>* nots, const std::string& rule_name) {
    for (size_t i = nots->size(); i-- > 0;) e = BooleanRef(rule_name, true, {e}, (*nots)[i]);
    nots->clear();
    return e;
  }

  // An error when a '~' of f still waits for its element (something else came first).
  Status NoPendingComplement(const Frame& f) const {
    if (f.nots.empty()) return Status::Ok();
    return Error(StatusCode::kParse, f.nots.back(), "'~' needs an expression after it");
  }

  // Turns the current sequence of f into one alternative (the last operand of a pending '&').
  Status FinishSequence(Frame* f, int32_t end_offset, const std::string& rule_name) {
    SIEVE_RETURN_IF_ERROR(NoPendingComplement(*f));
    if (!f->inter.empty() && f->seq.empty()) {
      return Error(StatusCode::kParse, end_offset, "expected an expression after '&'");
    }
    ExprId e = SequenceExpr(f, end_offset);
    if (!f->inter.empty()) {
      f->inter.push_back(e);
      e = BooleanRef(rule_name, false, std::move(f->inter), f->inter_offset);
      f->inter.clear();
    }
    f->alts.push_back(e);
    return Status::Ok();
  }

  // Closes f; returns the group's expression and its depth in *depth.
  Result<ExprId> FinishFrame(Frame* f, int32_t end_offset, int* depth,
                             const std::string& rule_name) {
    SIEVE_RETURN_IF_ERROR(FinishSequence(f, end_offset, rule_name));
    *depth = f->depth + 1;
    if (f->alts.size() == 1) return f->alts[0];
    int32_t offset = f->open_offset >= 0 ? f->open_offset + 1 : g_.expr(f->alts[0]).source_offset;
    return g_.AddChoice(f->alts, offset);
  }

  Status CheckDepth(int depth, int32_t offset) const {
    if (depth > opts_.max_nesting_depth) {
      return Error(StatusCode::kLimit, offset,
                   "nesting deeper than " + std::to_string(opts_.max_nesting_depth) +
                       " levels (max_nesting_depth)");
    }
    return Status::Ok();
  }

  Status ParseBody(RuleId rule) {
    const std::string name = g_.rule(rule).name;  // a copy: BooleanRef adds rules
    std::vector<Frame> frames(1);
    StartSequence(&frames[0], -1);
    while (!AtRuleEnd()) {
      Frame& f = frames.back();
      const int32_t off = cur_.offset;
      if (f.seq.empty() && f.seq_offset < 0) f.seq_offset = off;
      switch (cur_.kind) {
        case Tok::kError:
          return cur_.error;
        case Tok::kString:
          f.seq.push_back(Complemented(
              cur_.bytes.empty() ? g_.AddEmpty(off) : g_.AddBytes(cur_.bytes, off), &f.nots, name));
          f.seq_depth.push_back(0);
          break;
        case Tok::kClass:
          f.seq.push_back(Complemented(
              g_.AddCharClass(std::move(cur_.ranges), cur_.negated, off), &f.nots, name));
          f.seq_depth.push_back(0);
          break;
        case Tok::kAny:
          f.seq.push_back(
              Complemented(g_.AddCharClass({{0, 0x10FFFF}}, false, off), &f.nots, name));
          f.seq_depth.push_back(0);
          break;
        case Tok::kTokenRef: {
          SIEVE_ASSIGN_OR_RETURN(const char32_t cp, TokenSentinel(cur_, off));
          ExprId e;
          if (cur_.negated) {
            e = g_.AddCharClass({{cp, cp}}, true, off);
            unrepeated_negations_[e] = off;
          } else {
            std::string bytes;
            AppendUtf8(&bytes, cp);
            e = g_.AddBytes(bytes, off);
          }
          f.seq.push_back(Complemented(e, &f.nots, name));
          f.seq_depth.push_back(0);
          break;
        }
        case Tok::kName: {
          auto it = rule_ids_.find(cur_.name);
          if (it == rule_ids_.end()) {
            // A definition after a lexical error was never seen: report that error instead.
            if (!pass1_error_.ok()) return pass1_error_;
            return Error(StatusCode::kParse, off,
                         "undefined rule '" + std::string(cur_.name) + "' (referenced in rule '" +
                             name + "')");
          }
          f.seq.push_back(Complemented(g_.AddRuleRef(it->second, off), &f.nots, name));
          f.seq_depth.push_back(0);
          break;
        }
        case Tok::kLParen:
        case Tok::kLookahead: {
          bool lookahead = cur_.kind == Tok::kLookahead;
          if (lookahead && frames.size() != 1) {
            return Error(StatusCode::kParse, off,
                         "a lookahead assertion '(= ...)' is only allowed at the end of a rule "
                         "body");
          }
          if (lookahead && !f.nots.empty()) {
            return Error(StatusCode::kParse, off, "'~' cannot apply to a lookahead assertion");
          }
          SIEVE_RETURN_IF_ERROR(CheckDepth(static_cast<int>(frames.size()), off));
          Frame nf;
          nf.open_offset = off;
          nf.lookahead = lookahead;
          nf.group_nots = std::move(f.nots);
          f.nots.clear();
          frames.push_back(std::move(nf));
          break;
        }
        case Tok::kRParen: {
          if (frames.size() == 1) {
            return Error(StatusCode::kParse, off, "unmatched ')' in rule '" + name + "'");
          }
          int depth = 0;
          auto closed = FinishFrame(&frames.back(), off, &depth, name);
          if (!closed.ok()) return closed.status();
          const bool lookahead = frames.back().lookahead;
          std::vector<int32_t> group_nots = std::move(frames.back().group_nots);
          frames.pop_back();
          const ExprId e = Complemented(*closed, &group_nots, name);
          SIEVE_RETURN_IF_ERROR(CheckDepth(depth, off));
          if (lookahead) {
            g_.SetRuleLookahead(rule, e);
            Advance();
            if (!AtRuleEnd()) {
              if (cur_.kind == Tok::kError) return cur_.error;
              return Error(StatusCode::kParse, cur_.offset,
                           "expected the end of rule '" + name +
                               "' after its lookahead assertion, found " + DescribeToken(cur_));
            }
            continue;
          }
          frames.back().seq.push_back(e);
          frames.back().seq_depth.push_back(depth);
          frames.back().group_at = static_cast<int>(frames.back().seq.size()) - 1;
          break;
        }
        case Tok::kPipe:
          SIEVE_RETURN_IF_ERROR(FinishSequence(&f, off, name));
          StartSequence(&f, -1);
          break;
        case Tok::kAmp:
          SIEVE_RETURN_IF_ERROR(NoPendingComplement(f));
          if (f.seq.empty()) {
            return Error(StatusCode::kParse, off, "expected an expression before '&'");
          }
          if (f.inter.empty()) f.inter_offset = off;
          f.inter.push_back(SequenceExpr(&f, off));
          StartSequence(&f, -1);
          break;
        case Tok::kTilde:
          f.nots.push_back(off);
          break;
        case Tok::kStar:
        case Tok::kPlus:
        case Tok::kQuestion:
        case Tok::kBounds: {
          if (f.seq.empty() || !f.nots.empty()) {
            return Error(StatusCode::kParse, off,
                         "expected an expression before " + DescribeToken(cur_));
          }
          int32_t min = 0, max = kUnbounded;
          if (cur_.kind == Tok::kPlus) min = 1;
          if (cur_.kind == Tok::kQuestion) max = 1;
          if (cur_.kind == Tok::kBounds) {
            min = cur_.min;
            max = cur_.max;
          }
          // A quantifier stacked on a repetition costs two levels: the printer writes `x??` as
          // `(x?)?`, and what this parser accepts must print into text it accepts
          // (grammar_printer.h). A repetition in a group, `(x?)?`, paid for its parentheses.
          const bool grouped = f.group_at == static_cast<int>(f.seq.size()) - 1;
          const bool stacked = g_.expr(f.seq.back()).kind == ExprKind::kRepeat && !grouped;
          f.group_at = -1;
          int depth = f.seq_depth.back() + (stacked ? 2 : 1);
          SIEVE_RETURN_IF_ERROR(CheckDepth(depth, off));
          // A negated token repeated by '*' or '+' is exactly "text without that token".
          if (max == kUnbounded && min <= 1) unrepeated_negations_.erase(f.seq.back());
          f.seq.back() = g_.AddRepeat(f.seq.back(), min, max, off);
          f.seq_depth.back() = depth;
          break;
        }
        case Tok::kAssign:
          return Error(StatusCode::kParse, off, "unexpected '::=' (it must follow a rule name)");
        case Tok::kEnd:
          break;  // unreachable: AtRuleEnd()
      }
      Advance();
    }
    if (frames.size() > 1) {
      const Frame& open = frames.back();
      return Error(StatusCode::kParse, open.open_offset,
                   std::string("unclosed '") + (open.lookahead ? "(=" : "(") + "' in rule '" +
                       name + "': expected ')'");
    }
    int depth = 0;
    auto body = FinishFrame(&frames[0], cur_.offset, &depth, name);
    if (!body.ok()) return body.status();
    g_.SetRuleBody(rule, *body);
    return Status::Ok();
  }

  void WarnUnused() {
    std::vector<uint8_t> used(g_.num_rules(), 0);
    std::vector<RuleId> work{g_.root()};
    used[g_.root()] = 1;
    for (RuleId r : read_in_place_) used[r] = 1;  // read inside a '&' / '~' operand
    std::vector<ExprId> stack;
    while (!work.empty()) {
      const Rule& r = g_.rule(work.back());
      work.pop_back();
      stack.push_back(r.body);
      if (r.lookahead != kNoExpr) stack.push_back(r.lookahead);
      while (!stack.empty()) {
        const Expr& e = g_.expr(stack.back());
        stack.pop_back();
        if (e.kind == ExprKind::kRuleRef && !used[e.rule]) {
          used[e.rule] = 1;
          work.push_back(e.rule);
        }
        if (e.kind == ExprKind::kSequence || e.kind == ExprKind::kChoice ||
            e.kind == ExprKind::kRepeat) {
          for (ExprId c : g_.children(e)) stack.push_back(c);
        }
      }
    }
    if (opts_.warnings == nullptr) return;
    // Rules are in text order, so one forward scan finds every line number.
    size_t pos = 0;
    int line = 1;
    // Only the defined rules: those standing for '&' / '~' come after them, out of text order.
    for (size_t i = 0; i < defined_; ++i) {
      const Rule& r = g_.rule(static_cast<RuleId>(i));
      for (; pos < static_cast<size_t>(r.source_offset); ++pos) line += text_[pos] == '\n';
      if (used[i]) continue;
      opts_.warnings->push_back("rule '" + r.name + "' (line " + std::to_string(line) +
                                ") is never used");
    }
  }

  // The sentinel code point of a token reference (the same one for every use of a token).
  Result<char32_t> TokenSentinel(const Token& t, int32_t off) {
    if (opts_.tokens == nullptr) {
      return Error(StatusCode::kUnsupported, off,
                   "token references (<[id]>, <text>) need a vocabulary to bind them to "
                   "(sieve_compiler_compile_ebnf, a vocab in sieve_grammar_options, "
                   "`sieve grammar check --tokenizer DIR`)");
    }
    std::vector<EbnfTokenRef>& refs = *opts_.tokens;
    // Keyed by the text (always starting with '<') or by "[N" for <[N]>: no collision.
    const std::string key = t.token_id >= 0 ? "[" + std::to_string(t.token_id) : t.bytes;
    if (auto it = token_index_.find(key); it != token_index_.end()) {
      return kEbnfTokenSentinelBase + static_cast<char32_t>(it->second);
    }
    if (refs.size() >= kEbnfMaxTokenRefs) {
      return Error(StatusCode::kLimit, off,
                   "more than " + std::to_string(kEbnfMaxTokenRefs) + " distinct token references");
    }
    EbnfTokenRef r;
    r.id = static_cast<int32_t>(t.token_id);
    r.text = t.bytes;
    r.offset = off;
    const char32_t cp = kEbnfTokenSentinelBase + static_cast<char32_t>(refs.size());
    AppendUtf8(&r.sentinel, cp);
    token_index_.emplace(key, refs.size());
    refs.push_back(std::move(r));
    return cp;
  }

  std::string_view text_;
  const EbnfOptions& opts_;
  Grammar g_;
  std::unordered_map<std::string_view, RuleId> rule_ids_;
  Status pass1_error_;
  size_t defined_ = 0;                  // rules defined in the text (ids 0 .. defined_ - 1)
  std::vector<BooleanOp> ops_;          // '&' / '~' to resolve once every body is read
  std::vector<RuleId> read_in_place_;  // rules their operands read
  Lexer* lexer_ = nullptr;
  Token cur_, next_;
  std::unordered_map<ExprId, int32_t> unrepeated_negations_;  // !<...> not yet under '*' / '+'
  std::unordered_map<std::string, size_t> token_index_;        // token reference -> its index
};

}  // namespace

void OffsetToLineColumn(std::string_view text, size_t offset, int* line, int* column) {
  offset = std::min(offset, text.size());
  int l = 1, c = 1;
  for (size_t i = 0; i < offset; ++i) {
    auto b = static_cast<unsigned char>(text[i]);
    if (b == '\n') {
      ++l;
      c = 1;
    } else if ((b & 0xC0) != 0x80) {
      ++c;  // count code points: continuation bytes do not advance the column
    }
  }
  *line = l;
  *column = c;
}

Result<Grammar> ParseEbnf(std::string_view text, const EbnfOptions& opts) {
  Parser parser(text, opts);
  return parser.Parse();
}

}  // namespace sieve
