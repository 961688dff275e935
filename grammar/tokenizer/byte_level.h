// The GPT-2 byte-to-unicode map that byte-level BPE vocabularies spell their tokens in.
//
// Every byte gets a printable code point: the bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF
// stand for themselves; the other 68 bytes (controls, space, DEL, U+0080..U+00A0, U+00AD) take
// U+0100, U+0101, ... in increasing byte order (so ' ' is U+0120 'Ġ' and '\n' is U+010A 'Ċ').
// The map is a bijection between the 256 bytes and 256 code points below U+0144; the tables are
// built at compile time.
#ifndef SIEVE_GRAMMAR_TOKENIZER_BYTE_LEVEL_H_
#define SIEVE_GRAMMAR_TOKENIZER_BYTE_LEVEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sieve::tokenizer_internal {

inline constexpr char32_t kByteLevelLimit = 0x144;  // every mapped code point is below this

struct ByteLevelTables {
  std::array<char16_t, 256> byte_to_cp{};
  std::array<int16_t, kByteLevelLimit> cp_to_byte{};  // -1 where no byte maps
};

constexpr ByteLevelTables MakeByteLevelTables() {
  ByteLevelTables t;
  for (auto& v : t.cp_to_byte) v = -1;
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const int cp = self ? b : 256 + next++;
    t.byte_to_cp[b] = static_cast<char16_t>(cp);
    t.cp_to_byte[cp] = static_cast<int16_t>(b);
  }
  return t;
}

inline constexpr ByteLevelTables kByteLevel = MakeByteLevelTables();

// Appends the raw bytes a byte-level surface string stands for. Returns false (leaving `out`
// partly written) when some character is not in the map.
inline bool ByteLevelDecode(std::string_view surface, std::string* out) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(surface.data());
  const size_t n = surface.size();
  size_t i = 0;
  while (i < n) {
    char32_t cp;
    if (p[i] < 0x80) {
      cp = p[i];
      i += 1;
    } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
      cp = (static_cast<char32_t>(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
      i += 2;
    } else {
      return false;  // 3- and 4-byte characters are never in the map
    }
    if (cp >= kByteLevelLimit || kByteLevel.cp_to_byte[cp] < 0) return false;
    out->push_back(static_cast<char>(kByteLevel.cp_to_byte[cp]));
  }
  return true;
}

// Appends the byte-level surface form of raw bytes.
inline void ByteLevelEncode(std::string_view bytes, std::string* out) {
  for (char ch : bytes) {
    const char32_t cp = kByteLevel.byte_to_cp[static_cast<uint8_t>(ch)];
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
}

}  // namespace sieve::tokenizer_internal

#endif  // SIEVE_GRAMMAR_TOKENIZER_BYTE_LEVEL_H_
