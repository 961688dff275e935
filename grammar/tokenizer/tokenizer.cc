// Tokenizer: builds the tables from a TokenizerSpec and runs the encode pipeline.
//
// Encode follows the library's order exactly: (1) added tokens with normalized=false are cut out
// of the raw text; (2) each remaining gap is normalized (NFC, Prepend, Replace); (3) added tokens
// with normalized=true are cut out of the normalized gap; (4) each remaining piece is
// pre-tokenized; (5) each pre-token is run through BPE. Decode concatenates token bytes (the
// vocabulary's, i.e. what the library's decoder makes of each token) and applies the decoder's
// leading-space rule for SentencePiece-style tokenizers.
//
// Building: the model is keyed by surface forms exactly as tokenizer.json spells them; each id's
// vocabulary bytes are the decoded surface (GPT-2 byte map undone, or U+2581 -> ' ' and <0xNN> ->
// byte). A byte-level token whose surface is not in the byte map (e.g. DeepSeek's
// "<｜begin▁of▁sentence｜>") keeps its UTF-8 text as bytes, as the library's ByteLevel decoder
// does; BPE never produces it (pieces only hold mapped characters). Merges are resolved to
// (id_a, id_b) -> (rank, id_ab), failing with the merge's index, JSON pointer and byte offset
// when a side or the result is not a token. Limits: ids < 2^20, merges < 2^24 - 1 (PairMap).
#include "grammar/tokenizer/tokenizer.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include "grammar/support/unicode.h"
#include "grammar/tokenizer/added_tokens.h"
#include "grammar/tokenizer/bpe.h"
#include "grammar/tokenizer/byte_level.h"
#include "grammar/tokenizer/pretokenizer.h"
#include "grammar/tokenizer/tokenizer_json.h"

namespace sieve {

namespace ti = tokenizer_internal;

namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

// End-of-turn tokens that stop generation whenever the tokenizer defines them as added tokens.
constexpr std::string_view kWellKnownStops[] = {
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "</s>",
};

// SentencePiece surface -> bytes: "<0xNN>" is the byte NN, U+2581 is a space.
void SentencePieceBytes(std::string_view surface, std::string* out, bool* byte_fallback) {
  *byte_fallback = false;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (surface.size() == 6 && surface.starts_with("<0x") && surface[5] == '>' &&
      hex(surface[3]) >= 0 && hex(surface[4]) >= 0) {
    out->push_back(static_cast<char>(hex(surface[3]) * 16 + hex(surface[4])));
    *byte_fallback = true;
    return;
  }
  size_t i = 0;
  while (i < surface.size()) {
    if (surface.substr(i).starts_with(kSpmSpace)) {
      out->push_back(' ');
      i += kSpmSpace.size();
    } else {
      out->push_back(surface[i++]);
    }
  }
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t i = 0;
  while (true) {
    const size_t at = s->find(from, i);
    if (at == std::string::npos) break;
    out.append(*s, i, at - i);
    out += to;
    i = at + from.size();
  }
  if (i == 0) return;
  out.append(*s, i, std::string::npos);
  s->swap(out);
}

Status ReadFile(const std::string& path, std::string* out, bool* missing) {
  if (missing != nullptr) *missing = false;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    if (missing != nullptr && err == ENOENT) {
      *missing = true;
      return Status::Ok();
    }
    return IoError("cannot open " + path + ": " + std::strerror(err));
  }
  std::string data;
  size_t got = 0;
  if (std::fseek(f, 0, SEEK_END) == 0) {
    const long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    if (size > 0) {
      data.reserve(static_cast<size_t>(size) + 1);  // +1: in-situ parsing appends a '\0'
      data.resize(static_cast<size_t>(size));
      got = std::fread(data.data(), 1, data.size(), f);
      data.resize(got);
    }
  }
  if (got == 0 || std::feof(f) == 0) {  // size unknown, or the file grew: read the rest
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IoError("cannot read " + path);
  *out = std::move(data);
  return Status::Ok();
}

}  // namespace

class TokenizerImpl {
 public:
  struct Scratch {
    std::vector<ti::Segment> segments;
    std::vector<ti::Segment> inner;
    std::string normalized;
    ti::PreTokenizer::Scratch pre;
    ti::BpeModel::Scratch bpe;
    // Pre-token -> ids cache for long inputs (words repeat): direct mapped, enabled by Encode for
    // texts of kCacheMinText bytes or more, and private to one call (no locking).
    struct CacheSlot {
      uint64_t hash = 0;
      uint32_t key_offset = 0;
      uint32_t key_length = 0;  // 0: empty
      uint32_t ids_offset = 0;
      uint32_t ids_length = 0;
    };
    std::vector<CacheSlot> cache;
    std::string cache_keys;
    std::vector<int32_t> cache_ids;
  };
  static constexpr size_t kCacheMinText = 2048;
  static constexpr size_t kCacheSlots = 4096;
  static constexpr size_t kCacheMaxPiece = 32;

  static Result<std::unique_ptr<TokenizerImpl>> Build(ti::TokenizerSpec& spec,
                                                      const std::string& name,
                                                      const std::string& config_name);

  void Normalize(std::string_view in, std::string* out) const;
  void EncodePiece(std::string_view text, bool at_origin, Scratch* s,
                   std::vector<int32_t>* out) const;
  int32_t TokenToId(std::string_view surface) const;
  int32_t ModelTokenId(std::string_view surface) const;  // model vocab only, no added tokens
  static Status ResolveMerges(const ti::TokenizerSpec& spec,
                              const std::vector<ti::TextSpan>& surface_by_id,
                              const std::string& name, TokenizerImpl* t);

  Vocabulary vocab;
  ti::BpeModel model;
  ti::PreTokenizer pre;
  std::vector<ti::NormalizerStep> normalizer;
  ti::AddedTokenMatcher raw_added;
  ti::AddedTokenMatcher normalized_added;
  std::unordered_map<std::string, int32_t> added_by_content;
  int strip_spaces = 0;  // decoder: leading spaces removed; -1: Metaspace (first token's spaces)
  int32_t bos = -1;
  int32_t eos = -1;
  std::string description;
};

void TokenizerImpl::Normalize(std::string_view in, std::string* out) const {
  out->assign(in.data(), in.size());
  for (const ti::NormalizerStep& step : normalizer) {
    switch (step.kind) {
      case ti::NormalizerStep::Kind::kNfc:
        if (!unicode::IsNfcQuickYes(*out)) *out = unicode::Nfc(*out);
        break;
      case ti::NormalizerStep::Kind::kPrepend:
        if (!out->empty()) out->insert(0, step.content);
        break;
      case ti::NormalizerStep::Kind::kReplace:
        ReplaceAll(out, step.pattern, step.content);
        break;
    }
  }
}

void TokenizerImpl::EncodePiece(std::string_view text, bool at_origin, Scratch* s,
                                std::vector<int32_t>* out) const {
  pre.Run(text, at_origin, &s->pre);
  const std::string_view buf(s->pre.buf);
  for (const ti::Piece& p : s->pre.pieces) {
    const std::string_view piece = buf.substr(p.begin, p.end - p.begin);
    if (s->cache.empty() || piece.size() > kCacheMaxPiece) {
      model.Encode(piece, out, &s->bpe);
      continue;
    }
    const uint64_t h = ti::HashBytes(piece.data(), piece.size());
    Scratch::CacheSlot& slot = s->cache[h & (kCacheSlots - 1)];
    if (slot.hash == h && slot.key_length == piece.size() &&
        std::memcmp(s->cache_keys.data() + slot.key_offset, piece.data(), piece.size()) == 0) {
      const int32_t* ids = s->cache_ids.data() + slot.ids_offset;
      out->insert(out->end(), ids, ids + slot.ids_length);
      continue;
    }
    const size_t before = out->size();
    model.Encode(piece, out, &s->bpe);
    slot.hash = h;
    slot.key_offset = static_cast<uint32_t>(s->cache_keys.size());
    slot.key_length = static_cast<uint32_t>(piece.size());
    slot.ids_offset = static_cast<uint32_t>(s->cache_ids.size());
    slot.ids_length = static_cast<uint32_t>(out->size() - before);
    s->cache_keys.append(piece);
    s->cache_ids.insert(s->cache_ids.end(), out->begin() + before, out->end());
  }
}

int32_t TokenizerImpl::TokenToId(std::string_view surface) const {
  if (auto it = added_by_content.find(std::string(surface)); it != added_by_content.end()) {
    return it->second;
  }
  return ModelTokenId(surface);
}

int32_t TokenizerImpl::ModelTokenId(std::string_view surface) const { return model.Find(surface); }

// Resolves spec.merges to (id_a, id_b) -> (rank, id_ab) and loads them into t->model. Keys are
// surface forms, so no conversion is needed. `a` and `b` are looked up through a ring of kAhead
// merges whose table slots are prefetched when the merge is staged. The result `ab` is first
// guessed: real merge lists create tokens in id order (each merge's result is the previous
// result or the next id), so comparing the guess's surface with a+b usually replaces a hash
// lookup by a sequential read; a wrong guess falls back to the lookup.
Status TokenizerImpl::ResolveMerges(const ti::TokenizerSpec& spec,
                                    const std::vector<ti::TextSpan>& surface_by_id,
                                    const std::string& name, TokenizerImpl* t) {
  const size_t n = spec.merges.size();
  constexpr size_t kAhead = 16;
  struct Hashes {
    uint64_t a, b;
  };
  Hashes ring[kAhead];
  auto stage = [&](size_t i) {
    const ti::MergeSpec& m = spec.merges[i];
    const std::string_view a = spec.Text(m.a);
    const std::string_view b = spec.Text(m.b);
    Hashes& h = ring[i % kAhead];
    h.a = ti::HashBytes(a.data(), a.size());
    h.b = ti::HashBytes(b.data(), b.size());
    t->model.PrefetchToken(h.a);
    t->model.PrefetchToken(h.b);
  };
  auto is_concat = [&](int32_t id, std::string_view a, std::string_view b) {
    if (id < 0 || static_cast<size_t>(id) >= surface_by_id.size()) return false;
    const ti::TextSpan s = surface_by_id[id];
    if (s.length != a.size() + b.size() || s.length == 0) return false;
    const char* p = spec.json.data() + s.offset;
    return std::memcmp(p, a.data(), a.size()) == 0 &&
           std::memcmp(p + a.size(), b.data(), b.size()) == 0;
  };
  struct Resolved {
    int32_t a, b, ab;
  };
  std::vector<Resolved> done(n);
  std::string joined;
  int32_t last_ab = -1;
  for (size_t i = 0; i < std::min(n, kAhead); ++i) stage(i);
  for (size_t i = 0; i < n; ++i) {
    const ti::MergeSpec& m = spec.merges[i];
    const std::string_view a_text = spec.Text(m.a);
    const std::string_view b_text = spec.Text(m.b);
    const Hashes h = ring[i % kAhead];
    if (i + kAhead < n) stage(i + kAhead);
    const int32_t a = t->model.Find(a_text, h.a);
    const int32_t b = a < 0 ? -1 : t->model.Find(b_text, h.b);
    int32_t ab = -1;
    if (b >= 0) {
      if (is_concat(last_ab, a_text, b_text)) {
        ab = last_ab;
      } else if (is_concat(last_ab + 1, a_text, b_text)) {
        ab = last_ab + 1;
      } else {
        joined.assign(a_text);
        joined += b_text;
        ab = t->model.Find(joined);
      }
    }
    if (ab < 0) {
      const std::string ptr = "/model/merges/" + std::to_string(i);
      const std::string as(a_text);
      const std::string bs(b_text);
      const std::string what = a < 0   ? "names no token '" + as + "'"
                               : b < 0 ? "names no token '" + bs + "'"
                                       : "makes '" + as + bs + "', which is not a token";
      return FormatError(name + ": " + ptr + ": merges[" + std::to_string(i) + "] '" + as + " " +
                         bs + "' " + what)
          .WithPointer(ptr)
          .WithOffset(m.a.offset);
    }
    last_ab = ab;
    done[i] = {a, b, ab};
  }
  // Inserts are cheap, so the prefetch has to run further ahead to cover a memory access.
  constexpr size_t kInsertAhead = 64;
  for (size_t i = 0; i < n; ++i) {
    if (i + kInsertAhead < n) {
      t->model.PrefetchMerge(done[i + kInsertAhead].a, done[i + kInsertAhead].b);
    }
    t->model.AddMerge(done[i].a, done[i].b, static_cast<uint32_t>(i), done[i].ab);
  }
  return Status::Ok();
}

Result<std::unique_ptr<TokenizerImpl>> TokenizerImpl::Build(ti::TokenizerSpec& spec,
                                                            const std::string& name,
                                                            const std::string& config_name) {
  auto impl = std::make_unique<TokenizerImpl>();
  TokenizerImpl& t = *impl;
  const bool byte_level = spec.kind == VocabKind::kByteLevel;
  t.normalizer = spec.normalizer;
  t.pre = ti::PreTokenizer(spec.pre_tokenizer);
  t.strip_spaces = spec.decoder_strip_spaces;

  size_t n_ids = 0;
  for (const ti::VocabEntry& e : spec.vocab) n_ids = std::max(n_ids, static_cast<size_t>(e.id) + 1);
  for (const ti::AddedTokenSpec& a : spec.added_tokens) {
    n_ids = std::max(n_ids, static_cast<size_t>(a.id) + 1);
  }
  if (n_ids == 0) return FormatError(name + ": the vocabulary is empty");
  if (n_ids > ti::PairMap::kMaxKey + 1 || spec.merges.size() > ti::PairMap::kMaxPayload + 1) {
    return LimitError(name + ": " + std::to_string(n_ids) + " ids and " +
                      std::to_string(spec.merges.size()) + " merges exceed sieve's limits (" +
                      std::to_string(ti::PairMap::kMaxKey + 1) + " ids, " +
                      std::to_string(ti::PairMap::kMaxPayload + 1) + " merges)");
  }

  // Token bytes, first in file order in `arena`, located per id by (offset, length).
  std::string arena;
  arena.reserve(spec.json.size() / 6);
  std::vector<std::pair<uint32_t, uint32_t>> loc(n_ids, {0, 0});
  std::vector<uint8_t> flags(n_ids, kTokenPadding);

  ti::BpeModel::Options options;
  options.byte_level = byte_level;
  options.ignore_merges = spec.ignore_merges;
  options.byte_fallback = spec.byte_fallback;
  options.fuse_unk = spec.fuse_unk;
  t.model.Init(options, spec.vocab.size(), arena.capacity(), spec.merges.size());

  // Token bytes per id, and the model's key table (keys are the surfaces, in spec.json), filled
  // with prefetching a few entries ahead (random inserts into a table of several MB are memory
  // bound otherwise).
  constexpr size_t kAhead = 16;
  std::vector<ti::TextSpan> surface_by_id(n_ids, ti::TextSpan{0, 0});
  uint64_t hashes[kAhead];
  auto stage = [&](size_t i) {
    const std::string_view surface = spec.Text(spec.vocab[i].surface);
    hashes[i % kAhead] = ti::HashBytes(surface.data(), surface.size());
    t.model.PrefetchToken(hashes[i % kAhead]);
  };
  for (size_t i = 0; i < std::min(kAhead, spec.vocab.size()); ++i) stage(i);
  for (size_t i = 0; i < spec.vocab.size(); ++i) {
    const ti::VocabEntry& e = spec.vocab[i];
    const int32_t id = e.id;
    const std::string_view surface = spec.Text(e.surface);
    if (flags[id] != kTokenPadding) {
      return FormatError(name + ": /model/vocab: id " + std::to_string(id) +
                         " is given to more than one token (again to '" + std::string(surface) +
                         "')")
          .WithPointer("/model/vocab")
          .WithOffset(e.surface.offset);
    }
    t.model.AddToken(surface, id, hashes[i % kAhead]);
    if (i + kAhead < spec.vocab.size()) stage(i + kAhead);
    surface_by_id[id] = e.surface;
    flags[id] = kTokenNormal;
    const uint32_t off = static_cast<uint32_t>(arena.size());
    if (byte_level) {
      if (!ti::ByteLevelDecode(surface, &arena)) {
        arena.resize(off);  // not in the byte map: the library's decoder keeps such tokens as is
        arena += surface;
      }
    } else {
      bool fallback = false;
      SentencePieceBytes(surface, &arena, &fallback);
      if (fallback) flags[id] |= kTokenByteFallback;
    }
    loc[id] = {off, static_cast<uint32_t>(arena.size()) - off};
  }
  SIEVE_RETURN_IF_ERROR(ResolveMerges(spec, surface_by_id, name, &t));

  if (spec.unk_token) {
    // As in the library, an unk token missing from the vocabulary only matters when needed;
    // sieve then drops the unknown character (the library would fail the encode).
    t.model.set_unk_id(t.ModelTokenId(*spec.unk_token));
  }
  t.model.Finish();

  // Added tokens: their content decodes through the same surface rules as model tokens.
  for (const ti::AddedTokenSpec& a : spec.added_tokens) {
    const uint32_t off = static_cast<uint32_t>(arena.size());
    bool fallback = false;
    if (byte_level) {
      std::string key;
      arena += ti::ByteLevelDecode(a.content, &key) ? std::string_view(key) : a.content;
    } else {
      SentencePieceBytes(a.content, &arena, &fallback);
    }
    loc[a.id] = {off, static_cast<uint32_t>(arena.size()) - off};
    flags[a.id] =
        kTokenAdded | (a.special ? kTokenSpecial : 0) | (fallback ? kTokenByteFallback : 0);
    t.added_by_content[a.content] = a.id;
    ti::AddedTokenRule rule{a.id, a.special, a.lstrip, a.rstrip, a.single_word};
    bool added;
    if (a.normalized) {
      std::string normalized;
      t.Normalize(a.content, &normalized);
      added = t.normalized_added.Add(normalized, rule);
    } else {
      added = t.raw_added.Add(a.content, rule);
    }
    if (!added) return LimitError(name + ": added tokens hold too much text");
  }

  // Stop tokens and bos/eos from the config.
  auto resolve = [&](const std::optional<std::string>& content, const char* what,
                     int32_t* out) -> Status {
    if (!content) return Status::Ok();
    *out = t.TokenToId(*content);
    if (*out < 0) {
      return FormatError(config_name + ": " + what + " '" + *content + "' is not a token of " +
                         name)
          .WithPointer(std::string("/") + what);
    }
    return Status::Ok();
  };
  SIEVE_RETURN_IF_ERROR(resolve(spec.bos_token, "bos_token", &t.bos));
  SIEVE_RETURN_IF_ERROR(resolve(spec.eos_token, "eos_token", &t.eos));
  if (t.eos >= 0) flags[t.eos] |= kTokenStop;
  for (std::string_view stop : kWellKnownStops) {
    auto it = t.added_by_content.find(std::string(stop));
    if (it != t.added_by_content.end()) flags[it->second] |= kTokenStop;
  }

  // The vocabulary, in id order.
  std::string bytes;
  bytes.reserve(arena.size());
  std::vector<uint32_t> offsets;
  offsets.reserve(n_ids + 1);
  offsets.push_back(0);
  for (size_t id = 0; id < n_ids; ++id) {
    bytes.append(arena, loc[id].first, loc[id].second);
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
  }
  SIEVE_ASSIGN_OR_RETURN(t.vocab, Vocabulary::FromFlat(std::move(bytes), std::move(offsets),
                                                       std::move(flags), spec.kind));

  // Description.
  size_t n_special = 0;
  for (const ti::AddedTokenSpec& a : spec.added_tokens) n_special += a.special;
  std::string d = byte_level ? "BPE (byte-level)" : "BPE (SentencePiece)";
  d += ", " + std::to_string(n_ids) + " ids (" + std::to_string(spec.added_tokens.size()) +
       " added, " + std::to_string(n_special) + " special), " +
       std::to_string(t.model.merge_count()) + " merges";
  if (spec.ignore_merges) d += ", ignore_merges";
  if (spec.byte_fallback) d += ", byte_fallback";
  d += "; normalizer: " +
       (spec.normalizer_description.empty() ? std::string("none") : spec.normalizer_description);
  d += "; pre-tokenizer: " + t.pre.Describe();
  d += "; decoder: " +
       (spec.decoder_description.empty() ? std::string("none") : spec.decoder_description);
  d += "; stop:";
  for (int32_t id : t.vocab.stop_tokens()) d += " " + std::to_string(id);
  t.description = std::move(d);
  return impl;
}

// ---- Tokenizer ----------------------------------------------------------------------------------

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::FromJson(std::string_view tokenizer_json,
                                                             std::string_view config_json,
                                                             const std::string& name) {
  SIEVE_ASSIGN_OR_RETURN(std::unique_ptr<ti::TokenizerSpec> spec,
                         ti::ParseTokenizerSpec(std::string(tokenizer_json), config_json, name,
                                                name + " (tokenizer_config.json)"));
  SIEVE_ASSIGN_OR_RETURN(std::unique_ptr<TokenizerImpl> impl,
                         TokenizerImpl::Build(*spec, name, name + " (tokenizer_config.json)"));
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::Load(const std::string& path) {
  std::string json_path = path;
  std::string config_path;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    json_path = dir + "/tokenizer.json";
    config_path = dir + "/tokenizer_config.json";
  } else {
    const size_t slash = path.find_last_of('/');
    config_path = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
                  "tokenizer_config.json";
  }
  std::string json;
  SIEVE_RETURN_IF_ERROR(ReadFile(json_path, &json, nullptr));
  std::string config;
  bool missing = false;
  SIEVE_RETURN_IF_ERROR(ReadFile(config_path, &config, &missing));
  SIEVE_ASSIGN_OR_RETURN(std::unique_ptr<ti::TokenizerSpec> spec,
                         ti::ParseTokenizerSpec(std::move(json), config, json_path, config_path));
  SIEVE_ASSIGN_OR_RETURN(std::unique_ptr<TokenizerImpl> impl,
                         TokenizerImpl::Build(*spec, json_path, config_path));
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool allow_special) const {
  const TokenizerImpl& t = *impl_;
  TokenizerImpl::Scratch s;
  if (text.size() >= TokenizerImpl::kCacheMinText) s.cache.resize(TokenizerImpl::kCacheSlots);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (t.raw_added.empty()) {
    if (!text.empty()) s.segments.push_back({0, static_cast<uint32_t>(text.size()), -1});
  } else {
    t.raw_added.Split(text, allow_special, &s.segments);
  }
  for (const ti::Segment& seg : s.segments) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    std::string_view gap = text.substr(seg.begin, seg.end - seg.begin);
    if (!t.normalizer.empty()) {
      t.Normalize(gap, &s.normalized);
      gap = s.normalized;
    }
    if (t.normalized_added.empty()) {
      t.EncodePiece(gap, seg.begin == 0, &s, &out);
      continue;
    }
    s.inner.clear();
    t.normalized_added.Split(gap, allow_special, &s.inner);
    for (const ti::Segment& in : s.inner) {
      if (in.id >= 0) {
        out.push_back(in.id);
      } else {
        t.EncodePiece(gap.substr(in.begin, in.end - in.begin), seg.begin == 0 && in.begin == 0, &s,
                      &out);
      }
    }
  }
  return out;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  const Vocabulary& v = impl_->vocab;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= v.size() || v.IsPadding(id)) continue;
    const std::string_view bytes = v.TokenBytes(id);
    if (first && impl_->strip_spaces < 0 && !(v.Flags(id) & kTokenByteFallback)) {
      // Metaspace decoder: the first token loses the spaces that stood for U+2581.
      for (char c : bytes) {
        if (c != ' ') out.push_back(c);
      }
    } else {
      out.append(bytes);
    }
    first = false;
  }
  if (impl_->strip_spaces > 0) {
    size_t k = 0;
    while (k < out.size() && k < static_cast<size_t>(impl_->strip_spaces) && out[k] == ' ') ++k;
    out.erase(0, k);
  }
  return out;
}

const Vocabulary& Tokenizer::vocabulary() const { return impl_->vocab; }
std::string Tokenizer::Describe() const { return impl_->description; }
int32_t Tokenizer::bos_token() const { return impl_->bos; }
int32_t Tokenizer::eos_token() const { return impl_->eos; }
int32_t Tokenizer::TokenToId(std::string_view surface) const { return impl_->TokenToId(surface); }

}  // namespace sieve
