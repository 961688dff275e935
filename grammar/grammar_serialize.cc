// Grammar images (grammar_serialize.h).
#include "grammar/grammar_serialize.h"

#include <cstring>

#include "grammar/content_hash.h"

namespace sieve {
namespace {

constexpr char kMagic[8] = {'S', 'I', 'E', 'V', 'E', 'G', 'R', 'M'};
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8;
constexpr int kMaxExprDepth = 4096;
constexpr uint64_t kChecksumSeed = 0x6772696d616765ull;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Expr(const Grammar& g, ExprId id) {
    if (id == kNoExpr) {
      U8(0xFF);
      return;
    }
    const sieve::Expr& e = g.expr(id);
    U8(static_cast<uint8_t>(e.kind));
    switch (e.kind) {
      case ExprKind::kEmpty:
        break;
      case ExprKind::kBytes:
        Str(g.bytes(e));
        break;
      case ExprKind::kCharClass:
        U32(static_cast<uint32_t>(g.ranges(e).size()));
        for (const CodepointRange& r : g.ranges(e)) {
          U32(r.lo);
          U32(r.hi);
        }
        break;
      case ExprKind::kRuleRef:
        I32(e.rule);
        break;
      case ExprKind::kRepeat:
        I32(e.min);
        I32(e.max);
        Expr(g, g.children(e)[0]);
        break;
      case ExprKind::kSequence:
      case ExprKind::kChoice:
        U32(static_cast<uint32_t>(g.children(e).size()));
        for (ExprId k : g.children(e)) Expr(g, k);
        break;
    }
  }
  void Gram(const Grammar& g) {
    U32(static_cast<uint32_t>(g.num_rules()));
    I32(g.root());
    for (size_t r = 0; r < g.num_rules(); ++r) {
      const Rule& rule = g.rule(static_cast<RuleId>(r));
      Str(rule.name);
      Expr(g, rule.body);
      Expr(g, rule.lookahead);
    }
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view data, size_t base) : data_(data), base_(base) {}

  Status Fail(const std::string& what) const {
    return FormatError("grammar image: " + what + " at byte " + std::to_string(base_ + pos_))
        .WithOffset(static_cast<int64_t>(base_ + pos_));
  }
  bool Need(size_t n) const { return data_.size() - pos_ >= n; }
  Result<uint8_t> U8() {
    if (!Need(1)) return Fail("truncated");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  Result<uint32_t> U32() {
    if (!Need(4)) return Fail("truncated");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return v;
  }
  Result<uint64_t> U64() {
    if (!Need(8)) return Fail("truncated");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return v;
  }
  Result<int32_t> I32() {
    SIEVE_ASSIGN_OR_RETURN(uint32_t v, U32());
    return static_cast<int32_t>(v);
  }
  Result<std::string> Str() {
    SIEVE_ASSIGN_OR_RETURN(uint32_t n, U32());
    if (!Need(n)) return Fail("string of " + std::to_string(n) + " bytes runs past the end");
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  Result<ExprId> Expr(Grammar* g, size_t num_rules, int depth) {
    if (depth > kMaxExprDepth) return Fail("expression nesting too deep");
    SIEVE_ASSIGN_OR_RETURN(uint8_t kind, U8());
    if (kind == 0xFF) return kNoExpr;
    switch (static_cast<ExprKind>(kind)) {
      case ExprKind::kEmpty:
        return g->AddEmpty();
      case ExprKind::kBytes: {
        SIEVE_ASSIGN_OR_RETURN(std::string b, Str());
        if (b.empty()) return Fail("empty byte string");
        return g->AddBytes(b);
      }
      case ExprKind::kCharClass: {
        SIEVE_ASSIGN_OR_RETURN(uint32_t n, U32());
        if (n == 0 || !Need(size_t{n} * 8)) return Fail("bad character class");
        std::vector<CodepointRange> r(n);
        for (uint32_t i = 0; i < n; ++i) {
          SIEVE_ASSIGN_OR_RETURN(uint32_t lo, U32());
          SIEVE_ASSIGN_OR_RETURN(uint32_t hi, U32());
          if (lo > hi || hi > 0x10FFFF) return Fail("bad code point range");
          r[i] = {static_cast<char32_t>(lo), static_cast<char32_t>(hi)};
        }
        return g->AddCharClass(std::move(r), false);
      }
      case ExprKind::kRuleRef: {
        SIEVE_ASSIGN_OR_RETURN(int32_t rule, I32());
        if (rule < 0 || static_cast<size_t>(rule) >= num_rules) return Fail("bad rule reference");
        return g->AddRuleRef(rule);
      }
      case ExprKind::kRepeat: {
        SIEVE_ASSIGN_OR_RETURN(int32_t min, I32());
        SIEVE_ASSIGN_OR_RETURN(int32_t max, I32());
        if (min < 0 || (max != kUnbounded && max < min)) return Fail("bad repetition bounds");
        SIEVE_ASSIGN_OR_RETURN(ExprId child, Expr(g, num_rules, depth + 1));
        if (child == kNoExpr) return Fail("repetition without a body");
        return g->AddRepeat(child, min, max);
      }
      case ExprKind::kSequence:
      case ExprKind::kChoice: {
        SIEVE_ASSIGN_OR_RETURN(uint32_t n, U32());
        if (n == 0 || !Need(n)) return Fail("bad child count");
        std::vector<ExprId> kids;
        kids.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
          SIEVE_ASSIGN_OR_RETURN(ExprId k, Expr(g, num_rules, depth + 1));
          if (k == kNoExpr) return Fail("missing child expression");
          kids.push_back(k);
        }
        return static_cast<ExprKind>(kind) == ExprKind::kSequence ? g->AddSequence(kids)
                                                                   : g->AddChoice(kids);
      }
    }
    return Fail("unknown expression kind " + std::to_string(kind));
  }
  Result<Grammar> Gram() {
    SIEVE_ASSIGN_OR_RETURN(uint32_t n, U32());
    // Each rule takes at least 6 bytes: a bound that rejects absurd counts before allocating.
    if (!Need(size_t{n} * 6)) return Fail("rule count " + std::to_string(n) + " exceeds the data");
    SIEVE_ASSIGN_OR_RETURN(int32_t root, I32());
    if (n > 0 && (root < 0 || static_cast<uint32_t>(root) >= n)) return Fail("bad root rule");
    Grammar g;
    const size_t start = pos_;
    // Names first (rule references may point forward): a pre-pass would need the trees' sizes,
    // so rules are declared as they come and references are checked against the count.
    std::vector<std::pair<ExprId, ExprId>> bodies;
    for (uint32_t r = 0; r < n; ++r) {
      SIEVE_ASSIGN_OR_RETURN(std::string name, Str());
      if (name.empty() || g.FindRule(name) >= 0) return Fail("bad or duplicate rule name");
      g.AddRule(std::move(name));
      SIEVE_ASSIGN_OR_RETURN(ExprId body, Expr(&g, n, 0));
      SIEVE_ASSIGN_OR_RETURN(ExprId la, Expr(&g, n, 0));
      if (body == kNoExpr) return Fail("rule without a body");
      bodies.emplace_back(body, la);
    }
    for (uint32_t r = 0; r < n; ++r) {
      g.SetRuleBody(static_cast<RuleId>(r), bodies[r].first);
      if (bodies[r].second != kNoExpr) g.SetRuleLookahead(static_cast<RuleId>(r), bodies[r].second);
    }
    if (n > 0) g.set_root(root);
    Status valid = g.Validate();
    if (!valid.ok()) {
      pos_ = start;
      return Fail("invalid grammar (" + valid.message() + ")");
    }
    return g;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

}  // namespace

std::string SerializeGrammarImage(const GrammarImage& image) {
  Writer w;
  w.Gram(image.simplified);
  w.Gram(image.source);
  w.U8(image.ignore_lookahead ? 1 : 0);
  w.I32(image.rules);
  w.U32(static_cast<uint32_t>(image.warnings.size()));
  for (const std::string& s : image.warnings) w.Str(s);
  w.U32(static_cast<uint32_t>(image.notes.size()));
  for (const JsonSchemaNote& n : image.notes) {
    w.U8(static_cast<uint8_t>(n.kind));
    w.Str(n.pointer);
    w.Str(n.keyword);
    w.Str(n.message);
  }
  w.U32(static_cast<uint32_t>(image.tokens.size()));
  for (const TokenBinding& t : image.tokens) {
    w.I32(t.id);
    w.Str(t.text);
    w.Str(t.sentinel);
  }
  w.U64(image.vocab_fingerprint);
  w.U64(image.vocab_size);
  const std::string& payload = w.out();
  ContentHasher h(kChecksumSeed);
  h.Add(payload);
  Writer head;
  head.out().append(kMagic, sizeof kMagic);
  head.U32(kGrammarImageVersion);
  head.U32(0);
  head.U64(payload.size());
  head.U64(h.Finish());
  return head.out() + payload;
}

Result<GrammarImage> DeserializeGrammarImage(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return FormatError(bytes.size() < kHeaderBytes
                           ? "grammar image: truncated header (" + std::to_string(bytes.size()) +
                                 " bytes)"
                           : "grammar image: bad magic (not a sieve grammar image)")
        .WithOffset(0);
  }
  Reader head(bytes.substr(8, kHeaderBytes - 8), 8);
  const uint32_t version = head.U32().value();
  const uint32_t reserved = head.U32().value();
  const uint64_t len = head.U64().value();
  const uint64_t sum = head.U64().value();
  if (version != kGrammarImageVersion) {
    return FormatError("grammar image: format version " + std::to_string(version) +
                       ", this library reads version " + std::to_string(kGrammarImageVersion))
        .WithOffset(8);
  }
  if (reserved != 0) {
    return FormatError("grammar image: reserved header field is not 0 (corrupted)").WithOffset(12);
  }
  if (len != bytes.size() - kHeaderBytes) {
    return FormatError("grammar image: payload is " + std::to_string(bytes.size() - kHeaderBytes) +
                       " bytes, the header says " + std::to_string(len) + " (truncated?)")
        .WithOffset(16);
  }
  const std::string_view payload = bytes.substr(kHeaderBytes);
  ContentHasher h(kChecksumSeed);
  h.Add(payload);
  if (h.Finish() != sum) {
    return FormatError("grammar image: checksum mismatch (corrupted)").WithOffset(24);
  }
  Reader r(payload, kHeaderBytes);
  GrammarImage img;
  SIEVE_ASSIGN_OR_RETURN(img.simplified, r.Gram());
  SIEVE_ASSIGN_OR_RETURN(img.source, r.Gram());
  SIEVE_ASSIGN_OR_RETURN(uint8_t flags, r.U8());
  img.ignore_lookahead = flags & 1;
  SIEVE_ASSIGN_OR_RETURN(img.rules, r.I32());
  SIEVE_ASSIGN_OR_RETURN(uint32_t nw, r.U32());
  if (!r.Need(size_t{nw} * 4)) return r.Fail("warning count exceeds the data");
  for (uint32_t i = 0; i < nw; ++i) {
    SIEVE_ASSIGN_OR_RETURN(std::string s, r.Str());
    img.warnings.push_back(std::move(s));
  }
  SIEVE_ASSIGN_OR_RETURN(uint32_t nn, r.U32());
  if (!r.Need(size_t{nn} * 13)) return r.Fail("note count exceeds the data");
  for (uint32_t i = 0; i < nn; ++i) {
    JsonSchemaNote n;
    SIEVE_ASSIGN_OR_RETURN(uint8_t kind, r.U8());
    if (kind > static_cast<uint8_t>(JsonSchemaNote::Kind::kInfo)) return r.Fail("bad note kind");
    n.kind = static_cast<JsonSchemaNote::Kind>(kind);
    SIEVE_ASSIGN_OR_RETURN(n.pointer, r.Str());
    SIEVE_ASSIGN_OR_RETURN(n.keyword, r.Str());
    SIEVE_ASSIGN_OR_RETURN(n.message, r.Str());
    img.notes.push_back(std::move(n));
  }
  SIEVE_ASSIGN_OR_RETURN(uint32_t nt, r.U32());
  if (nt > 256 || !r.Need(size_t{nt} * 12)) return r.Fail("bad token binding count");
  for (uint32_t i = 0; i < nt; ++i) {
    TokenBinding t;
    SIEVE_ASSIGN_OR_RETURN(t.id, r.I32());
    SIEVE_ASSIGN_OR_RETURN(t.text, r.Str());
    SIEVE_ASSIGN_OR_RETURN(t.sentinel, r.Str());
    if (t.id < 0 || t.sentinel.size() != 4 || static_cast<uint8_t>(t.sentinel[0]) != 0xF4) {
      return r.Fail("bad token binding");
    }
    img.tokens.push_back(std::move(t));
  }
  SIEVE_ASSIGN_OR_RETURN(img.vocab_fingerprint, r.U64());
  SIEVE_ASSIGN_OR_RETURN(img.vocab_size, r.U64());
  if (!r.AtEnd()) return r.Fail("trailing bytes");
  return img;
}

}  // namespace sieve
