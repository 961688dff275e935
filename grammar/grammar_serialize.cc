// Grammar images (grammar_serialize.h).
#include "grammar/grammar_serialize.h"

#include <cstring>

#include "grammar/content_hash.h"
#include "grammar/image_io.h"

namespace sieve {
namespace {

constexpr char kMagic[8] = {'S', 'I', 'E', 'V', 'E', 'G', 'R', 'M'};
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8;
constexpr int kMaxExprDepth = 4096;
constexpr uint64_t kChecksumSeed = 0x6772696d616765ull;
constexpr uint8_t kSectionAutomaton = 1;
constexpr uint8_t kSectionMaskCache = 2;

uint64_t PayloadChecksum(std::string_view payload) {
  ContentHasher h(kChecksumSeed);
  h.Add(payload);
  return h.Finish();
}

std::string Hex(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kDigits[v & 15];
  return s;
}

class Writer : public ImageWriter {
 public:
  uint32_t version = kGrammarImageVersion;  // rule flags are written from format 3 on

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
      if (version >= 3) U8(rule.unique_items);
    }
  }
};

class Reader : public ImageReader {
 public:
  using ImageReader::ImageReader;
  uint32_t version = kGrammarImageVersion;  // rule flags exist from format 3 on

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
    const size_t start = pos();
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
      if (version >= 3) {
        SIEVE_ASSIGN_OR_RETURN(uint8_t flags, U8());
        if (flags > kUniqueKeysLive) return Fail("bad rule flags");
        g.SetRuleUniqueItems(static_cast<RuleId>(r), flags);
      }
      bodies.emplace_back(body, la);
    }
    for (uint32_t r = 0; r < n; ++r) {
      g.SetRuleBody(static_cast<RuleId>(r), bodies[r].first);
      if (bodies[r].second != kNoExpr) g.SetRuleLookahead(static_cast<RuleId>(r), bodies[r].second);
    }
    if (n > 0) g.set_root(root);
    Status valid = g.Validate();
    if (!valid.ok()) return FailAt("invalid grammar (" + valid.message() + ")", start);
    return g;
  }
};

bool HasRuleFlags(const Grammar& g) {
  for (size_t r = 0; r < g.num_rules(); ++r) {
    if (g.rule(static_cast<RuleId>(r)).unique_items) return true;
  }
  return false;
}

}  // namespace

std::string SerializeGrammarImage(const GrammarImage& image) {
  Writer w;
  // The oldest format that holds the grammar, so that older readers load what they can.
  w.version = HasRuleFlags(image.simplified) || HasRuleFlags(image.source) ? 3 : 2;
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
  // Format 2 sections, each length-prefixed so that a reader without a vocabulary can skip the
  // mask cache.
  const bool cache = image.pda != nullptr && image.mask_cache != nullptr &&
                     image.mask_cache->grammar() == image.pda && image.vocab_size > 0;
  w.U8(static_cast<uint8_t>((image.pda != nullptr ? kSectionAutomaton : 0) |
                            (cache ? kSectionMaskCache : 0)));
  if (image.pda != nullptr) {
    ImageWriter section;
    WriteCompiledGrammar(*image.pda, &section);
    w.U64(section.size());
    w.Raw(section.out().data(), section.size());
  }
  if (cache) {
    ImageWriter section;
    WriteTokenMaskCache(*image.mask_cache, &section);
    w.U64(section.size());
    w.Raw(section.out().data(), section.size());
  }
  const std::string& payload = w.out();
  ImageWriter head;
  head.Raw(kMagic, sizeof kMagic);
  head.U32(w.version);
  head.U32(0);
  head.U64(payload.size());
  head.U64(PayloadChecksum(payload));
  return head.out() + payload;
}

std::string ResealGrammarImage(std::string image) {
  if (image.size() < kHeaderBytes) return image;
  const std::string_view payload = std::string_view(image).substr(kHeaderBytes);
  const uint64_t len = payload.size(), sum = PayloadChecksum(payload);
  for (int i = 0; i < 8; ++i) {
    image[16 + i] = static_cast<char>(len >> (8 * i));
    image[24 + i] = static_cast<char>(sum >> (8 * i));
  }
  return image;
}

Result<GrammarImage> DeserializeGrammarImage(std::string_view bytes,
                                             std::shared_ptr<const TokenizerInfo> info) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return FormatError(bytes.size() < kHeaderBytes
                           ? "grammar image: truncated header (" + std::to_string(bytes.size()) +
                                 " bytes)"
                           : "grammar image: bad magic (not a sieve grammar image)")
        .WithOffset(0);
  }
  ImageReader head(bytes.substr(8, kHeaderBytes - 8), 8);
  const uint32_t version = head.U32().value();
  const uint32_t reserved = head.U32().value();
  const uint64_t len = head.U64().value();
  const uint64_t sum = head.U64().value();
  if (version < kOldestGrammarImageVersion || version > kGrammarImageVersion) {
    return FormatError("grammar image: format version " + std::to_string(version) +
                       ", this library reads versions " +
                       std::to_string(kOldestGrammarImageVersion) + " to " +
                       std::to_string(kGrammarImageVersion))
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
  if (PayloadChecksum(payload) != sum) {
    return FormatError("grammar image: checksum mismatch (corrupted)").WithOffset(24);
  }
  Reader r(payload, kHeaderBytes);
  r.version = version;
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
  img.version = version;
  if (info != nullptr && img.vocab_size > 0 &&
      (info->vocab().size() != img.vocab_size || info->fingerprint() != img.vocab_fingerprint)) {
    return InvalidArgument("grammar image: compiled for a different vocabulary (" +
                           std::to_string(img.vocab_size) + " ids, fingerprint " +
                           Hex(img.vocab_fingerprint) + "; this one has " +
                           std::to_string(info->vocab().size()) + " ids, fingerprint " +
                           Hex(info->fingerprint()) + ")");
  }
  if (version >= 2) {
    const size_t at = r.pos();
    SIEVE_ASSIGN_OR_RETURN(uint8_t sections, r.U8());
    if ((sections & ~(kSectionAutomaton | kSectionMaskCache)) != 0 ||
        ((sections & kSectionMaskCache) && !(sections & kSectionAutomaton)) ||
        ((sections & kSectionMaskCache) && img.vocab_size == 0)) {
      return r.FailAt("bad section flags", at);
    }
    if (sections & kSectionAutomaton) {
      SIEVE_ASSIGN_OR_RETURN(uint64_t n, r.U64());
      const size_t base = r.base() + r.pos();
      if (n > r.left()) return r.Fail("automaton section runs past the end");
      SIEVE_ASSIGN_OR_RETURN(std::string_view bytes_pda, r.Bytes(static_cast<size_t>(n)));
      ImageReader sub(bytes_pda, base);
      SIEVE_ASSIGN_OR_RETURN(img.pda, ReadCompiledGrammar(&sub));
      if (!sub.AtEnd()) return sub.Fail("trailing bytes in the automaton section");
    }
    if (sections & kSectionMaskCache) {
      SIEVE_ASSIGN_OR_RETURN(uint64_t n, r.U64());
      const size_t base = r.base() + r.pos();
      if (n > r.left()) return r.Fail("mask cache section runs past the end");
      SIEVE_ASSIGN_OR_RETURN(std::string_view bytes_cache, r.Bytes(static_cast<size_t>(n)));
      if (info != nullptr) {
        ImageReader sub(bytes_cache, base);
        SIEVE_ASSIGN_OR_RETURN(img.mask_cache, ReadTokenMaskCache(&sub, img.pda, info));
        if (!sub.AtEnd()) return sub.Fail("trailing bytes in the mask cache section");
      }
    }
  }
  if (!r.AtEnd()) return r.Fail("trailing bytes");
  return img;
}

}  // namespace sieve
